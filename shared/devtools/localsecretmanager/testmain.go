package localsecretmanager

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"google.golang.org/grpc"
)

// RunTests is the TestMain of a package tested against the stand-in: one server (with the
// optional interceptor, to count calls or inject faults) and one real client for the whole
// package, both stopped after the tests.
//
//	func TestMain(m *testing.M) { os.Exit(localsecretmanager.RunTests(m, observe, &client)) }
func RunTests(m *testing.M, interceptor grpc.UnaryServerInterceptor, client **secretmanager.Client) int {
	srv, err := Start(Options{Interceptor: interceptor})
	if err != nil {
		fmt.Fprintln(os.Stderr, "local secret manager:", err)
		return 1
	}
	defer srv.Close()
	c, err := secretmanager.NewClient(context.Background(), ClientOptions(srv.Addr())...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "secret manager client:", err)
		return 1
	}
	defer c.Close()
	*client = c
	return m.Run()
}

// SecretID is the secret id a request names (".../secrets/{id}[/versions/...]"), or "".
func SecretID(req any) string {
	var name string
	switch r := req.(type) {
	case interface{ GetName() string }:
		name = r.GetName()
	case interface{ GetParent() string }:
		name = r.GetParent()
	}
	_, rest, _ := strings.Cut(name, "/secrets/")
	id, _, _ := strings.Cut(rest, "/")
	return id
}
