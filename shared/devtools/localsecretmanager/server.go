// Package localsecretmanager is a local stand-in for Google Cloud Secret Manager: a gRPC server of
// the real API (google.cloud.secretmanager.v1) that the real Go client talks to. Secret Manager has
// no official emulator; tests and the local stack use this one instead.
//
// It implements the calls Jobhooks needs — CreateSecret, GetSecret, AddSecretVersion,
// AccessSecretVersion, GetSecretVersion, ListSecretVersions, DisableSecretVersion,
// EnableSecretVersion and DestroySecretVersion — with the real API's semantics where code could
// notice a difference:
//
//   - `versions/latest` is the most recently created version whatever its state, as in the real
//     API: accessing it while the newest version is disabled or destroyed fails with
//     FailedPrecondition. Callers that want "the newest enabled version" must list versions.
//   - Access responses carry the concrete version name and a data_crc32c; a checksum sent with
//     AddSecretVersion is verified.
//   - Status codes: NotFound (missing secret or version), AlreadyExists (duplicate secret),
//     FailedPrecondition (disabled or destroyed version), InvalidArgument (malformed names and
//     requests), Aborted (stale etag).
//   - Lists are newest first.
//
// Resource names echo the project as the caller wrote it (the real API answers with the project
// number). IAM, regional secrets, aliases other than `latest`, rotation and expiry are not
// implemented; such calls answer Unimplemented.
//
// A Server is safe for concurrent use. With Options.StateFile set, every change is written to that
// file (mode 0600) before the call returns, and a restarted server continues from it.
package localsecretmanager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Options configures Start. The zero value is a fresh in-memory server on a free loopback port.
type Options struct {
	// Addr is the TCP address to listen on; default "127.0.0.1:0" (a free port).
	Addr string
	// StateFile, when set, is loaded at start (a missing file means an empty state) and rewritten
	// atomically after every change, so the local stack keeps its secrets between runs.
	StateFile string
	// Interceptor, when set, wraps every call. Tests use it to count calls or inject faults.
	Interceptor grpc.UnaryServerInterceptor
}

// Server is a running Secret Manager stand-in.
type Server struct {
	listener net.Listener
	grpc     *grpc.Server
	service  *service
	done     chan struct{}
}

// Start loads the state file (if any), listens and serves in the background until Close.
func Start(opts Options) (*Server, error) {
	svc := &service{stateFile: opts.StateFile, state: newState()}
	if opts.StateFile != "" {
		if err := svc.load(); err != nil {
			return nil, err
		}
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("localsecretmanager: listen on %s: %w", addr, err)
	}
	var serverOpts []grpc.ServerOption
	if opts.Interceptor != nil {
		serverOpts = append(serverOpts, grpc.UnaryInterceptor(opts.Interceptor))
	}
	s := &Server{listener: lis, grpc: grpc.NewServer(serverOpts...), service: svc, done: make(chan struct{})}
	secretmanagerpb.RegisterSecretManagerServiceServer(s.grpc, svc)
	go func() {
		defer close(s.done)
		_ = s.grpc.Serve(lis) // returns when Close stops the server
	}()
	return s, nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Close stops the server: calls in flight get up to two seconds to finish, then are cancelled.
// Every change already answered is in the state file. Close is safe to call more than once.
func (s *Server) Close() {
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		s.grpc.Stop()
	}
	<-s.done
}

// ClientOptions are the options that point the real Secret Manager client at a stand-in listening
// on addr: that endpoint, no credentials, plaintext gRPC.
//
//	client, err := secretmanager.NewClient(ctx, localsecretmanager.ClientOptions(srv.Addr())...)
func ClientOptions(addr string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithTelemetryDisabled(),
	}
}

// service holds the state behind one mutex: the stand-in serves tests and a developer's machine,
// where a single lock is simpler than anything finer and never the bottleneck.
type service struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer

	stateFile string

	mu        sync.Mutex
	state     *state
	lastSaved []byte // the state file's content, to roll back a change that could not be saved
}

// commit persists a change made under s.mu. If the state file cannot be written, the change is
// undone so that memory and file never disagree, and the call fails with Internal.
func (s *service) commit() error {
	if s.stateFile == "" {
		return nil
	}
	data, err := s.save()
	if err != nil {
		if rollbackErr := s.rollback(); rollbackErr != nil {
			err = errors.Join(err, rollbackErr)
		}
		return internalf("localsecretmanager: save state: %v", err)
	}
	s.lastSaved = data
	return nil
}

var _ secretmanagerpb.SecretManagerServiceServer = (*service)(nil)

// ctxErr turns a cancelled call into the status the client expects instead of doing the work.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return canceledf("%v", err)
	}
	return nil
}
