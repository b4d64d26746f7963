package localsecretmanager_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/jobhooks/jobhooks/shared/devtools/localsecretmanager"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const project = "projects/test-project"

// One server and one real client for the package; every test uses its own secret ids.
var (
	client    *secretmanager.Client
	calls     sync.Map // full method name -> *atomic.Int64
	secretSeq atomic.Int64
)

func TestMain(m *testing.M) { os.Exit(localsecretmanager.RunTests(m, countCalls, &client)) }

func countCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	n, _ := calls.LoadOrStore(info.FullMethod, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	return handler(ctx, req)
}

func automatic() *secretmanagerpb.Secret {
	return &secretmanagerpb.Secret{Replication: &secretmanagerpb.Replication{
		Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}},
	}}
}

// newSecret creates a fresh secret and returns its resource name.
func newSecret(t *testing.T, c *secretmanager.Client) string {
	t.Helper()
	id := fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "_"), secretSeq.Add(1))
	s, err := c.CreateSecret(t.Context(), &secretmanagerpb.CreateSecretRequest{Parent: project, SecretId: id, Secret: automatic()})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	return s.GetName()
}

func addVersion(t *testing.T, c *secretmanager.Client, secret, data string) string {
	t.Helper()
	v, err := c.AddSecretVersion(t.Context(), &secretmanagerpb.AddSecretVersionRequest{
		Parent: secret, Payload: &secretmanagerpb.SecretPayload{Data: []byte(data)},
	})
	if err != nil {
		t.Fatalf("AddSecretVersion: %v", err)
	}
	return v.GetName()
}

func access(t *testing.T, c *secretmanager.Client, name string) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	t.Helper()
	return c.AccessSecretVersion(t.Context(), &secretmanagerpb.AccessSecretVersionRequest{Name: name})
}

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("status = %v (%v), want %v", got, err, want)
	}
}
