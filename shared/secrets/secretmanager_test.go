package secrets_test

import (
	"hash/crc32"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/jobhooks/jobhooks/shared/secrets"
)

func TestCorrupted_OnlyAPayloadWhoseChecksumDisagrees(t *testing.T) {
	data := []byte("a key")
	good := int64(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	bad := good + 1
	for _, c := range []struct {
		name    string
		payload *secretmanagerpb.SecretPayload
		want    bool
	}{
		{"its checksum", &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &good}, false},
		{"another checksum", &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &bad}, true},
		{"no checksum", &secretmanagerpb.SecretPayload{Data: data}, false},
		{"no payload", nil, false},
	} {
		if got := secrets.Corrupted(c.payload); got != c.want {
			t.Errorf("%s: Corrupted = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestEnsureSecret_CreatesOnceAndLeavesAnExistingSecretAlone(t *testing.T) {
	id := newKEKID()
	for range 2 {
		if err := secrets.EnsureSecret(t.Context(), smClient, googleProject, id, "kek"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := smClient.GetSecret(t.Context(), &secretmanagerpb.GetSecretRequest{Name: "projects/" + googleProject + "/secrets/" + id})
	if err != nil {
		t.Fatal(err)
	}
	if l := got.GetLabels(); l["app"] != "jobhooks" || l["purpose"] != "kek" {
		t.Errorf("labels %v, want app=jobhooks purpose=kek", l)
	}
}
