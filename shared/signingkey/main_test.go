package signingkey_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc"

	"github.com/jobhooks/jobhooks/shared/devtools/localsecretmanager"
	"github.com/jobhooks/jobhooks/shared/signingkey"
)

const googleProject = "jobhooks-test"

// One Secret Manager stand-in for the package; each test uses its own secret, so the call
// counters, keyed by secret id, never mix.
var (
	smClient *secretmanager.Client
	calls    sync.Map // "<secret id> <method>" -> *atomic.Int64
	seq      atomic.Int64
)

func TestMain(m *testing.M) { os.Exit(localsecretmanager.RunTests(m, count, &smClient)) }

func count(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	id := localsecretmanager.SecretID(req)
	method := info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]
	counter(id, method).Add(1)
	return handler(ctx, req)
}

func counter(secret, method string) *atomic.Int64 {
	n, _ := calls.LoadOrStore(secret+" "+method, new(atomic.Int64))
	return n.(*atomic.Int64)
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// source returns a Source on a fresh secret with a real-time-based settable clock.
func source(t *testing.T) (*signingkey.Source, string, *clock) {
	t.Helper()
	id := fmt.Sprintf("signing-%d", seq.Add(1))
	c := &clock{t: time.Now()}
	s, err := signingkey.New(smClient, googleProject, id, signingkey.Options{CacheTTL: 30 * time.Second, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, id, c
}

func disable(t *testing.T, secret, version string) {
	t.Helper()
	_, err := smClient.DisableSecretVersion(t.Context(), &secretmanagerpb.DisableSecretVersionRequest{
		Name: "projects/" + googleProject + "/secrets/" + secret + "/versions/" + version,
	})
	if err != nil {
		t.Fatal(err)
	}
}

func addPayload(t *testing.T, secret string, payload []byte) {
	t.Helper()
	_, err := smClient.AddSecretVersion(t.Context(), &secretmanagerpb.AddSecretVersionRequest{
		Parent:  "projects/" + googleProject + "/secrets/" + secret,
		Payload: &secretmanagerpb.SecretPayload{Data: payload},
	})
	if err != nil {
		t.Fatal(err)
	}
}
