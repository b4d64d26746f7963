package portal

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"regexp"
	"strings"
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

// versionPattern is a Secret Manager version number, the kid of a token.
var versionPattern = regexp.MustCompile(`^[1-9][0-9]{0,9}$`)

// errNoSuchVersion is a version that is missing, disabled, destroyed or not a key.
var errNoSuchVersion = errors.New("portal: no such key version")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// key is one version of the portal key.
type key struct {
	version string
	secret  []byte
}

// Keys reads the portal key's versions from Secret Manager, each cached for at most the TTL.
type Keys struct {
	client     *secretmanager.Client
	project    string
	secretID   string
	secretName string
	versions   *cache.TTL[string, key]
}

// KeysOptions tune Keys.
type KeysOptions struct {
	// CacheTTL bounds how long a version (and which version is the newest) is cached.
	CacheTTL time.Duration
	// Now is the clock of the cache; time.Now when nil.
	Now func() time.Time
}

// NewKeys returns the keys of secret secretID in googleProject. Nothing is read yet.
func NewKeys(client *secretmanager.Client, googleProject, secretID string, o KeysOptions) *Keys {
	if o.CacheTTL <= 0 || o.CacheTTL > 30*time.Second {
		o.CacheTTL = 30 * time.Second
	}
	return &Keys{
		client: client, project: googleProject, secretID: secretID,
		secretName: "projects/" + googleProject + "/secrets/" + secretID,
		versions:   cache.New[string, key](o.CacheTTL, o.Now),
	}
}

// latest is the newest enabled version, which signs new links.
func (k *Keys) latest(ctx context.Context) (key, error) {
	return k.versions.Get("latest", func() (key, error) {
		v, err := k.read(ctx, "latest")
		if status.Code(errors.Unwrap(err)) != codes.FailedPrecondition {
			return v, err
		}
		// `latest` is the newest version whatever its state: an operator disabled it.
		n, err := k.newestEnabled(ctx)
		if err != nil {
			return key{}, err
		}
		return k.read(ctx, n)
	})
}

// version is one version by number, which checks the links it signed.
func (k *Keys) version(ctx context.Context, n string) (key, error) {
	return k.versions.Get(n, func() (key, error) {
		v, err := k.read(ctx, n)
		switch status.Code(errors.Unwrap(err)) {
		case codes.NotFound, codes.FailedPrecondition, codes.InvalidArgument:
			return key{}, errNoSuchVersion
		}
		if err == nil && v.version != n {
			return key{}, errNoSuchVersion
		}
		return v, err
	})
}

// read accesses one version and checks what the network and the operator could get wrong.
func (k *Keys) read(ctx context.Context, version string) (key, error) {
	resp, err := k.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{
		Name: k.secretName + "/versions/" + version,
	})
	if err != nil {
		return key{}, fmt.Errorf("portal: read %s/versions/%s: %w", k.secretName, version, err)
	}
	_, n, _ := strings.Cut(resp.GetName(), "/versions/")
	data := resp.GetPayload().GetData()
	if sum := resp.GetPayload().DataCrc32C; sum != nil && *sum != int64(crc32.Checksum(data, castagnoli)) {
		return key{}, fmt.Errorf("portal: version %s of %s arrived corrupted", n, k.secretName)
	}
	if !versionPattern.MatchString(n) || len(data) != KeySize {
		return key{}, fmt.Errorf("portal: version %q of %s is not a %d-byte key: %w", n, k.secretName, KeySize, errNoSuchVersion)
	}
	return key{version: n, secret: data}, nil
}

// newestEnabled returns the number of the newest enabled version; lists are newest first.
func (k *Keys) newestEnabled(ctx context.Context) (string, error) {
	it := k.client.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: k.secretName, Filter: "state:ENABLED"})
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return "", fmt.Errorf("portal: %s has no enabled version: %w", k.secretName, errNoSuchVersion)
		}
		if err != nil {
			return "", fmt.Errorf("portal: list %s: %w", k.secretName, err)
		}
		if _, n, _ := strings.Cut(v.GetName(), "/versions/"); v.GetState() == secretmanagerpb.SecretVersion_ENABLED && versionPattern.MatchString(n) {
			return n, nil
		}
	}
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
	if _, err = k.newestEnabled(ctx); errors.Is(err, errNoSuchVersion) {
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
	k.versions.Forget("latest")
	_, n, _ := strings.Cut(v.GetName(), "/versions/")
	return n, nil
}
