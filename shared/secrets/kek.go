package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// readLatest reads the newest enabled KEK version. Secret Manager's `latest` alias is the newest
// version whatever its state, so when an operator has disabled a bad new version, `latest` fails
// with FailedPrecondition; the keyring then lists the versions for the newest enabled one. That
// list needs secretmanager.versions.list on the KEK secret (roles/secretmanager.viewer), which
// roles/secretmanager.secretAccessor lacks; without it Seal fails with ErrUnavailable while the
// newest version is disabled, and works again once it is re-enabled or a new version is added.
func (k *Keyring) readLatest(ctx context.Context) (*kek, error) {
	resp, err := k.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{
		Name: k.secretName + "/versions/latest",
	})
	if status.Code(err) == codes.FailedPrecondition {
		version, err := k.newestEnabled(ctx)
		if err != nil {
			return nil, err
		}
		return k.readVersion(ctx, version)
	}
	if err != nil {
		return nil, k.classify(err, "latest")
	}
	return k.useResponse(resp)
}

// readVersion reads one KEK version by number.
func (k *Keyring) readVersion(ctx context.Context, version string) (*kek, error) {
	resp, err := k.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{
		Name: k.secretName + "/versions/" + version,
	})
	if err != nil {
		return nil, k.classify(err, version)
	}
	e, err := k.useResponse(resp)
	if err == nil && e.version != version {
		return nil, fmt.Errorf("%w: asked Secret Manager for version %s of %s, got %s", ErrKEKVersionUnusable, version, k.secretName, e.version)
	}
	return e, err
}

// useResponse turns an access response into a ready cipher, checking what the network and the
// operator could have got wrong: the checksum and the key length.
func (k *Keyring) useResponse(resp *secretmanagerpb.AccessSecretVersionResponse) (*kek, error) {
	// The response names the version concretely (projects/{number}/secrets/{id}/versions/{n}),
	// also for `latest`; only the number is recorded, since the project appears as a number.
	_, version, _ := strings.Cut(resp.GetName(), "/versions/")
	if !versionPattern.MatchString(version) {
		return nil, fmt.Errorf("%w: Secret Manager answered for %s with the version name %q", ErrUnavailable, k.secretName, resp.GetName())
	}
	data := resp.GetPayload().GetData()
	defer clear(data)
	if Corrupted(resp.GetPayload()) {
		return nil, fmt.Errorf("%w: KEK version %s of %s arrived corrupted (checksum mismatch)", ErrUnavailable, version, k.secretName)
	}
	if len(data) != kekSize {
		return nil, fmt.Errorf("%w: KEK version %s of %s is %d bytes, want %d", ErrKEKVersionUnusable, version, k.secretName, len(data), kekSize)
	}
	block, err := aes.NewCipher(data)
	if err != nil {
		return nil, fmt.Errorf("%w: KEK version %s of %s: %w", ErrKEKVersionUnusable, version, k.secretName, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: KEK version %s of %s: %w", ErrKEKVersionUnusable, version, k.secretName, err)
	}
	return &kek{version: version, aead: aead, fetched: k.now()}, nil
}

// newestEnabled returns the number of the newest enabled version; lists are newest first.
func (k *Keyring) newestEnabled(ctx context.Context) (string, error) {
	it := k.client.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{
		Parent: k.secretName,
		Filter: "state:ENABLED",
	})
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return "", fmt.Errorf("%w: %s has no enabled version", ErrKEKVersionUnusable, k.secretName)
		}
		if err != nil {
			return "", k.classify(err, "")
		}
		if v.GetState() != secretmanagerpb.SecretVersion_ENABLED {
			continue
		}
		_, version, _ := strings.Cut(v.GetName(), "/versions/")
		if versionPattern.MatchString(version) {
			return version, nil
		}
	}
}

// classify sorts a Secret Manager error into the keyring's error types. Only an answer about the
// version itself (missing, disabled, destroyed, not addressable) is final; everything else,
// permission errors included (IAM can be fixed without touching the data), is worth retrying.
func (k *Keyring) classify(err error, version string) error {
	what := k.secretName
	if version != "" {
		what += "/versions/" + version
	}
	switch status.Code(err) {
	case codes.NotFound, codes.FailedPrecondition, codes.InvalidArgument:
		return fmt.Errorf("%w: %s: %w", ErrKEKVersionUnusable, what, err)
	default:
		return fmt.Errorf("%w: reading %s: %w", ErrUnavailable, what, err)
	}
}

// EnsureKEK makes the KEK secret usable: it creates the secret (automatic replication) if it is
// missing, and adds a random 32-byte version if none is enabled. It is idempotent; two instances
// racing may each add a version, which is harmless. Production gets its secret from Terraform;
// tests and the local stack call this.
func (k *Keyring) EnsureKEK(ctx context.Context) error {
	if err := EnsureSecret(ctx, k.client, k.googleProject, k.kekSecretID, "kek"); err != nil {
		return err
	}
	_, err := k.newestEnabled(ctx)
	if errors.Is(err, ErrKEKVersionUnusable) {
		_, err = k.RotateKEK(ctx)
	}
	return err
}

// RotateKEK adds a new random KEK version and returns its number. This Keyring seals with it from
// now on; other instances do within their cache TTL. Ciphertexts sealed with older versions keep
// opening while those versions stay enabled.
func (k *Keyring) RotateKEK(ctx context.Context) (string, error) {
	key := make([]byte, kekSize)
	defer clear(key)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	v, err := AddVersion(ctx, k.client, k.secretName, key)
	if err != nil {
		return "", err
	}
	_, version, _ := strings.Cut(v.GetName(), "/versions/")
	k.forgetLatest()
	return version, nil
}
