package signingkey_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/jobhooks/jobhooks/shared/signingkey"
)

// publishing returns a Source that publishes to its own public secret, and a PublicSource of it.
func publishing(t *testing.T) (*signingkey.Source, *signingkey.PublicSource, string, *clock) {
	t.Helper()
	n := seq.Add(1)
	id, pubID := fmt.Sprintf("signing-%d", n), fmt.Sprintf("signing-%d-jwks", n)
	c := &clock{t: time.Now()}
	s, err := signingkey.New(smClient, googleProject, id, signingkey.Options{CacheTTL: 30 * time.Second, Now: c.Now, PublicSecretID: pubID})
	if err != nil {
		t.Fatal(err)
	}
	p, err := signingkey.NewPublic(smClient, googleProject, pubID, signingkey.Options{CacheTTL: 30 * time.Second, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, p, pubID, c
}

func kids(set *signingkey.PublicSet) string {
	var out []string
	for _, k := range set.JWKS.Keys {
		if !k.IsPublic() {
			out = append(out, "PRIVATE:"+k.KeyID)
			continue
		}
		out = append(out, k.KeyID)
	}
	return strings.Join(out, ",")
}

func TestPublish_EveryChangeOfTheKeysPublishesThePublicSetBesideThem(t *testing.T) {
	s, p, pubID, c := publishing(t)
	k1, err := s.Ensure(t.Context(), signingkey.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Keys(t.Context())
	if err != nil || kids(got) != k1.ID {
		t.Fatalf("after init: %v, %v; want %s", got, err, k1.ID)
	}
	// Ensure again with nothing changed adds no version of either secret.
	if _, err := s.Ensure(t.Context(), signingkey.EdDSA); err != nil {
		t.Fatal(err)
	}
	if n := counter(pubID, "AddSecretVersion").Load(); n != 1 {
		t.Errorf("%d public versions after an idle Ensure, want 1", n)
	}

	k2, err := s.Rotate(t.Context(), signingkey.RS256)
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(31 * time.Second)
	got, err = p.Keys(t.Context())
	if err != nil || kids(got) != k2.ID+","+k1.ID {
		t.Fatalf("after rotate: %s, %v; want %s,%s", kids(got), err, k2.ID, k1.ID)
	}

	if _, err := s.Retire(t.Context(), signingkey.RetireOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Advance(31 * time.Second)
	got, err = p.Keys(t.Context())
	if err != nil || kids(got) != k2.ID {
		t.Fatalf("after retire: %s, %v; want %s", kids(got), err, k2.ID)
	}
}

func TestPublicSource_RefusesAPrivateKeyAndReportsAMissingSet(t *testing.T) {
	_, p, pubID, _ := publishing(t)
	if _, err := p.Keys(t.Context()); !errors.Is(err, signingkey.ErrNoKey) {
		t.Fatalf("nothing published: err = %v, want ErrNoKey", err)
	}
	// Someone pastes the private JWK into the public secret: it is not served.
	priv, _ := signingkey.Generate(signingkey.EdDSA)
	k, _ := signingkey.FromPrivate(priv)
	jwk := k.PublicJWK()
	jwk.Key = priv
	raw, err := jwk.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := smClient.CreateSecret(t.Context(), newSecret(pubID)); err != nil {
		t.Fatal(err)
	}
	addPayload(t, pubID, []byte(`{"keys":[`+string(raw)+`]}`))
	if _, err := p.Keys(t.Context()); !errors.Is(err, signingkey.ErrBadKey) {
		t.Fatalf("private key published: err = %v, want ErrBadKey", err)
	}
}

func newSecret(id string) *secretmanagerpb.CreateSecretRequest {
	return &secretmanagerpb.CreateSecretRequest{
		Parent: "projects/" + googleProject, SecretId: id,
		Secret: &secretmanagerpb.Secret{Replication: &secretmanagerpb.Replication{
			Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}},
		}},
	}
}
