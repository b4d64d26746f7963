package pushmsg

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const pushed = `{"message":{"data":"eyJhIjoxfQ==","attributes":{"type":"batch.succeeded"},"messageId":"123","publishTime":"2026-11-28T10:00:00.123Z"},"subscription":"projects/p/subscriptions/s","deliveryAttempt":4}`

func serve(t *testing.T, body string, fn HandlerFunc) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	Handler(log, fn)(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
	return rec
}

func TestHandler_DecodesTheProductionEnvelope(t *testing.T) {
	var got Message
	rec := serve(t, pushed, func(_ context.Context, m Message) error { got = m; return nil })
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status %d", rec.Code)
	}
	if string(got.Data) != `{"a":1}` || got.Attributes["type"] != "batch.succeeded" || got.MessageID != "123" ||
		got.DeliveryAttempt != 4 || got.Subscription != "projects/p/subscriptions/s" || got.PublishTime.IsZero() {
		t.Errorf("decoded %+v", got)
	}
}

func TestHandler_AckNackIsDecidedByTheErrorType(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"nil acks", nil, http.StatusNoContent},
		{"Ack acks", Ack(errors.New("recorded")), http.StatusNoContent},
		{"wrapped Ack acks", errorsJoin(Ack(errors.New("x"))), http.StatusNoContent},
		{"Retry nacks", Retry(errors.New("later")), http.StatusServiceUnavailable},
		{"unexpected nacks", errors.New("firestore down"), http.StatusInternalServerError},
	}
	for _, c := range cases {
		rec := serve(t, pushed, func(context.Context, Message) error { return c.err })
		if rec.Code != c.want {
			t.Errorf("%s: status %d, want %d", c.name, rec.Code, c.want)
		}
		// Pub/Sub's emulator treats 202 as a failure: acks must be 200 or 204.
		if Acked(c.err) && rec.Code == http.StatusAccepted {
			t.Errorf("%s: acked with 202", c.name)
		}
	}
}

func errorsJoin(err error) error { return errors.Join(err) }

// tagKey marks a context; tagged records, per line, the tag of the context it was logged under.
type tagKey struct{}

type tagged struct {
	slog.Handler
	tags *[]string
}

func (tagged) Enabled(context.Context, slog.Level) bool { return true }

func (h tagged) Handle(ctx context.Context, r slog.Record) error {
	tag, _ := ctx.Value(tagKey{}).(string)
	*h.tags = append(*h.tags, r.Message+"@"+tag)
	return nil
}

func TestHandler_RespondLogsUnderTheContextTheHandlerNamed(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{Ack(errors.New("dead-lettered: window_exhausted")), "acknowledged@span"},
		{errors.New("firestore down"), "handler failed; Pub/Sub will redeliver@span"},
	} {
		var tags []string
		log := slog.New(tagged{Handler: slog.DiscardHandler, tags: &tags})
		rec := httptest.NewRecorder()
		Handler(log, func(ctx context.Context, _ Message) error {
			// As the handling span does (tracing.StartHandling): the result's line joins it.
			LogUnder(context.WithValue(ctx, tagKey{}, "span"))
			return c.err
		})(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(pushed)))
		if len(tags) != 1 || tags[0] != c.want {
			t.Errorf("%v: lines %q, want [%s]", c.err, tags, c.want)
		}
	}

	// A handler that names nothing: the line is logged under the request's context, and a
	// LogUnder outside any handling changes nothing.
	var tags []string
	log := slog.New(tagged{Handler: slog.DiscardHandler, tags: &tags})
	LogUnder(context.WithValue(context.Background(), tagKey{}, "stray"))
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(pushed))
	r = r.WithContext(context.WithValue(r.Context(), tagKey{}, "request"))
	Handler(log, func(context.Context, Message) error { return errors.New("x") })(httptest.NewRecorder(), r)
	if len(tags) != 1 || tags[0] != "handler failed; Pub/Sub will redeliver@request" {
		t.Errorf("lines %q, want the failure under the request's context", tags)
	}
}

