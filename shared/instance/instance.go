// Package instance holds what one function instance creates once and reuses for every request:
// its configuration, logger and Google Cloud clients, and the function's handler built from them
// (Lazy).
//
// Clients and handlers are created lazily, on the first request that needs them, so a binary
// starts and answers HTTP before it can reach Google Cloud; a failed creation is retried on the
// next request rather than remembered. With PUBSUB_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST or
// SECRETMANAGER_EMULATOR_HOST set, the clients talk to the local stand-ins.
package instance

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/logging"
	"github.com/jobhooks/jobhooks/shared/portal"
	"github.com/jobhooks/jobhooks/shared/secrets"
	"github.com/jobhooks/jobhooks/shared/sender"
	"github.com/jobhooks/jobhooks/shared/signingkey"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/tracing/export"
)

// SecretManagerHostEnv points the Secret Manager client at the local stand-in (no TLS, no auth).
const SecretManagerHostEnv = "SECRETMANAGER_EMULATOR_HOST"

// Instance is the per-instance state. Safe for concurrent use.
type Instance struct {
	Config config.Config
	Log    *slog.Logger
	// Now is the clock of the services built on this instance; tests move it forward.
	Now func() time.Time
	// Tracer receives the spans of the services built on this instance (shared/tracing); nil
	// records none, though log lines and messages still carry a job event's trace context.
	Tracer trace.TracerProvider

	mu        sync.Mutex
	store     *store.Store
	publisher *topics.Publisher
	keyring   *secrets.Keyring
	sender    *sender.Client

	secretManager *secretmanager.Client
	signingKeys   *signingkey.Source
	signers       *signingkey.Signers
	publicKeys    *signingkey.PublicSource
	portal        *portal.Issuer
}

// New returns an instance for cfg; nothing is connected yet.
func New(cfg config.Config, log *slog.Logger) *Instance {
	return &Instance{Config: cfg, Log: log, Now: time.Now}
}

// Store returns the Firestore store, connecting on first use.
func (in *Instance) Store(ctx context.Context) (*store.Store, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.store == nil {
		opts, err := clientOptions(APIFirestore)
		if err != nil {
			return nil, err
		}
		fs, err := firestore.NewClientWithDatabase(ctx, in.Config.GoogleProject, in.Config.FirestoreDatabase, opts...)
		if err != nil {
			return nil, fmt.Errorf("instance: firestore client: %w", err)
		}
		in.store = store.New(fs, in.Config.RecordTTL)
	}
	return in.store, nil
}

// Publisher returns the deliveries / dead-letter publisher, connecting on first use.
func (in *Instance) Publisher(ctx context.Context) (*topics.Publisher, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.publisher == nil {
		opts, err := clientOptions(APIPubSub)
		if err != nil {
			return nil, err
		}
		// The client outlives the request that created it: it must not use the request's context.
		c, err := pubsub.NewClient(context.WithoutCancel(ctx), in.Config.GoogleProject, opts...)
		if err != nil {
			return nil, fmt.Errorf("instance: pubsub client: %w", err)
		}
		in.publisher = topics.NewPublisher(c, in.Config.JobEventsTopic, in.Config.RequestsTopic, in.Config.DeliveriesTopic, in.Config.WaitingTopic, in.Config.DeadLetterTopic)
	}
	return in.publisher, nil
}

// Keyring returns the KEK keyring, connecting to Secret Manager on first use.
func (in *Instance) Keyring(ctx context.Context) (*secrets.Keyring, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.keyring == nil {
		c, err := in.secretManagerLocked(ctx)
		if err != nil {
			return nil, err
		}
		k, err := secrets.NewKeyring(c, in.Config.GoogleProject, in.Config.KEKSecret, secrets.KeyringOptions{CacheTTL: in.Config.CacheTTL})
		if err != nil {
			return nil, err
		}
		in.keyring = k
	}
	return in.keyring, nil
}

// secretManagerLocked returns the instance's one Secret Manager client; called with mu held.
func (in *Instance) secretManagerLocked(ctx context.Context) (*secretmanager.Client, error) {
	if in.secretManager == nil {
		// The client outlives the request that created it: it must not use the request's context.
		c, err := secretmanager.NewClient(context.WithoutCancel(ctx), SecretManagerOptions()...)
		if err != nil {
			return nil, fmt.Errorf("instance: secret manager client: %w", err)
		}
		in.secretManager = c
	}
	return in.secretManager, nil
}

// Sender returns the instance's HTTP client for deliveries.
func (in *Instance) Sender() *sender.Client {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.sender == nil {
		in.sender = sender.New(sender.Options{
			Timeout:              in.Config.AttemptTimeout,
			AllowInsecureTargets: in.Config.AllowInsecureTargets,
			UserAgent:            in.Config.UserAgent(),
		})
	}
	return in.sender
}

// The APIs whose clients ClientOptions may add to.
const (
	APIFirestore = "firestore"
	APIPubSub    = "pubsub"
)

// ClientOptions, when set, adds options to the Firestore and Pub/Sub clients the instance
// creates (api is APIFirestore or APIPubSub); the options come last, so they override the
// clients' own. Deployed functions leave it nil. The local stack's function host sets it, before
// it serves, to inject store and publish faults for the fault storm (shared/devtools/faults):
// a seam here keeps that code out of every deployed binary.
var ClientOptions func(api string) ([]option.ClientOption, error)

func clientOptions(api string) ([]option.ClientOption, error) {
	if ClientOptions == nil {
		return nil, nil
	}
	opts, err := ClientOptions(api)
	if err != nil {
		return nil, fmt.Errorf("instance: %s client options: %w", api, err)
	}
	return opts, nil
}

// SecretManagerOptions connect to the local stand-in when SECRETMANAGER_EMULATOR_HOST is set.
func SecretManagerOptions() []option.ClientOption {
	host := os.Getenv(SecretManagerHostEnv)
	if host == "" {
		return nil
	}
	// The stand-in speaks plain gRPC on loopback and checks no credentials. Written here, not
	// taken from the stand-in's package, so that no deployed binary links test code.
	return []option.ClientOption{
		option.WithEndpoint(host),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithTelemetryDisabled(),
	}
}

var (
	defaultOnce sync.Once
	defaultIn   *Instance
	defaultErr  error
)

// Default is the process's instance, configured from the environment once.
func Default() (*Instance, error) {
	defaultOnce.Do(func() {
		log := logging.Default()
		cfg, err := config.Load()
		if err != nil {
			defaultErr = err
			log.Error("configuration is invalid", "error", err.Error())
			return
		}
		in := New(cfg, logging.DefaultForProject(cfg.GoogleProject))
		tp, err := export.NewProvider(context.Background(), export.Options{
			Exporter: cfg.TraceExporter, SampleRatio: cfg.TraceSampleRatio, GoogleProject: cfg.GoogleProject,
			Dir: cfg.TraceDir, Service: serviceName(),
		})
		if err != nil {
			// Deliveries matter more than their traces: the instance runs untraced.
			log.Error("tracing is off", "error", err.Error())
		} else if tp != nil {
			in.Tracer = tp
			export.LogErrors(in.Log)
			FlushOnSIGTERM(tp, FlushGrace, in.Log)
		}
		defaultIn = in
	})
	return defaultIn, defaultErr
}

// serviceName is the function this process serves: FUNCTION_TARGET (set by the functions
// framework's buildpack and by scripts/dev), else Cloud Run's K_SERVICE.
func serviceName() string {
	for _, v := range []string{"FUNCTION_TARGET", "K_SERVICE"} {
		if s := os.Getenv(v); s != "" {
			return s
		}
	}
	return "function"
}
