package localsecretmanager_test

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobhooks/jobhooks/shared/devtools/localsecretmanager"
)

func TestCreateSecret_ThenGetSecret(t *testing.T) {
	ctx := t.Context()
	req := &secretmanagerpb.CreateSecretRequest{Parent: project, SecretId: "created-" + fmt.Sprint(secretSeq.Add(1)), Secret: automatic()}
	req.Secret.Labels = map[string]string{"app": "jobhooks"}
	created, err := client.CreateSecret(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if want := project + "/secrets/" + req.SecretId; created.GetName() != want {
		t.Fatalf("name = %q, want %q", created.GetName(), want)
	}
	got, err := client.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: created.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetLabels()["app"] != "jobhooks" || got.GetReplication().GetAutomatic() == nil || got.GetCreateTime() == nil {
		t.Fatalf("GetSecret = %v", got)
	}

	_, err = client.CreateSecret(ctx, req)
	wantCode(t, err, codes.AlreadyExists)
}

func TestCreateSecret_RejectsBadRequests(t *testing.T) {
	for name, req := range map[string]*secretmanagerpb.CreateSecretRequest{
		"no replication": {Parent: project, SecretId: "no-replication", Secret: &secretmanagerpb.Secret{}},
		"bad secret id":  {Parent: project, SecretId: "has/slash", Secret: automatic()},
		"bad parent":     {Parent: "test-project", SecretId: "ok", Secret: automatic()},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := client.CreateSecret(t.Context(), req)
			wantCode(t, err, codes.InvalidArgument)
		})
	}
}

func TestGetSecret_MissingIsNotFound(t *testing.T) {
	_, err := client.GetSecret(t.Context(), &secretmanagerpb.GetSecretRequest{Name: project + "/secrets/never-created"})
	wantCode(t, err, codes.NotFound)
}

func TestAccessSecretVersion_ReturnsDataConcreteNameAndChecksum(t *testing.T) {
	secret := newSecret(t, client)
	v1 := addVersion(t, client, secret, "first")
	v2 := addVersion(t, client, secret, "second")
	if v1 != secret+"/versions/1" || v2 != secret+"/versions/2" {
		t.Fatalf("version names = %q, %q", v1, v2)
	}

	for name, want := range map[string]struct{ name, data string }{
		v1:                          {v1, "first"},
		v2:                          {v2, "second"},
		secret + "/versions/latest": {v2, "second"},
	} {
		resp, err := access(t, client, name)
		if err != nil {
			t.Fatalf("access %s: %v", name, err)
		}
		if resp.GetName() != want.name || string(resp.GetPayload().GetData()) != want.data {
			t.Fatalf("access %s = %q %q, want %q %q", name, resp.GetName(), resp.GetPayload().GetData(), want.name, want.data)
		}
		sum := crc32.Checksum([]byte(want.data), crc32.MakeTable(crc32.Castagnoli))
		if resp.GetPayload().DataCrc32C == nil || resp.GetPayload().GetDataCrc32C() != int64(sum) {
			t.Fatalf("access %s: data_crc32c = %v, want %d", name, resp.GetPayload().DataCrc32C, sum)
		}
	}
}