func TestHandler_RejectsWhatPubSubWouldNeverSend(t *testing.T) {
	called := false
	fn := func(context.Context, Message) error { called = true; return nil }
	for name, body := range map[string]string{
		"empty":        ``,
		"not json":     `hello`,
		"no message":   `{"subscription":"s"}`,
		"no id":        `{"message":{"data":"e30="}}`,
		"bad base64":   `{"message":{"data":"!!!","messageId":"1"}}`,
		"wrong shape":  `{"message":"x"}`,
		"over 14 MiB":  `{"message":{"data":"` + strings.Repeat("A", MaxEnvelope) + `","messageId":"1"}}`,
		"message null": `{"message":null}`,
	} {
		if rec := serve(t, body, fn); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, rec.Code)
		}
	}
	if called {
		t.Error("the handler ran for a bad envelope")
	}
	rec := httptest.NewRecorder()
	Handler(slog.New(slog.NewJSONHandler(io.Discard, nil)), fn)(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("GET: status %d", rec.Code)
	}
}

// FuzzDecode feeds arbitrary push bodies to Decode and to the Handler. Nothing may panic; a body
// Decode refuses wraps ErrBadEnvelope and is answered 400 without calling the handler (it can
// never succeed, so Pub/Sub must not be asked to retry it as a 5xx); one it accepts has an id
// and attributes and reaches the handler once. Decode reads what encoding/json reads
// (envelope_test.go). Seeds beyond these are in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"message":{"data":null,"messageId":"1","publishTime":"x"}}`))
	for _, body := range envelopeCases() {
		if len(body) < 1000 { // the deep ones would slow every mutation
			f.Add([]byte(body))
		}
	}
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, body []byte) {
		agreesWithEncodingJSON(t, body)
		m, err := Decode(httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
		if err != nil && !errors.Is(err, ErrBadEnvelope) {
			t.Fatalf("%v does not wrap ErrBadEnvelope", err)
		}
		if err == nil && (m.MessageID == "" || m.Attributes == nil) {
			t.Fatalf("decoded a message without an id or attributes: %+v", m)
		}
		calls := 0
		rec := httptest.NewRecorder()
		Handler(log, func(_ context.Context, got Message) error {
			calls++
			if got.MessageID != m.MessageID || !bytes.Equal(got.Data, m.Data) {
				t.Fatalf("the handler got %+v, Decode gave %+v", got, m)
			}
			return nil
		})(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
		switch {
		case err != nil && (rec.Code != http.StatusBadRequest || calls != 0):
			t.Fatalf("a bad envelope got %d after %d handler calls, want 400 and none", rec.Code, calls)
		case err == nil && (rec.Code != http.StatusNoContent || calls != 1):
			t.Fatalf("a good envelope got %d after %d handler calls, want 204 and one", rec.Code, calls)
		}
	})
}

// cutShort is a body whose sender went away: its bytes, then io.ErrUnexpectedEOF, as the HTTP
// server's body reports a connection closed before the announced length.
type cutShort struct{ r io.Reader }

func (c *cutShort) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func TestDecode_ReadsWhatArrivesWhateverTheLengthSays(t *testing.T) {
	post := func(body io.Reader, length int64) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", body)
		r.ContentLength = length
		return r
	}
	n := int64(len(pushed))
	for name, r := range map[string]*http.Request{
		"announced":           post(strings.NewReader(pushed), n),
		"not announced":       post(strings.NewReader(pushed), -1),
		"announced shorter":   post(strings.NewReader(pushed), n/2),
		"announced 0":         post(strings.NewReader(pushed), 0),
		"announced 1 GiB":     post(strings.NewReader(pushed), 1<<30),
		"announced, exact 1k": post(strings.NewReader(pushed+strings.Repeat(" ", 1024-len(pushed))), 1024),
	} {
		if m, err := Decode(r); err != nil || string(m.Data) != `{"a":1}` {
			t.Errorf("%s: %+v, %v", name, m, err)
		}
	}
	for name, r := range map[string]*http.Request{
		"cut short":                   post(&cutShort{strings.NewReader(pushed)}, n+10),
		"over the limit, announced":   post(strings.NewReader(strings.Repeat(" ", MaxEnvelope+1)), MaxEnvelope+1),
		"over the limit, understated": post(strings.NewReader(strings.Repeat(" ", MaxEnvelope+1)), 10),
	} {
		if _, err := Decode(r); !errors.Is(err, ErrBadEnvelope) {
			t.Errorf("%s: %v, want ErrBadEnvelope", name, err)
		}
	}
}
