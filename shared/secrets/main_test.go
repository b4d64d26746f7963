package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/jobhooks/jobhooks/shared/devtools/localsecretmanager"
	"github.com/jobhooks/jobhooks/shared/secrets"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	googleProject = "jobhooks-test"
	webhookName   = "projects/demo/webhooks/wh_1"
)

// One Secret Manager stand-in for the package. Each test uses its own KEK secret, so the counters
// and injected faults below, keyed by KEK secret id, never mix between tests.
var (
	smClient *secretmanager.Client
	accesses sync.Map // KEK secret id -> *atomic.Int64 of AccessSecretVersion calls
	faults   sync.Map // KEK secret id -> codes.Code every call about it is answered with
	kekSeq   atomic.Int64
)

func TestMain(m *testing.M) { os.Exit(localsecretmanager.RunTests(m, observe, &smClient)) }

func observe(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	id := localsecretmanager.SecretID(req)
	if code, ok := faults.Load(id); ok {
		return nil, status.Error(code.(codes.Code), "injected fault")
	}
	if strings.HasSuffix(info.FullMethod, "/AccessSecretVersion") {
		accessCount(id).Add(1)
	}
	return handler(ctx, req)
}

func accessCount(kekID string) *atomic.Int64 {
	n, _ := accesses.LoadOrStore(kekID, new(atomic.Int64))
	return n.(*atomic.Int64)
}

// fakeClock is a settable clock for cache expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newKEKID names a fresh KEK secret for one test.
func newKEKID() string { return fmt.Sprintf("kek-%d", kekSeq.Add(1)) }

// keyring returns a Keyring on kekID with a fake clock, the KEK ensured.
func keyring(t *testing.T, kekID string, opts secrets.KeyringOptions) (*secrets.Keyring, *fakeClock) {
	t.Helper()
	k, err := secrets.NewKeyring(smClient, googleProject, kekID, opts)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	secrets.SetClock(k, clock.Now)
	if err := k.EnsureKEK(t.Context()); err != nil {
		t.Fatalf("EnsureKEK: %v", err)
	}
	return k, clock
}

func versionName(kekID, version string) string {
	return "projects/" + googleProject + "/secrets/" + kekID + "/versions/" + version
}

func disable(t *testing.T, kekID, version string) {
	t.Helper()
	if _, err := smClient.DisableSecretVersion(t.Context(), &secretmanagerpb.DisableSecretVersionRequest{Name: versionName(kekID, version)}); err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	for _, other := range []error{secrets.ErrUnavailable, secrets.ErrKEKVersionUnusable, secrets.ErrDecrypt} {
		if other != want && errors.Is(err, other) {
			t.Fatalf("error %v matches both %v and %v", err, want, other)
		}
	}
}
