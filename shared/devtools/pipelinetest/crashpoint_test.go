package pipelinetest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	deliveryservice "github.com/jobhooks/jobhooks/shared/delivery"
	"github.com/jobhooks/jobhooks/shared/fanout"
	"github.com/jobhooks/jobhooks/shared/logging"
	"github.com/jobhooks/jobhooks/shared/pushmsg"
	"github.com/jobhooks/jobhooks/shared/sender"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
)

// A crash point is a step of Dispatch or Deliver at which the process dies. The handlers are
// the real ones, on a function instance of their own whose Firestore and Pub/Sub clients talk to
// the emulators through an interceptor: when the call matching the crash point is reached, the
// interceptor cancels the request's context and fails every later call of the instance, so
// nothing the dying handler still tries reaches Firestore, Pub/Sub or the endpoint (its POST
// uses the cancelled context). What is left behind is exactly the state a SIGKILL at that step
// leaves; the test then hands the same message to a fresh instance, as Pub/Sub redelivers it.

// timing says whether the crash happens before the matched call reaches the emulator or after
// it has completed.
type timing int

const (
	before timing = iota
	after
)

// crashPoint names the call at which the instance dies.
type crashPoint struct {
	// method is the gRPC method, e.g. methodCommit.
	method string
	// match picks the call among those of method; nil matches the first.
	match func(req any) bool
	when  timing
	// keep, for a Publish crashed after, forwards only the first keep messages of the
	// request: the process died with part of a batch out.
	keep int
}

const (
	methodCommit   = "/google.firestore.v1.Firestore/Commit"
	methodBatchGet = "/google.firestore.v1.Firestore/BatchGetDocuments"
	methodQuery    = "/google.firestore.v1.Firestore/RunQuery"
	methodPublish  = "/google.pubsub.v1.Publisher/Publish"
)

// errCrashed is what every call of a dead instance fails with. FailedPrecondition is not retried
// by the client libraries, so a dead instance stays quiet.
var errCrashed = status.Error(codes.FailedPrecondition, "test: the function instance crashed")

// process is one function instance as its own process: its own clients and caches, and maybe
// a crash point.
type process struct {
	stack     *Stack
	point     *crashPoint
	store     *store.Store
	publisher *topics.Publisher

	// ops counts what the instance asked of Firestore and Pub/Sub (ops_test.go).
	ops ops

	// skew is how far this instance's clock is from the stack's: instances' clocks differ.
	skew time.Duration

	mu        sync.Mutex
	faults    []*fault // faults_test.go
	crashed   bool
	cancel    context.CancelFunc
	published int // messages the crash point's Publish let through
}

