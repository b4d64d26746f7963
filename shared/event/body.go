package event

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"regexp"
	"strings"
)

// Body renders the notification every endpoint of the event receives (shared/verify/README.md, What
// a receiver gets). It is rendered once at dispatch and sent byte-for-byte on every attempt, so
// signatures stay verifiable and receivers can hash it.
func (e JobEvent) Body() []byte {
	var md json.RawMessage
	if e.WebhookConfig != nil {
		md = e.WebhookConfig.UserMetadata
	}
	return RenderBody(e.Type, e.TimestampText, e.Data, md)
}

// RenderBody writes {"type","version","timestamp","data"[,"user_metadata"]} in that order.
// data and userMetadata must be compact JSON objects (as Parse returns them).
func RenderBody(eventType, timestamp string, data, userMetadata json.RawMessage) []byte {
	typ, _ := json.Marshal(eventType)
	ts, _ := json.Marshal(timestamp)
	n := 48 + len(typ) + len(ts) + len(data) + len(userMetadata)
	b := make([]byte, 0, n)
	b = append(b, `{"type":`...)
	b = append(b, typ...)
	b = append(b, `,"version":"v1","timestamp":`...)
	b = append(b, ts...)
	b = append(b, `,"data":`...)
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	b = append(b, data...)
	if len(userMetadata) > 0 {
		b = append(b, `,"user_metadata":`...)
		b = append(b, userMetadata...)
	}
	return append(b, '}')
}

// TargetBody is body, a rendered body, with "target_uri" naming the URI it is delivered to, as
// its last member: the body of a per-request (dynamic) target. The deployment's key signs every
// per-request delivery, so the signed content must name its receiver, or one receiver could
// replay what it got to another (shared/verify/README.md, Per-request deliveries name their
// receiver). It is rendered once per target and sent byte for byte on every attempt.
func TargetBody(body []byte, uri string) []byte {
	if len(body) == 0 || body[len(body)-1] != '}' {
		return body
	}
	u, _ := json.Marshal(uri)
	b := make([]byte, 0, len(body)+len(`,"target_uri":`)+len(u))
	b = append(b, body[:len(body)-1]...)
	b = append(b, `,"target_uri":`...)
	b = append(b, u...)
	return append(b, '}')
}

// crockford is the ULID alphabet, lower-cased: no i, l, o, u to misread.
var crockford = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// MessageID is the webhook-id of an event: "msg_" and 26 characters derived from (project,
// event id), so a re-published event carries the same id and receivers can deduplicate on it.
func MessageID(project, id string) string { return "msg_" + digest(project, id) }

// digest is 26 base32 characters (130 bits) of SHA-256 over the parts, separated by a byte no
// part can contain.
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return strings.ToLower(crockford.EncodeToString(h.Sum(nil)[:17])[:26])
}

// DeliveryID is the deterministic id of one (event, target) pair: the same event to the same
// webhook or URI always has the same delivery record.
// ValidDeliveryID reports whether s has the form DeliveryID makes.
func ValidDeliveryID(s string) bool { return deliveryIDPattern.MatchString(s) }

var deliveryIDPattern = regexp.MustCompile(`^dlv_[0-9a-z]{1,64}$`)

func DeliveryID(project, eventID, target string) string {
	return "dlv_" + digest(project, eventID, target)
}