func TestAddSecretVersion_VerifiesClientChecksum(t *testing.T) {
	secret := newSecret(t, client)
	data := []byte("payload")
	good := int64(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	bad := good + 1

	_, err := client.AddSecretVersion(t.Context(), &secretmanagerpb.AddSecretVersionRequest{
		Parent: secret, Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &bad},
	})
	wantCode(t, err, codes.InvalidArgument)

	v, err := client.AddSecretVersion(t.Context(), &secretmanagerpb.AddSecretVersionRequest{
		Parent: secret, Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &good},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !v.GetClientSpecifiedPayloadChecksum() || v.GetName() != secret+"/versions/1" {
		t.Fatalf("AddSecretVersion = %v; the rejected payload must not have become version 1", v)
	}
}

func TestAddSecretVersion_RejectsMissingSecretAndOversizedPayload(t *testing.T) {
	_, err := client.AddSecretVersion(t.Context(), &secretmanagerpb.AddSecretVersionRequest{
		Parent: project + "/secrets/never-created", Payload: &secretmanagerpb.SecretPayload{Data: []byte("x")},
	})
	wantCode(t, err, codes.NotFound)

	_, err = client.AddSecretVersion(t.Context(), &secretmanagerpb.AddSecretVersionRequest{
		Parent: newSecret(t, client), Payload: &secretmanagerpb.SecretPayload{Data: make([]byte, 64<<10+1)},
	})
	wantCode(t, err, codes.InvalidArgument)
}

func TestLatest_IsNewestVersionEvenWhenDisabled(t *testing.T) {
	// The real API resolves `latest` to the newest version whatever its state; a stand-in that
	// skipped disabled versions would let code pass here and fail in production.
	secret := newSecret(t, client)
	v1 := addVersion(t, client, secret, "one")
	v2 := addVersion(t, client, secret, "two")
	if _, err := client.DisableSecretVersion(t.Context(), &secretmanagerpb.DisableSecretVersionRequest{Name: v2}); err != nil {
		t.Fatal(err)
	}

	_, err := access(t, client, secret+"/versions/latest")
	wantCode(t, err, codes.FailedPrecondition)
	if !strings.Contains(err.Error(), v2) {
		t.Fatalf("error %q should name the concrete version %s", err, v2)
	}
	meta, err := client.GetSecretVersion(t.Context(), &secretmanagerpb.GetSecretVersionRequest{Name: secret + "/versions/latest"})
	if err != nil || meta.GetName() != v2 || meta.GetState() != secretmanagerpb.SecretVersion_DISABLED {
		t.Fatalf("GetSecretVersion(latest) = %v, %v; want %s DISABLED", meta, err, v2)
	}
	if resp, err := access(t, client, v1); err != nil || string(resp.GetPayload().GetData()) != "one" {
		t.Fatalf("access %s = %v, %v", v1, resp, err)
	}
}

func TestDisableEnable_ControlsAccess(t *testing.T) {
	secret := newSecret(t, client)
	v1 := addVersion(t, client, secret, "one")

	disabled, err := client.DisableSecretVersion(t.Context(), &secretmanagerpb.DisableSecretVersionRequest{Name: v1})
	if err != nil || disabled.GetState() != secretmanagerpb.SecretVersion_DISABLED {
		t.Fatalf("Disable = %v, %v", disabled, err)
	}
	_, err = access(t, client, v1)
	wantCode(t, err, codes.FailedPrecondition)

	enabled, err := client.EnableSecretVersion(t.Context(), &secretmanagerpb.EnableSecretVersionRequest{Name: v1})
	if err != nil || enabled.GetState() != secretmanagerpb.SecretVersion_ENABLED {
		t.Fatalf("Enable = %v, %v", enabled, err)
	}
	if _, err := access(t, client, v1); err != nil {
		t.Fatalf("access after enable: %v", err)
	}
}

func TestDestroy_IsFinal(t *testing.T) {
	secret := newSecret(t, client)
	v1 := addVersion(t, client, secret, "one")

	destroyed, err := client.DestroySecretVersion(t.Context(), &secretmanagerpb.DestroySecretVersionRequest{Name: v1})
	if err != nil || destroyed.GetState() != secretmanagerpb.SecretVersion_DESTROYED || destroyed.GetDestroyTime() == nil {
		t.Fatalf("Destroy = %v, %v", destroyed, err)
	}
	_, err = access(t, client, v1)
	wantCode(t, err, codes.FailedPrecondition)
	_, err = client.EnableSecretVersion(t.Context(), &secretmanagerpb.EnableSecretVersionRequest{Name: v1})
	wantCode(t, err, codes.FailedPrecondition)
	_, err = client.DestroySecretVersion(t.Context(), &secretmanagerpb.DestroySecretVersionRequest{Name: v1})
	wantCode(t, err, codes.FailedPrecondition)

	meta, err := client.GetSecretVersion(t.Context(), &secretmanagerpb.GetSecretVersionRequest{Name: v1})
	if err != nil || meta.GetState() != secretmanagerpb.SecretVersion_DESTROYED {
		t.Fatalf("GetSecretVersion = %v, %v", meta, err)
	}
}

func TestTransition_StaleEtagIsAborted(t *testing.T) {
	secret := newSecret(t, client)
	v1 := addVersion(t, client, secret, "one")
	meta, err := client.GetSecretVersion(t.Context(), &secretmanagerpb.GetSecretVersionRequest{Name: v1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.DisableSecretVersion(t.Context(), &secretmanagerpb.DisableSecretVersionRequest{Name: v1, Etag: meta.GetEtag()}); err != nil {
		t.Fatalf("disable with current etag: %v", err)
	}
	_, err = client.EnableSecretVersion(t.Context(), &secretmanagerpb.EnableSecretVersionRequest{Name: v1, Etag: meta.GetEtag()})
	wantCode(t, err, codes.Aborted)
}

func TestListSecretVersions_NewestFirstPagedAndFiltered(t *testing.T) {
	secret := newSecret(t, client)
	for i := 1; i <= 5; i++ {
		addVersion(t, client, secret, fmt.Sprint(i))
	}
	if _, err := client.DisableSecretVersion(t.Context(), &secretmanagerpb.DisableSecretVersionRequest{Name: secret + "/versions/4"}); err != nil {
		t.Fatal(err)
	}

	list := func(filter string) []string {
		it := client.ListSecretVersions(t.Context(), &secretmanagerpb.ListSecretVersionsRequest{Parent: secret, PageSize: 2, Filter: filter})
		var got []string
		for {
			v, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return got
			}
			if err != nil {
				t.Fatalf("list %q: %v", filter, err)
			}
			if len(got) == 0 && it.Response.(*secretmanagerpb.ListSecretVersionsResponse).GetNextPageToken() == "" {
				t.Fatalf("list %q: page_size 2 should leave a next page", filter)
			}
			got = append(got, strings.TrimPrefix(v.GetName(), secret+"/versions/")+":"+v.GetState().String())
		}
	}
	if got, want := strings.Join(list(""), " "), "5:ENABLED 4:DISABLED 3:ENABLED 2:ENABLED 1:ENABLED"; got != want {
		t.Fatalf("list = %s, want %s", got, want)
	}
	if got, want := strings.Join(list("state:ENABLED"), " "), "5:ENABLED 3:ENABLED 2:ENABLED 1:ENABLED"; got != want {
		t.Fatalf("list state:ENABLED = %s, want %s", got, want)
	}
	it := client.ListSecretVersions(t.Context(), &secretmanagerpb.ListSecretVersionsRequest{Parent: secret, Filter: "name:foo"})
	_, err := it.Next()
	wantCode(t, err, codes.InvalidArgument)
}

func TestVersionNames_MalformedIsInvalidArgumentUnknownIsNotFound(t *testing.T) {
	secret := newSecret(t, client)
	addVersion(t, client, secret, "one")
	for name, want := range map[string]codes.Code{
		"not-a-name":                            codes.InvalidArgument,
		project + "/secrets/x/y":                codes.InvalidArgument,
		secret + "/versions/":                   codes.InvalidArgument,
		secret + "/versions/a.b":                codes.InvalidArgument,
		secret + "/versions/2":                  codes.NotFound,
		secret + "/versions/0":                  codes.NotFound,
		secret + "/versions/an-alias":           codes.NotFound,
		project + "/secrets/missing/versions/1": codes.NotFound,
	} {
		_, err := access(t, client, name)
		if got := status.Code(err); got != want {
			t.Errorf("access %q: %v, want %v", name, err, want)
		}
	}
	// Changing a version needs its number: the real API does not take aliases there.
	_, err := client.DisableSecretVersion(t.Context(), &secretmanagerpb.DisableSecretVersionRequest{Name: secret + "/versions/latest"})
	wantCode(t, err, codes.InvalidArgument)
}

func TestConcurrentAdds_GetDistinctVersions(t *testing.T) {
	secret := newSecret(t, client)
	const n = 20
	var wg sync.WaitGroup
	names := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			v, err := client.AddSecretVersion(t.Context(), &secretmanagerpb.AddSecretVersionRequest{
				Parent: secret, Payload: &secretmanagerpb.SecretPayload{Data: []byte(fmt.Sprint(i))},
			})
			if err != nil {
				t.Error(err)
				return
			}
			names <- v.GetName()
		})
	}
	wg.Wait()
	close(names)
	seen := map[string]bool{}
	for name := range names {
		seen[name] = true
	}
	for i := 1; i <= n; i++ {
		if !seen[fmt.Sprintf("%s/versions/%d", secret, i)] {
			t.Fatalf("version %d missing; got %v", i, seen)
		}
	}
}

