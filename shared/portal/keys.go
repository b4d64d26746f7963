package portal

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobhooks/jobhooks/shared/cache"
)

// KeySize is the length of one key version: 256 bits for HMAC-SHA256.
const KeySize = 32

// DefaultRefreshInterval is the least time between two reads of the list of enabled versions
// that a kid missing from the cached list causes.
const DefaultRefreshInterval = 5 * time.Second

// versionPattern is a Secret Manager version number, the kid of a token.
var versionPattern = regexp.MustCompile(`^[1-9][0-9]{0,9}$`)

// errNoSuchVersion is a version that is not enabled (missing, disabled, destroyed) or not a key.
var errNoSuchVersion = errors.New("portal: no such enabled key version")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// key is one version of the portal key.
type key struct {
	version string
	secret  []byte
}

// Keys reads the portal key's versions from Secret Manager. Nothing a caller sends unsigned is
// expensive: a kid is looked up only if it is in the cached list of enabled versions, so a
// forged token's made-up kid costs no AccessSecretVersion call. A kid missing from the list
// has the list read again, at most once per RefreshInterval per instance: a version added by
// another instance (scripts/portal-key rotate) is found within seconds, and forged kids cost at
// most one list call per interval. The list and each payload are cached for at most the TTL, so
// a disabled version stops verifying within it. Safe for concurrent use.
type Keys struct {
	client     *secretmanager.Client
	project    string
	secretID   string
	secretName string
	ttl        time.Duration
	refresh    time.Duration
	now        func() time.Time
	payloads   *cache.TTL[string, key]

	mu      sync.Mutex
	enabled []string  // newest first
	read    time.Time // when enabled was read; zero: never, or to be read again
	tried   time.Time // the last list call, whether it succeeded or not
}

// KeysOptions tune Keys.
type KeysOptions struct {
	// CacheTTL bounds how long the list of enabled versions and each version are cached; at most
	// (and by default) 30 s.
	CacheTTL time.Duration
	// RefreshInterval bounds the list reads caused by kids the list lacks;
	// DefaultRefreshInterval when zero.
	RefreshInterval time.Duration
	// Now is the clock of the caches; time.Now when nil.
	Now func() time.Time
}

// NewKeys returns the keys of secret secretID in googleProject. Nothing is read yet.
func NewKeys(client *secretmanager.Client, googleProject, secretID string, o KeysOptions) *Keys {
	if o.CacheTTL <= 0 || o.CacheTTL > 30*time.Second {
		o.CacheTTL = 30 * time.Second
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Keys{
		client: client, project: googleProject, secretID: secretID,
		secretName: "projects/" + googleProject + "/secrets/" + secretID,
		ttl:        o.CacheTTL, refresh: o.RefreshInterval, now: o.Now,
		payloads: cache.New[string, key](o.CacheTTL, o.Now),
	}
}

// latest is the newest enabled version, which signs new links.
func (k *Keys) latest(ctx context.Context) (key, error) {
	versions, err := k.versions(ctx, "")
	if err != nil {
		return key{}, err
	}
	if len(versions) == 0 {
		return key{}, fmt.Errorf("portal: %s has no enabled version: %w", k.secretName, errNoSuchVersion)
	}
	return k.payload(ctx, versions[0])
}

// version is version n, which checks the links it signed: errNoSuchVersion, without reading
// any payload, unless n is in the list of enabled versions.
func (k *Keys) version(ctx context.Context, n string) (key, error) {
	if !versionPattern.MatchString(n) {
		return key{}, errNoSuchVersion
	}
	versions, err := k.versions(ctx, n)
	if err != nil {
		return key{}, err
	}
	if !slices.Contains(versions, n) {
		return key{}, errNoSuchVersion
	}
	return k.payload(ctx, n)
}

// versions is the cached list of enabled versions, read again when it is older than the TTL,
// or when it lacks want and the last list call is more than RefreshInterval old.
func (k *Keys) versions(ctx context.Context, want string) ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock() // one list call at a time: concurrent misses wait for its answer
	now := k.now()
	fresh := !k.read.IsZero() && now.Sub(k.read) < k.ttl
	if fresh && (want == "" || slices.Contains(k.enabled, want) || now.Sub(k.tried) < k.refresh) {
		return k.enabled, nil
	}
	if !fresh && !k.tried.IsZero() && now.Sub(k.tried) < k.refresh && k.read.Before(k.tried) {
		// The last list call failed moments ago: not again yet, or every request would make one.
		return nil, fmt.Errorf("portal: list %s: failed less than %s ago", k.secretName, k.refresh)
	}
	k.tried = now
	list, err := k.list(ctx)
	if err != nil && fresh {
		return k.enabled, nil // the list looked for want could not be read: want is not enabled
	}
	if err != nil {
		return nil, err
	}
	k.enabled, k.read = list, now
	return list, nil
}

