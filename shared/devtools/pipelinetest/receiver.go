package pipelinetest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jobhooks/jobhooks/shared/secrets"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Request is one POST a Receiver got.
type Request struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

// Reply is how a Receiver answers one request.
type Reply struct {
	Status int
	Header map[string]string
	// Body is sent as is when set; otherwise a short text naming the status.
	Body []byte
}

// Receiver is a customer endpoint: it records every request and answers from a script.
type Receiver struct {
	URL string

	mu       sync.Mutex
	requests []Request
	script   []Reply
	then     Reply
}

// NewReceiver starts an endpoint that answers script in order, then `then` forever.
func NewReceiver(t testing.TB, then Reply, script ...Reply) *Receiver {
	r := &Receiver{script: script, then: then}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/hook"
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests = append(r.requests, Request{Header: req.Header.Clone(), Body: body, At: time.Now()})
	reply := r.then
	if len(r.script) > 0 {
		reply, r.script = r.script[0], r.script[1:]
	}
	r.mu.Unlock()
	for k, v := range reply.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(reply.Status)
	if reply.Body != nil {
		_, _ = w.Write(reply.Body)
		return
	}
	_, _ = io.WriteString(w, "receiver says "+http.StatusText(reply.Status))
}

// Requests returns a copy of what arrived so far.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Count is the number of requests so far.
func (r *Receiver) Count() int { return len(r.Requests()) }

// OK is a 200 reply.
var OK = Reply{Status: http.StatusOK}

// Status is a reply with only a status code.
func Status(code int) Reply { return Reply{Status: code} }

// AddWebhook registers an enabled static webhook with a fresh signing secret, sealed with the
// stack's KEK exactly as the API stores it, and returns the secret (watched in the logs).
func (s *Stack) AddWebhook(t testing.TB, w webhook.Webhook) (webhook.Webhook, secrets.Secret) {
	t.Helper()
	ctx := context.Background()
	if w.State == "" {
		w.State = webhook.Enabled
	}
	now := s.Clock.Now()
	w.CreateTime, w.UpdateTime = now, now
	sec, err := secrets.Generate()
	if err != nil {
		t.Fatal(err)
	}
	Logs.Watch(sec.Reveal(), sec.Reveal()[len("whsec_"):])
	sealed, err := s.Keyring.SealSecret(ctx, sec, w.Name())
	if err != nil {
		t.Fatalf("seal secret: %v", err)
	}
	w.Secrets = append(w.Secrets, webhook.Secret{Sealed: sealed, Truncated: sec.Truncated(), CreateTime: now})
	if err := s.Store.CreateWebhook(ctx, w); err != nil {
		t.Fatalf("create webhook: %v", err)
	}
	return w, sec
}
