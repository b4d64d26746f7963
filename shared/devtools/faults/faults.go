// Package faults injects store and publish failures into the real Firestore and Pub/Sub clients
// of a function process of the local stack, for the fault storm (shared/devtools/storm): a gRPC
// client interceptor fails a share of the calls that write — Firestore's Commit,
// BeginTransaction and Rollback, Pub/Sub's Publish — and, if asked, of the reads.
//
// Half of the failures come before the call (nothing was written), half after a call that
// succeeded: the write is made, its answer lost — the case a retry turns into a second write or
// a second message. The clients' own retries see every injected failure as they would a real one.
//
// Only the local stack's function host (shared/devtools/devstack/cmd/functions) links this
// package, and it installs nothing unless EnvFaults is set; deployed functions cannot link it
// (shared/devtools/packaging checks). Every failure is logged as one JSON line of the
// function's log (Logged), so the storm can count them and tie them to deliveries.
package faults

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/jobhooks/jobhooks/shared/instance"
	"github.com/jobhooks/jobhooks/shared/logging"
)

// EnvFaults asks a function process for faults, as Spec.String writes them, for example
// "functions=Dispatch+Deliver,store=0.03,publish=0.03,reads=0.01,seed=7". Only the storm sets it.
const EnvFaults = "JOBHOOKS_DEV_FAULTS"

// Spec is which processes fail, how often and from which seed.
type Spec struct {
	// Functions are the FUNCTION_TARGETs that get faults; the others none.
	Functions []string
	// Store is the share of Commit, BeginTransaction and Rollback calls that fail; Publish the
	// share of Publish calls; Reads the share of BatchGetDocuments and RunQuery streams that fail
	// before they start.
	Store, Publish, Reads float64
	// Seed seeds the choices; each process draws from its own stream of it (Injector).
	Seed uint64
}

// On reports whether the spec injects anything.
func (s Spec) On() bool { return len(s.Functions) > 0 && s.Store+s.Publish+s.Reads > 0 }

func (s Spec) String() string {
	return fmt.Sprintf("functions=%s,store=%g,publish=%g,reads=%g,seed=%d",
		strings.Join(s.Functions, "+"), s.Store, s.Publish, s.Reads, s.Seed)
}

// Parse reads a spec as String writes it; keys may be left out (zero).
func Parse(text string) (Spec, error) {
	var s Spec
	for field := range strings.SplitSeq(text, ",") {
		if field = strings.TrimSpace(field); field == "" {
			continue
		}
		key, value, _ := strings.Cut(field, "=")
		var err error
		switch key {
		case "functions":
			s.Functions = strings.FieldsFunc(value, func(r rune) bool { return r == '+' })
		case "store":
			s.Store, err = share(value)
		case "publish":
			s.Publish, err = share(value)
		case "reads":
			s.Reads, err = share(value)
		case "seed":
			s.Seed, err = strconv.ParseUint(value, 10, 64)
		default:
			err = errors.New("unknown key")
		}
		if err != nil {
			return Spec{}, fmt.Errorf("faults: %s: %q: %v", EnvFaults, field, err)
		}
	}
	return s, nil
}

func share(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err == nil && (f < 0 || f > 1 || math.IsNaN(f)) {
		err = errors.New("not a share between 0 and 1")
	}
	return f, err
}

// Install reads EnvFaults and, if this process's FUNCTION_TARGET is among its functions, makes
// every Firestore and Pub/Sub client the instance creates fail as it asks
// (instance.ClientOptions). It logs what it installed. Call it before serving.
func Install() error {
	text := os.Getenv(EnvFaults)
	if text == "" {
		return nil
	}
	spec, err := Parse(text)
	if err != nil {
		return err
	}
	function := os.Getenv("FUNCTION_TARGET")
	if !spec.On() || !slices.Contains(spec.Functions, function) {
		return nil
	}
	log := logging.Default()
	inj := NewInjector(spec, stream(function, os.Getpid()), log)
	instance.ClientOptions = inj.ClientOptions
	log.Warn("fault injection on: this process's store and publish calls fail on purpose", "function", function,
		"store", spec.Store, "publish", spec.Publish, "reads", spec.Reads, "seed", spec.Seed, "stream", inj.stream)
	return nil
}

// stream tells apart the processes that draw from one seed: a function's restart draws anew.
func stream(function string, pid int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(function))
	return h.Sum64() ^ uint64(pid)
}

// ClientOptions are the options that route a client's calls through the injector: for
// instance.ClientOptions.
func (in *Injector) ClientOptions(api string) ([]option.ClientOption, error) {
	interceptors := []grpc.DialOption{grpc.WithChainUnaryInterceptor(in.Unary), grpc.WithChainStreamInterceptor(in.Stream)}
	host := os.Getenv("FIRESTORE_EMULATOR_HOST")
	if api != instance.APIFirestore || host == "" {
		return []option.ClientOption{option.WithGRPCDialOption(interceptors[0]), option.WithGRPCDialOption(interceptors[1])}, nil
	}
	// With the emulator, the Firestore client dials a connection of its own and ignores dial
	// options; this one replaces it, dialled as the client does (plain text, the emulator's
	// owner credentials, no message size limit) with the interceptors added.
	conn, err := grpc.NewClient(host, append(interceptors,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)))...)
	if err != nil {
		return nil, fmt.Errorf("faults: dial the Firestore emulator at %s: %w", host, err)
	}
	return []option.ClientOption{option.WithGRPCConn(conn)}, nil
}

// emulatorOwner is what the Firestore client sends the emulator: admin rights, no rules.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorOwner) RequireTransportSecurity() bool { return false }