// list reads the numbers of the enabled versions, newest first (as Secret Manager lists them).
func (k *Keys) list(ctx context.Context) ([]string, error) {
	it := k.client.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: k.secretName, Filter: "state:ENABLED"})
	var out []string
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("portal: list %s: %w", k.secretName, err)
		}
		if _, n, _ := strings.Cut(v.GetName(), "/versions/"); v.GetState() == secretmanagerpb.SecretVersion_ENABLED && versionPattern.MatchString(n) {
			out = append(out, n)
		}
	}
}

// payload reads version n (cached) and checks what the network and the operator could get wrong.
func (k *Keys) payload(ctx context.Context, n string) (key, error) {
	return k.payloads.Get(n, func() (key, error) {
		resp, err := k.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{
			Name: k.secretName + "/versions/" + n,
		})
		switch status.Code(err) {
		case codes.OK:
		case codes.NotFound, codes.FailedPrecondition:
			// Disabled or destroyed since the list was read.
			return key{}, fmt.Errorf("portal: %s/versions/%s: %w", k.secretName, n, errNoSuchVersion)
		default:
			return key{}, fmt.Errorf("portal: read %s/versions/%s: %w", k.secretName, n, err)
		}
		data := resp.GetPayload().GetData()
		if sum := resp.GetPayload().DataCrc32C; sum != nil && *sum != int64(crc32.Checksum(data, castagnoli)) {
			return key{}, fmt.Errorf("portal: version %s of %s arrived corrupted", n, k.secretName)
		}
		if _, got, _ := strings.Cut(resp.GetName(), "/versions/"); got != n || len(data) != KeySize {
			return key{}, fmt.Errorf("portal: version %s of %s is not a %d-byte key: %w", n, k.secretName, KeySize, errNoSuchVersion)
		}
		return key{version: n, secret: data}, nil
	})
}

// Ensure makes the secret usable: it creates it if missing and adds a key when no version is
// enabled. Idempotent. Production gets the secret from Terraform and its first version from
// scripts/secrets-init; tests and the local stack call this.
func (k *Keys) Ensure(ctx context.Context) error {
	_, err := k.client.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: k.secretName})
	if status.Code(err) == codes.NotFound {
		_, err = k.client.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
			Parent: "projects/" + k.project, SecretId: k.secretID,
			Secret: &secretmanagerpb.Secret{
				Replication: &secretmanagerpb.Replication{
					Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}},
				},
				Labels: map[string]string{"app": "jobhooks", "purpose": "portal-key"},
			},
		})
		if status.Code(err) == codes.AlreadyExists {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("portal: ensure secret %s: %w", k.secretName, err)
	}
	list, err := k.list(ctx)
	if err == nil && len(list) == 0 {
		_, err = k.Rotate(ctx)
	}
	return err
}

// Rotate adds a new random key version and returns its number: it signs new links from now on
// (other instances within their cache TTL); links signed earlier keep working until they expire
// or their version is disabled.
func (k *Keys) Rotate(ctx context.Context) (string, error) {
	data := make([]byte, KeySize)
	defer clear(data)
	_, _ = rand.Read(data)
	sum := int64(crc32.Checksum(data, castagnoli))
	v, err := k.client.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
		Parent: k.secretName, Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &sum},
	})
	if err != nil {
		return "", fmt.Errorf("portal: add a version to %s: %w", k.secretName, err)
	}
	k.mu.Lock()
	k.read = time.Time{} // this instance signs with it at once
	k.mu.Unlock()
	_, n, _ := strings.Cut(v.GetName(), "/versions/")
	return n, nil
}