func TestInterceptor_SeesEveryCall(t *testing.T) {
	n, _ := calls.LoadOrStore("/google.cloud.secretmanager.v1.SecretManagerService/GetSecret", new(atomic.Int64))
	before := n.(*atomic.Int64).Load()
	_, _ = client.GetSecret(t.Context(), &secretmanagerpb.GetSecretRequest{Name: project + "/secrets/whatever"})
	if got := n.(*atomic.Int64).Load() - before; got != 1 {
		t.Fatalf("interceptor saw %d GetSecret calls, want 1", got)
	}
}

func TestStateFile_KeepsSecretsAcrossRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secretmanager.json")
	start := func() (*localsecretmanager.Server, *secretmanager.Client) {
		srv, err := localsecretmanager.Start(localsecretmanager.Options{StateFile: file})
		if err != nil {
			t.Fatal(err)
		}
		c, err := secretmanager.NewClient(t.Context(), localsecretmanager.ClientOptions(srv.Addr())...)
		if err != nil {
			t.Fatal(err)
		}
		return srv, c
	}

	srv, c := start()
	secret := newSecret(t, c)
	v1 := addVersion(t, c, secret, "kept")
	v2 := addVersion(t, c, secret, "disabled")
	if _, err := c.DisableSecretVersion(t.Context(), &secretmanagerpb.DisableSecretVersionRequest{Name: v2}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	srv.Close()

	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("state file mode = %v, want 0600: it holds secret payloads", perm)
	}

	srv, c = start()
	defer srv.Close()
	defer c.Close()
	resp, err := access(t, c, v1)
	if err != nil || string(resp.GetPayload().GetData()) != "kept" {
		t.Fatalf("after restart, access %s = %v, %v", v1, resp, err)
	}
	_, err = access(t, c, v2)
	wantCode(t, err, codes.FailedPrecondition)
	if v3 := addVersion(t, c, secret, "new"); v3 != secret+"/versions/3" {
		t.Fatalf("after restart, new version = %s, want versions/3", v3)
	}
}

func TestStateFile_CorruptFileFailsStart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secretmanager.json")
	if err := os.WriteFile(file, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if srv, err := localsecretmanager.Start(localsecretmanager.Options{StateFile: file}); err == nil {
		srv.Close()
		t.Fatal("Start accepted a corrupt state file; it must refuse rather than start empty and overwrite it")
	}
}
