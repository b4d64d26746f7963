package pipelinetest

import (
	"context"
	"strings"
	"sync"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
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

// firestoreOptions add a stream interceptor that counts each document a BatchGetDocuments call
// asks for ("projects/P/databases/D/documents/COLLECTION/...").
func (c *calls) firestoreOptions() []option.ClientOption {
	intercept := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil || method != "/google.firestore.v1.Firestore/BatchGetDocuments" {
			return s, err
		}
		return countingStream{ClientStream: s, c: c}, nil
	}
	return []option.ClientOption{option.WithGRPCDialOption(grpc.WithChainStreamInterceptor(intercept))}
}

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
