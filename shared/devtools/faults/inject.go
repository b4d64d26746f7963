package faults

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The calls that fail, by gRPC method, and the share of the spec each takes.
const (
	methodCommit           = "/google.firestore.v1.Firestore/Commit"
	methodBeginTransaction = "/google.firestore.v1.Firestore/BeginTransaction"
	methodRollback         = "/google.firestore.v1.Firestore/Rollback"
	methodPublish          = "/google.pubsub.v1.Publisher/Publish"
	methodBatchGet         = "/google.firestore.v1.Firestore/BatchGetDocuments"
	methodRunQuery         = "/google.firestore.v1.Firestore/RunQuery"
)

// storeCodes are what a failing store call answers: the transient failures Firestore gives.
// The client retries some itself (Commit: Unavailable; BeginTransaction: Unavailable and
// DeadlineExceeded), and a transaction is run again on Aborted, so a commit that was made and
// answered Unavailable is committed a second time: refused (a create, a precondition) or
// written twice.
var storeCodes = []codes.Code{codes.Unavailable, codes.Aborted, codes.DeadlineExceeded}

// publishCodes: the Pub/Sub client retries Unavailable, Aborted and DeadlineExceeded on Publish
// itself, so after a publish that went out they make a second copy of the messages, never an
// error the caller sees. Unauthenticated (a token whose refresh failed) it does not retry: the
// caller sees its publish fail although the messages went out.
var publishCodes = []codes.Code{codes.Unavailable, codes.Aborted, codes.DeadlineExceeded, codes.Unauthenticated}

// Injector fails a share of the calls of one process's clients. Safe for concurrent use.
type Injector struct {
	spec   Spec
	stream uint64
	log    *slog.Logger
	mu     sync.Mutex
	rng    *rand.Rand
}

// NewInjector draws from stream of spec.Seed and logs every failure it injects to log.
func NewInjector(spec Spec, stream uint64, log *slog.Logger) *Injector {
	return &Injector{spec: spec, stream: stream, log: log, rng: rand.New(rand.NewPCG(spec.Seed, stream))}
}

// draw decides whether this call fails, with which code, and whether after the call.
func (in *Injector) draw(method string) (fail bool, code codes.Code, after bool) {
	rate, codeSet, afterAllowed := in.spec.Store, storeCodes, true
	switch method {
	case methodCommit, methodBeginTransaction, methodRollback:
	case methodPublish:
		rate, codeSet = in.spec.Publish, publishCodes
	case methodBatchGet, methodRunQuery:
		rate, afterAllowed = in.spec.Reads, false
	default:
		return false, codes.OK, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if rate <= 0 || in.rng.Float64() >= rate {
		return false, codes.OK, false
	}
	return true, codeSet[in.rng.IntN(len(codeSet))], afterAllowed && in.rng.IntN(2) == 0
}

// Unary is the interceptor of unary calls: Commit, BeginTransaction, Rollback, Publish.
func (in *Injector) Unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	fail, code, after := in.draw(method)
	if !fail {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	if after {
		if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
			return err // the call failed by itself: nothing to inject
		}
	}
	return in.inject(ctx, method, code, after, touched(req))
}

// Stream is the interceptor of streams: a read fails before it starts.
func (in *Injector) Stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if fail, code, _ := in.draw(method); fail {
		return nil, in.inject(ctx, method, code, false, nil)
	}
	return streamer(ctx, desc, cc, method, opts...)
}

func (in *Injector) inject(ctx context.Context, method string, code codes.Code, after bool, docs []string) error {
	call := method[strings.LastIndexByte(method, '/')+1:]
	in.log.WarnContext(ctx, Logged, "call", call, "code", code.String(), "after_call", after, "touched", docs)
	how := "before the call"
	if after {
		how = "after the call succeeded"
	}
	return status.Errorf(code, "fault injected %s (shared/devtools/faults)", how)
}

// touched names what a write was about, so that the storm can tie a failure to deliveries and
// events: the documents a commit writes (from "projects/"), the delivery ids of the tasks a
// publish carries (or their event ids).
func touched(req any) []string {
	var out []string
	switch r := req.(type) {
	case *firestorepb.CommitRequest:
		for _, w := range r.GetWrites() {
			name := w.GetUpdate().GetName()
			if name == "" {
				name = w.GetDelete()
			}
			if i := strings.Index(name, "/documents/"); i >= 0 {
				name = name[i+len("/documents/"):]
			}
			out = append(out, name)
		}
	case *pubsubpb.PublishRequest:
		for _, m := range r.GetMessages() {
			if id := m.GetAttributes()["delivery_id"]; id != "" {
				out = append(out, "delivery:"+id)
			} else if id := m.GetAttributes()["event_id"]; id != "" {
				out = append(out, "event:"+id)
			}
		}
	}
	return out
}
