package management

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/signing"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/tracing"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// What a delivery sent (shared/restapi/README.md, What a delivery sent), as Svix's portal shows
// a message: the body and the request headers, built from what the store keeps. Nothing secret
// leaves: a webhook's own header values may carry its receiver's tokens and are replaced, and
// no signature is shown, since none is stored and making one would need the secret.

// RedactedValue replaces what is not shown of a header's value.
const RedactedValue = "••••"

// Sent is the request a delivery's last attempt sent, or its next one sends.
type Sent struct {
	// Body is the event's stored body, the bytes every attempt sends; nil when BodyExpired.
	Body []byte
	// BodyExpired: the event record has expired (the record TTL), so the body is no longer stored.
	BodyExpired bool
	// Headers in the order the attempt sets them.
	Headers []SentHeader
}

// SentHeader is one request header. Redacted: Value is not the value sent (a webhook's own
// header, the signature, the trace context), only what may be shown of it.
type SentHeader struct {
	Name, Value string
	Redacted    bool
}

// DeliveryView is one delivery as GetDelivery reads it.
type DeliveryView struct {
	Record   store.Delivery
	Attempts []store.Attempt // oldest first
	Sent     Sent
}

// sent reads the body d's attempts send and describes their request.
func (s *Service) sent(ctx context.Context, w webhook.Webhook, d store.Delivery) (Sent, error) {
	ev, err := s.Store.GetEvent(ctx, d.Project, d.EventID)
	if errors.Is(err, store.ErrNotFound) {
		err, ev.Body = nil, nil
	}
	if err != nil {
		return Sent{}, err
	}
	return sentRequest(w, d, ev.Body, s.userAgent, s.now()), nil
}

// sentRequest is the request d's last attempt sent (its next one, before any), as the attempt
// builds it (shared/delivery/attempt.go, headers): the sender's content-type and user-agent, the
// webhook's own headers, webhook-id, the attempt's webhook-timestamp and one v1 signature per
// secret that signed then.
func sentRequest(w webhook.Webhook, d store.Delivery, body []byte, userAgent string, now time.Time) Sent {
	out := Sent{Body: body, BodyExpired: len(body) == 0}
	add := func(name, value string, redacted bool) {
		out.Headers = append(out.Headers, SentHeader{Name: name, Value: value, Redacted: redacted})
	}
	add("content-type", "application/json", false)
	add("user-agent", userAgent, false)
	for _, h := range w.RequestHeaders {
		if strings.HasPrefix(strings.ReplaceAll(strings.ToLower(h.Key), "_", "-"), "webhook-") {
			continue // dropped by the attempt too
		}
		add(h.Key, RedactedValue, true)
	}
	if w.PropagateTrace {
		add(tracing.ParentAttribute, "…", true) // the attempt's own span, not stored
	}
	add(signing.HeaderID, d.MessageID, false)
	at := now
	if d.Attempts > 0 && !d.LastAttemptTime.IsZero() {
		at = d.LastAttemptTime
		add(signing.HeaderTimestamp, strconv.FormatInt(at.Unix(), 10), false)
	}
	add(signing.HeaderSignature, signatures(w, at), true)
	return out
}

// signatures is the webhook-signature header as shown: "v1,…" for each secret that signed at
// time at (every unexpired one, during a rotation's grace period), space separated as sent.
func signatures(w webhook.Webhook, at time.Time) string {
	n := 0
	for _, s := range w.Secrets {
		if !s.CreateTime.After(at) && (s.ExpireTime.IsZero() || at.Before(s.ExpireTime)) {
			n++
		}
	}
	parts := make([]string, max(n, 1))
	for i := range parts {
		parts[i] = "v1,…"
	}
	return strings.Join(parts, " ")
}
