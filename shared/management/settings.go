package management

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"

	"github.com/jobhooks/jobhooks/shared/event"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Field names a webhook field a caller may set, as Surface A spells it (the update mask's paths).
type Field string

const (
	FieldURL                  Field = "url"
	FieldDisplayName          Field = "display_name"
	FieldSubscribedEvents     Field = "subscribed_events"
	FieldState                Field = "state"
	FieldRequestHeaders       Field = "request_headers"
	FieldStatusCodesToRetryOn Field = "status_codes_to_retry_on"
	// FieldPropagateTrace opts a webhook in to receiving Jobhooks' traceparent
	// (shared/tracing/README.md, Receivers).
	FieldPropagateTrace Field = "propagate_trace"
	// FieldMaxInFlight and FieldRateLimit throttle the webhook's endpoint
	// (shared/delivery/README.md, Throttle).
	FieldMaxInFlight Field = "max_in_flight"
	FieldRateLimit   Field = "rate_limit"
)

// Settable lists every field a caller may set, in display order.
var Settable = []Field{FieldURL, FieldDisplayName, FieldSubscribedEvents, FieldState, FieldRequestHeaders, FieldStatusCodesToRetryOn, FieldPropagateTrace,
	FieldMaxInFlight, FieldRateLimit}

// Limits of the management API: those shared/restapi/README.md, Limits and rules names, and ours
// where it is silent.
const (
	MaxRequestHeaders   = 20
	MaxHeaderValueBytes = 4096
	MaxDisplayNameRunes = 256
	MaxSubscribedEvents = 64
	// MaxThrottle bounds max_in_flight and rate_limit: each is a number of slot documents of one
	// webhook, taken and given back per delivery, and Firestore sustains about 500 writes per
	// second on one key range. An endpoint that takes more is bounded by the deployment's cap.
	MaxThrottle = 500
)

// Settings are the values a caller gives a webhook. Create uses all of them; Update only those
// its mask names. A zero State means ENABLED on create.
type Settings struct {
	URL                  string
	DisplayName          string
	SubscribedEvents     []string
	State                webhook.State
	RequestHeaders       []webhook.Header
	StatusCodesToRetryOn []int
	PropagateTrace       bool
	MaxInFlight          int
	RateLimit            int
}

// ValidWebhookID reports whether id may name a webhook.
func ValidWebhookID(id string) bool { return webhook.ValidID(id) }

// forbiddenHeaders are request headers a webhook may not set: the transport's own (host,
// content-length, hop-by-hop headers, RFC 9110 §7.6.1), the ones that describe the body
// (content-type) or the sender (user-agent), and the signature headers (webhook-*), which a
// webhook could otherwise use to forge or confuse a signature.
var forbiddenHeaders = []string{
	"host", "content-type", "content-length", "user-agent",
	"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
}

func forbiddenHeader(name string) bool {
	// CGI, WSGI, PHP and Rack receivers turn both "-" and "_" into "_" (HTTP_WEBHOOK_SIGNATURE), so
	// webhook_signature would reach them as the signature header: judge the name with "-".
	n := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	return slices.Contains(forbiddenHeaders, n) || strings.HasPrefix(n, "webhook-") || strings.HasPrefix(n, "proxy-")
}

// check validates the fields of s that fields names. The URL check may resolve the host
// (shared/delivery/README.md, Security: a name resolving only to blocked addresses is refused), so
// it runs outside any transaction.
func (s *Service) check(ctx context.Context, set Settings, fields []Field) error {
	for _, f := range fields {
		var err error
		switch f {
		case FieldURL:
			err = s.checkURL(ctx, set.URL)
		case FieldDisplayName:
			err = checkDisplayName(set.DisplayName)
		case FieldSubscribedEvents:
			err = checkEvents(set.SubscribedEvents)
		case FieldState:
			err = checkState(set.State)
		case FieldRequestHeaders:
			err = checkHeaders(set.RequestHeaders)
		case FieldStatusCodesToRetryOn:
			err = checkRetryCodes(set.StatusCodesToRetryOn)
		case FieldPropagateTrace:
			// Any boolean will do.
		case FieldMaxInFlight:
			err = checkThrottle(f, set.MaxInFlight, "requests in flight at once")
		case FieldRateLimit:
			err = checkThrottle(f, set.RateLimit, "deliveries per second")
		default:
			err = invalid(string(f), "is not a field of a webhook that can be set")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) checkURL(ctx context.Context, u string) error {
	if u == "" {
		return invalid(string(FieldURL), "is required")
	}
	if err := s.URLs.CheckURL(ctx, u); err != nil {
		// CheckURL's errors are sentences for the API user that never repeat the URL's path or query.
		return invalid(string(FieldURL), "%s", err)
	}
	return nil
}

func checkDisplayName(n string) error {
	if !utf8.ValidString(n) {
		return invalid(string(FieldDisplayName), "is not valid UTF-8")
	}
	if c := utf8.RuneCountInString(n); c > MaxDisplayNameRunes {
		return invalid(string(FieldDisplayName), "is %d characters long; the limit is %d", c, MaxDisplayNameRunes)
	}
	return nil
}

func checkEvents(events []string) error {
	f := string(FieldSubscribedEvents)
	if len(events) == 0 {
		return invalid(f, "must name at least one event type, e.g. batch.succeeded")
	}
	if len(events) > MaxSubscribedEvents {
		return invalid(f, "names %d event types; the limit is %d", len(events), MaxSubscribedEvents)
	}
	for i, e := range events {
		if !event.ValidType(e) {
			return invalid(fmt.Sprintf("%s[%d]", f, i), "%q is not an event type like batch.succeeded (lower-case words separated by dots)", truncate(e))
		}
		if slices.Contains(events[:i], e) {
			return invalid(fmt.Sprintf("%s[%d]", f, i), "repeats %q", e)
		}
	}
	return nil
}

func checkState(st webhook.State) error {
	switch st {
	case webhook.Enabled, webhook.Disabled:
		return nil
	case webhook.DisabledDueToFailedDeliveries:
		return invalid(string(FieldState), "can be set to enabled or disabled only; the failed-deliveries state is set by Jobhooks")
	default:
		return invalid(string(FieldState), "%q is not a state", truncate(string(st)))
	}
}

func checkHeaders(hs []webhook.Header) error {
	f := string(FieldRequestHeaders)
	if len(hs) > MaxRequestHeaders {
		return invalid(f, "has %d headers; the limit is %d", len(hs), MaxRequestHeaders)
	}
	for i, h := range hs {
		switch {
		case !httpguts.ValidHeaderFieldName(h.Key):
			return invalid(fmt.Sprintf("%s[%d].key", f, i), "%q is not a valid header name", truncate(h.Key))
		case forbiddenHeader(h.Key):
			return invalid(fmt.Sprintf("%s[%d].key", f, i), "%s is set by Jobhooks and cannot be overridden", h.Key)
		case len(h.Value) > MaxHeaderValueBytes:
			return invalid(fmt.Sprintf("%s[%d].value", f, i), "is %d bytes long; the limit is %d", len(h.Value), MaxHeaderValueBytes)
		case !httpguts.ValidHeaderFieldValue(h.Value):
			// Rejects CR and LF among other controls: a header value must not start a new header.
			return invalid(fmt.Sprintf("%s[%d].value", f, i), "contains control characters (such as CR or LF)")
		}
	}
	return nil
}

func checkRetryCodes(codes []int) error {
	f := string(FieldStatusCodesToRetryOn)
	for i, c := range codes {
		if c < 400 || c > 599 {
			return invalid(fmt.Sprintf("%s[%d]", f, i), "%d is not an HTTP error status between 400 and 599", c)
		}
		if slices.Contains(codes[:i], c) {
			return invalid(fmt.Sprintf("%s[%d]", f, i), "repeats %d", c)
		}
	}
	return nil
}

func checkThrottle(f Field, n int, what string) error {
	if n < 0 || n > MaxThrottle {
		return invalid(string(f), "%d is not a number of %s between 0 (no limit of its own) and %d", n, what, MaxThrottle)
	}
	return nil
}

// apply copies the fields named by fields from set to w.
func apply(w *webhook.Webhook, set Settings, fields []Field) {
	for _, f := range fields {
		switch f {
		case FieldURL:
			w.URL = set.URL
		case FieldDisplayName:
			w.DisplayName = set.DisplayName
		case FieldSubscribedEvents:
			w.SubscribedEvents = slices.Clone(set.SubscribedEvents)
		case FieldState:
			w.State = set.State
		case FieldRequestHeaders:
			w.RequestHeaders = slices.Clone(set.RequestHeaders)
		case FieldStatusCodesToRetryOn:
			w.StatusCodesToRetryOn = slices.Clone(set.StatusCodesToRetryOn)
		case FieldPropagateTrace:
			w.PropagateTrace = set.PropagateTrace
		case FieldMaxInFlight:
			if w.MaxInFlight != set.MaxInFlight {
				w.MaxInFlight, w.AllowedInFlight = set.MaxInFlight, 0 // a new bound starts unlowered
			}
		case FieldRateLimit:
			w.RateLimit = set.RateLimit
		}
	}
}

// truncate shortens a caller's value repeated in an error message.
func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:61] + "..."
}
