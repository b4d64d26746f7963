// Package pushmsg decodes Pub/Sub push requests and decides, in one place, whether a handled
// message is acknowledged or redelivered.
//
// A push handler returns an error; Respond maps it to the HTTP status Pub/Sub reads:
//   - nil, or an error wrapped by Ack: the message is done (2xx, acknowledged);
//   - an error wrapped by Retry: expected, try again later (nack, Pub/Sub redelivers with backoff);
//   - any other error: unexpected, logged at ERROR and nacked, so nothing is lost. The
//     subscription's dead-letter policy ends a message that fails forever.
//
// Handlers answer 204, never 202: the Pub/Sub emulator treats 202 as a failure.
package pushmsg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// MaxEnvelope bounds a push request body: Pub/Sub messages are at most 10 MB, base64 adds a third.
const MaxEnvelope = 14 << 20

// Message is one pushed Pub/Sub message.
type Message struct {
	Data        []byte
	Attributes  map[string]string
	MessageID   string
	PublishTime time.Time
	// Subscription is the full subscription name the push came from.
	Subscription string
	// DeliveryAttempt is Pub/Sub's count of deliveries of this message, or 0 when absent: it is
	// only sent with a dead-letter policy, and never by the emulator.
	DeliveryAttempt int
}

// ErrBadEnvelope means the request is not a Pub/Sub push envelope.
var ErrBadEnvelope = errors.New("not a Pub/Sub push envelope")

// Decode reads a push request. It fails with ErrBadEnvelope on anything Pub/Sub would not send.
func Decode(r *http.Request) (Message, error) {
	if r.Method != http.MethodPost {
		return Message{}, fmt.Errorf("%w: method %s, want POST", ErrBadEnvelope, r.Method)
	}
	body, err := readBody(r)
	if err != nil {
		return Message{}, fmt.Errorf("%w: reading body: %v", ErrBadEnvelope, err)
	}
	if len(body) > MaxEnvelope {
		return Message{}, fmt.Errorf("%w: body over %d bytes", ErrBadEnvelope, MaxEnvelope)
	}
	env, err := parseEnvelope(body)
	if err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrBadEnvelope, err)
	}
	if env.message == nil {
		return Message{}, fmt.Errorf("%w: no message field", ErrBadEnvelope)
	}
	m := Message{
		Data:            env.message.data,
		Attributes:      env.message.attributes,
		MessageID:       env.message.messageID,
		Subscription:    env.subscription,
		DeliveryAttempt: env.deliveryAttempt,
	}
	if m.MessageID == "" {
		m.MessageID = env.message.messageID2
	}
	if m.MessageID == "" {
		return Message{}, fmt.Errorf("%w: no messageId", ErrBadEnvelope)
	}
	if env.message.publishTime != "" {
		if t, err := time.Parse(time.RFC3339Nano, env.message.publishTime); err == nil {
			m.PublishTime = t
		}
	}
	if m.Attributes == nil {
		m.Attributes = map[string]string{}
	}
	return m, nil
}

// readBody reads at most MaxEnvelope+1 bytes of r's body into one buffer sized from its
// announced length (Pub/Sub's pushes announce it), instead of one grown step by step; the
// announcement only sizes the buffer, up to 1 MiB: what is read is what arrives, and a body
// cut short (io.ErrUnexpectedEOF) is an error.
func readBody(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(int(min(max(r.ContentLength, 0), 1<<20)) + bytes.MinRead)
	if _, err := b.ReadFrom(io.LimitReader(r.Body, MaxEnvelope+1)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type ackError struct{ err error }

func (e ackError) Error() string { return e.err.Error() }
func (e ackError) Unwrap() error { return e.err }

type retryError struct{ err error }

func (e retryError) Error() string { return e.err.Error() }
func (e retryError) Unwrap() error { return e.err }

// Ack marks err as handled: the message is acknowledged (it was recorded or dead-lettered).
func Ack(err error) error { return ackError{err} }

// Retry marks err as an expected reason to redeliver later.
func Retry(err error) error { return retryError{err} }

// Acked reports whether a handler's result acknowledges the message.
func Acked(err error) bool {
	var a ackError
	return err == nil || errors.As(err, &a)
}

// Expected reports whether a handler's result is an expected nack (Retry).
func Expected(err error) bool {
	var r retryError
	return errors.As(err, &r)
}

// HandlerFunc handles one decoded message.
type HandlerFunc func(ctx context.Context, m Message) error

// Handler serves a push subscription: it decodes the envelope, calls fn and answers with the
// status Respond chooses, logged under the context the handler named with LogUnder. A request
// that is not a push envelope gets 400: it can never succeed.
func Handler(log *slog.Logger, fn HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m, err := Decode(r)
		if err != nil {
			log.WarnContext(r.Context(), "rejected push request", "error", err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		slot := &logSlot{ctx: r.Context()}
		err = fn(context.WithValue(r.Context(), logKey{}, slot), m)
		Respond(slot.ctx, w, log, m, err)
	}
}

// logKey carries the slot in which a handler names the context Respond logs under.
type logKey struct{}

type logSlot struct{ ctx context.Context }

// LogUnder makes Respond write its line about this handling's result ("acknowledged", "handler
// failed") under ctx instead of the request's context. A handler calls it with the context of
// its span, so that the line joins the job event's trace like the handler's own lines
// (shared/tracing/README.md, Logs join the trace). ctx must be the handler's context or one derived
// from it; anywhere else LogUnder does nothing. Not safe for concurrent use: call it from the
// handler's goroutine.
func LogUnder(ctx context.Context) {
	if s, ok := ctx.Value(logKey{}).(*logSlot); ok {
		s.ctx = ctx
	}
}

// Respond writes the ack or nack for err. This is the only place that turns handler results
// into Pub/Sub acknowledgements.
func Respond(ctx context.Context, w http.ResponseWriter, log *slog.Logger, m Message, err error) {
	var r retryError
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case Acked(err):
		log.InfoContext(ctx, "acknowledged", "message_id", m.MessageID, "reason", err.Error())
		w.WriteHeader(http.StatusNoContent)
	case errors.As(err, &r):
		w.WriteHeader(http.StatusServiceUnavailable)
	default:
		log.ErrorContext(ctx, "handler failed; Pub/Sub will redeliver", "message_id", m.MessageID, "error", err.Error())
		w.WriteHeader(http.StatusInternalServerError)
	}
}