// newProcess starts a function instance on s's emulators that dies at point (nil: never).
func newProcess(t *testing.T, s *Stack, point *crashPoint) *process {
	t.Helper()
	ctx := context.Background()
	proc := &process{stack: s, point: point}
	dial := func(env string, creds credentials.PerRPCCredentials) *grpc.ClientConn {
		opts := []grpc.DialOption{
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithChainUnaryInterceptor(proc.unary),
			grpc.WithChainStreamInterceptor(proc.stream),
		}
		if creds != nil {
			opts = append(opts, grpc.WithPerRPCCredentials(creds))
		}
		conn, err := grpc.NewClient(os.Getenv(env), opts...)
		if err != nil {
			t.Fatalf("dial %s: %v", env, err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	fs, err := firestore.NewClientWithDatabase(ctx, s.Config.GoogleProject, s.Config.FirestoreDatabase,
		option.WithGRPCConn(dial("FIRESTORE_EMULATOR_HOST", emulatorOwner{})))
	if err != nil {
		t.Fatalf("firestore client: %v", err)
	}
	ps, err := pubsub.NewClient(ctx, s.Config.GoogleProject, option.WithGRPCConn(dial("PUBSUB_EMULATOR_HOST", nil)))
	if err != nil {
		t.Fatalf("pubsub client: %v", err)
	}
	proc.store = store.New(fs, s.Config.RecordTTL)
	proc.publisher = topics.NewPublisher(ps, s.Config.JobEventsTopic, s.Config.RequestsTopic, s.Config.DeliveriesTopic, s.Config.WaitingTopic, s.Config.DeadLetterTopic)
	// A crashed instance's publisher is never stopped: a dead process flushes nothing.
	t.Cleanup(func() {
		if !proc.isCrashed() {
			proc.publisher.Stop()
		}
	})
	return proc
}

func (proc *process) logger() *slog.Logger {
	return logging.NewForProject(Logs.Writer(), slog.LevelDebug, proc.stack.Config.GoogleProject)
}

// deliver is Deliver's service on this instance, with the stack's clock.
func (proc *process) deliver() *deliveryservice.Service {
	return deliveryservice.New(proc.stack.Config, deliveryservice.Deps{
		Store: proc.store, Publisher: proc.publisher, Keyring: proc.stack.Keyring, Log: proc.logger(), Now: proc.now,
		Sender: sender.New(sender.Options{Timeout: proc.stack.Config.AttemptTimeout, AllowInsecureTargets: true}),
	})
}

// dispatch is Dispatch's service on this instance, with the stack's clock.
func (proc *process) dispatch() *fanout.Service {
	return fanout.New(proc.stack.Config, fanout.Deps{Store: proc.store, Publisher: proc.publisher, Delivery: proc.deliver(), Log: proc.logger(), Now: proc.now})
}

// now is the instance's clock: the stack's, off by the instance's skew.
func (proc *process) now() time.Time { return proc.stack.Clock.Now().Add(proc.skew) }

// handle runs one push of m through fn, as the function's HTTP entry point would, and returns
// the handler's result (meaningless when the instance crashed: Pub/Sub saw no ack either way).
func (proc *process) handle(fn pushmsg.HandlerFunc, m pushmsg.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	proc.mu.Lock()
	proc.cancel = cancel
	proc.mu.Unlock()
	return fn(ctx, m)
}

func (proc *process) isCrashed() bool {
	proc.mu.Lock()
	defer proc.mu.Unlock()
	return proc.crashed
}

// publishedBeforeCrash is how many messages the crash point's Publish let through.
func (proc *process) publishedBeforeCrash() int {
	proc.mu.Lock()
	defer proc.mu.Unlock()
	return proc.published
}

// die kills the instance: the running request's context is cancelled, and later calls fail.
func (proc *process) die() {
	proc.mu.Lock()
	defer proc.mu.Unlock()
	proc.crashed = true
	if proc.cancel != nil {
		proc.cancel()
	}
}

// take reports whether call (method, req) at this timing is the crash point. An instance dies
// once; after that every call fails.
func (proc *process) take(method string, req any, when timing) (crashPoint, bool) {
	proc.mu.Lock()
	defer proc.mu.Unlock()
	p := proc.point
	if proc.crashed || p == nil || p.method != method || p.when != when || (p.match != nil && !p.match(req)) {
		return crashPoint{}, false
	}
	proc.point = nil
	return *p, true
}

func (proc *process) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if proc.isCrashed() {
		return errCrashed
	}
	proc.ops.request(method, req)
	if _, ok := proc.take(method, req, before); ok {
		proc.die()
		return errCrashed
	}
	if err := proc.faultOf(method, req, before); err != nil {
		return err
	}
	p, ok := proc.take(method, req, after)
	if !ok {
		err := invoke(ctx, method, req, reply, cc, opts...)
		if err == nil {
			err = proc.faultOf(method, req, after)
		}
		return err
	}
	if pr, isPublish := req.(*pubsubpb.PublishRequest); isPublish && p.keep > 0 && p.keep < len(pr.Messages) {
		req = &pubsubpb.PublishRequest{Topic: pr.Topic, Messages: pr.Messages[:p.keep]}
	}
	err := invoke(ctx, method, req, reply, cc, opts...)
	if pr, isPublish := req.(*pubsubpb.PublishRequest); isPublish && err == nil {
		proc.mu.Lock()
		proc.published += len(pr.Messages)
		proc.mu.Unlock()
	}
	proc.die()
	return errCrashed
}

// stream intercepts Firestore's streaming reads. A read crashed after dies once the stream is
// complete, so the handler has the documents in hand when its process goes.
func (proc *process) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if proc.isCrashed() {
		return nil, errCrashed
	}
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &crashStream{ClientStream: cs, proc: proc, method: method}, nil
}

type crashStream struct {
	grpc.ClientStream
	proc   *process
	method string
	req    any
	docs   int // documents a query returned
}

func (s *crashStream) SendMsg(m any) error {
	s.req = m
	s.proc.ops.request(s.method, m)
	if _, ok := s.proc.take(s.method, m, before); ok {
		s.proc.die()
		return errCrashed
	}
	if err := s.proc.faultOf(s.method, m, before); err != nil {
		return err
	}
	return s.ClientStream.SendMsg(m)
}

func (s *crashStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if r, ok := m.(*firestorepb.RunQueryResponse); ok && err == nil && r.Document != nil {
		s.docs++
	}
	if errors.Is(err, io.EOF) && s.method == methodQuery {
		s.proc.ops.queried(s.docs)
	}
	if errors.Is(err, io.EOF) {
		if _, ok := s.proc.take(s.method, s.req, after); ok {
			s.proc.die()
		}
	}
	return err
}

// Matchers of the calls the crash points name.

// readOf matches a document read whose path contains part (e.g. "/deliveries/").
func readOf(part string) func(any) bool {
	return func(req any) bool {
		r, ok := req.(*firestorepb.BatchGetDocumentsRequest)
		return ok && len(r.Documents) > 0 && strings.Contains(r.Documents[0], part)
	}
}

// writeOf matches a commit with a write to a document whose path contains part and, if field
// is set, whose update mask names field.
func writeOf(part, field string) func(any) bool {
	return func(req any) bool {
		r, ok := req.(*firestorepb.CommitRequest)
		if !ok {
			return false
		}
		for _, w := range r.Writes {
			if !strings.Contains(w.GetUpdate().GetName(), part) {
				continue
			}
			if field == "" {
				return true
			}
			for _, f := range w.GetUpdateMask().GetFieldPaths() {
				if f == field {
					return true
				}
			}
		}
		return false
	}
}

// createOf matches a commit that creates (create-if-absent) a document whose path contains part.
func createOf(part string) func(any) bool {
	return func(req any) bool {
		r, ok := req.(*firestorepb.CommitRequest)
		if !ok {
			return false
		}
		for _, w := range r.Writes {
			if strings.Contains(w.GetUpdate().GetName(), part) && w.GetCurrentDocument() != nil && !w.GetCurrentDocument().GetExists() {
				return true
			}
		}
		return false
	}
}

// publishTo matches a publish to the topic id.
func publishTo(topic string) func(any) bool {
	return func(req any) bool {
		r, ok := req.(*pubsubpb.PublishRequest)
		return ok && strings.HasSuffix(r.Topic, "/topics/"+topic)
	}
}
