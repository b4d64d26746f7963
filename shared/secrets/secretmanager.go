package secrets

import (
	"context"
	"fmt"
	"hash/crc32"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The Secret Manager steps every Jobhooks secret shares: the KEK here, and the signing key and
// its published public key set (shared/signingkey).

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EnsureSecret creates secret id in googleProject (automatic replication, labelled app=jobhooks
// and purpose) unless it exists. Two callers racing both succeed. Production gets its secrets
// from Terraform; tests, the local stack and the operator's scripts call this.
func EnsureSecret(ctx context.Context, client *secretmanager.Client, googleProject, id, purpose string) error {
	name := "projects/" + googleProject + "/secrets/" + id
	_, err := client.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: name})
	if status.Code(err) == codes.NotFound {
		_, err = client.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
			Parent:   "projects/" + googleProject,
			SecretId: id,
			Secret: &secretmanagerpb.Secret{
				Replication: &secretmanagerpb.Replication{
					Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}},
				},
				Labels: map[string]string{"app": "jobhooks", "purpose": purpose},
			},
		})
		if status.Code(err) == codes.AlreadyExists {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("secrets: ensure secret %s: %w", name, err)
	}
	return nil
}

// AddVersion adds data as the newest version of secret name ("projects/P/secrets/S") with its
// CRC32C, so that Secret Manager refuses a payload corrupted on the way.
func AddVersion(ctx context.Context, client *secretmanager.Client, name string, data []byte) (*secretmanagerpb.SecretVersion, error) {
	sum := int64(crc32.Checksum(data, castagnoli))
	v, err := client.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
		Parent:  name,
		Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &sum},
	})
	if err != nil {
		return nil, fmt.Errorf("secrets: add a version to %s: %w", name, err)
	}
	return v, nil
}

// Corrupted reports whether a payload read from Secret Manager fails its CRC32C: it was damaged
// on the way, and reading it again may help. A payload without a checksum is taken as it is.
func Corrupted(p *secretmanagerpb.SecretPayload) bool {
	if p == nil || p.DataCrc32C == nil {
		return false
	}
	return *p.DataCrc32C != int64(crc32.Checksum(p.Data, castagnoli))
}
