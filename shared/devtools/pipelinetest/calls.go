package pipelinetest

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Calls counts the calls the stacks' real clients make: Secret Manager calls as the local
// Secret Manager receives them, Firestore document reads as the instances' Firestore clients
// send them. Each count is of one Google project, hence of one stack: a test asks what its own
// stack cost (a forged token must cost no Secret Manager read, an unknown API key one store
// read per window).
var Calls = &calls{n: map[string]int{}}

type calls struct {
	mu sync.Mutex
	n  map[string]int
}

// SecretManager is how many calls of method (e.g. "AccessSecretVersion") named a resource of
// googleProject.
func (c *calls) SecretManager(googleProject, method string) int {
	return c.get("sm " + googleProject + " " + method)
}

// FirestoreReads is how many documents of collection (a top-level collection, e.g. "apikeys")
// googleProject's Firestore clients asked for with BatchGetDocuments (DocumentRef.Get).
func (c *calls) FirestoreReads(googleProject, collection string) int {
	return c.get("fs " + googleProject + " " + collection)
}

func (c *calls) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func (c *calls) add(k string) {
	c.mu.Lock()
	c.n[k]++
	c.mu.Unlock()
}

// secretManager is the local Secret Manager's interceptor: each request names its resource
// ("projects/P/secrets/...") in name or parent.
func (c *calls) secretManager(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	var resource string
	switch r := req.(type) {
	case interface{ GetName() string }:
		resource = r.GetName()
	case interface{ GetParent() string }:
		resource = r.GetParent()
	}
	if p, ok := projectOf(resource); ok {
		c.add("sm " + p + " " + info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:])
	}
	return handler(ctx, req)
}

// firestoreOptions route a Firestore client's calls through a stream interceptor that counts
// each document a BatchGetDocuments call asks for ("projects/P/databases/D/documents/C/...").
// With the emulator the client dials a connection of its own and ignores dial options, so this
// one replaces it, dialled as the client does (plain text, the emulator's owner credentials, no
// message size limit), as shared/devtools/faults does.
func (c *calls) firestoreOptions() ([]option.ClientOption, error) {
	intercept := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil || method != "/google.firestore.v1.Firestore/BatchGetDocuments" {
			return s, err
		}
		return countingStream{ClientStream: s, c: c}, nil
	}
	host := os.Getenv("FIRESTORE_EMULATOR_HOST")
	if host == "" {
		return []option.ClientOption{option.WithGRPCDialOption(grpc.WithChainStreamInterceptor(intercept))}, nil
	}
	conn, err := grpc.NewClient(host, grpc.WithChainStreamInterceptor(intercept),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)))
	if err != nil {
		return nil, fmt.Errorf("pipelinetest: dial the Firestore emulator at %s: %w", host, err)
	}
	return []option.ClientOption{option.WithGRPCConn(conn)}, nil
}

// emulatorOwner is what the Firestore client sends the emulator: admin rights, no rules.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorOwner) RequireTransportSecurity() bool { return false }

type countingStream struct {
	grpc.ClientStream
	c *calls
}

func (s countingStream) SendMsg(m any) error {
	if req, ok := m.(*firestorepb.BatchGetDocumentsRequest); ok {
		for _, doc := range req.GetDocuments() {
			p, _ := projectOf(doc)
			_, rest, _ := strings.Cut(doc, "/documents/")
			collection, _, _ := strings.Cut(rest, "/")
			s.c.add("fs " + p + " " + collection)
		}
	}
	return s.ClientStream.SendMsg(m)
}

// projectOf is P of "projects/P/...".
func projectOf(resource string) (string, bool) {
	rest, ok := strings.CutPrefix(resource, "projects/")
	if !ok {
		return "", false
	}
	p, _, _ := strings.Cut(rest, "/")
	return p, p != ""
}
