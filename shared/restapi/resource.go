package restapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/management"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Surface A: /v1/projects/{project}/webhooks[/{webhook}...], the JSON of shared/restapi/README.md,
// The management API. Its methods are written once for both surfaces (webhooks.go); this file is
// its wire format.

var resourceSurface = surface[resourceWebhookIn, resourceWebhook]{
	fields:   resourceFields,
	show:     (*Handler).resourceWebhook,
	createID: resourceCreateID,
	detail:   (*Handler).pendingDeliveries,
}

var resourceFields = fieldNames{
	settable: map[string]management.Field{
		"url":                      management.FieldURL,
		"display_name":             management.FieldDisplayName,
		"subscribed_events":        management.FieldSubscribedEvents,
		"state":                    management.FieldState,
		"request_headers":          management.FieldRequestHeaders,
		"status_codes_to_retry_on": management.FieldStatusCodesToRetryOn,
		"propagate_trace":          management.FieldPropagateTrace,
		"max_in_flight":            management.FieldMaxInFlight,
		"rate_limit":               management.FieldRateLimit,
	},
	outputOnly: []string{"name", "signing_secrets", "new_signing_secret", "create_time", "update_time", "failing_since", "paused_until",
		"endpoint_state", "allowed_in_flight", "pending_deliveries"},
}

// resourceWebhookIn is a webhook as a Surface A request carries it. Output-only members are
// accepted (a client may send back what it read) and ignored (AIP-203).
type resourceWebhookIn struct {
	Name                 string           `json:"name"`
	URL                  string           `json:"url"`
	DisplayName          string           `json:"display_name"`
	SubscribedEvents     []string         `json:"subscribed_events"`
	State                string           `json:"state"`
	RequestHeaders       []webhook.Header `json:"request_headers"`
	StatusCodesToRetryOn []int            `json:"status_codes_to_retry_on"`
	PropagateTrace       bool             `json:"propagate_trace"`
	MaxInFlight          int              `json:"max_in_flight"`
	RateLimit            int              `json:"rate_limit"`
	echoedOutput
	FailingSince      json.RawMessage `json:"failing_since"`
	PausedUntil       json.RawMessage `json:"paused_until"`
	EndpointState     json.RawMessage `json:"endpoint_state"`
	AllowedInFlight   json.RawMessage `json:"allowed_in_flight"`
	PendingDeliveries json.RawMessage `json:"pending_deliveries"`
}

func (resourceWebhookIn) outputOnly() []string { return resourceFields.outputOnly }

func (in resourceWebhookIn) settings() (management.Settings, error) {
	st, err := enum("state", in.State, webhookStates, true)
	return management.Settings{
		URL: in.URL, DisplayName: in.DisplayName, SubscribedEvents: in.SubscribedEvents, State: st,
		RequestHeaders: in.RequestHeaders, StatusCodesToRetryOn: in.StatusCodesToRetryOn, PropagateTrace: in.PropagateTrace,
		MaxInFlight: in.MaxInFlight, RateLimit: in.RateLimit,
	}, err
}

// resourceWebhook is a webhook as Surface A answers it.
type resourceWebhook struct {
	Name                 string           `json:"name"`
	URL                  string           `json:"url"`
	DisplayName          string           `json:"display_name,omitempty"`
	SubscribedEvents     []string         `json:"subscribed_events"`
	State                webhook.State    `json:"state"`
	RequestHeaders       []webhook.Header `json:"request_headers"`
	StatusCodesToRetryOn []int            `json:"status_codes_to_retry_on"`
	PropagateTrace       bool             `json:"propagate_trace"`
	// MaxInFlight and RateLimit are the webhook's throttle; 0: none of its own.
	MaxInFlight int `json:"max_in_flight"`
	RateLimit   int `json:"rate_limit"`
	secretsAndTimes
	// FailingSince is the first failed attempt after the last success: how long the endpoint
	// has been failing. Absent while healthy.
	FailingSince string `json:"failing_since,omitempty"`
	// PausedUntil is when the endpoint's latest Retry-After ends: nothing is sent to it before
	// then. Absent unless that is in the future.
	PausedUntil string `json:"paused_until,omitempty"`
	// EndpointState is OK, THROTTLED (its 429s lowered the requests allowed in flight to
	// AllowedInFlight), PAUSED (until PausedUntil) or CIRCUIT_OPEN (failing for the breaker's
	// time: one probe per interval).
	EndpointState   string `json:"endpoint_state"`
	AllowedInFlight int    `json:"allowed_in_flight,omitempty"`
	// PendingDeliveries is how many of its deliveries are pending (up to
	// management.MaxPendingCount): what waits for the endpoint. Only in the answer of a get:
	// counting costs reads, which a list would spend per webhook.
	PendingDeliveries *int `json:"pending_deliveries,omitempty"`
}

// pendingDeliveries adds what waits for w's endpoint to a get's answer (the surface's detail).
func (h *Handler) pendingDeliveries(ctx context.Context, project string, w webhook.Webhook, out *resourceWebhook) error {
	n, err := h.Service.PendingDeliveries(ctx, project, w.ID)
	if err != nil {
		return err
	}
	out.PendingDeliveries = &n
	return nil
}

// resourceWebhook shows w as Surface A answers it (the surface's show).
func (h *Handler) resourceWebhook(w webhook.Webhook, newSecret string) resourceWebhook {
	headers := w.RequestHeaders
	if headers == nil {
		headers = []webhook.Header{}
	}
	codes := w.StatusCodesToRetryOn
	if len(codes) == 0 {
		codes = webhook.DefaultRetryCodes // what an empty list means, shown rather than implied
	}
	return resourceWebhook{
		Name: w.Name(), URL: w.URL, DisplayName: w.DisplayName, SubscribedEvents: w.SubscribedEvents,
		State: w.State, RequestHeaders: headers, StatusCodesToRetryOn: codes, PropagateTrace: w.PropagateTrace,
		secretsAndTimes: h.secretsAndTimes(w, newSecret), FailingSince: ts(w.FailingSince),
		PausedUntil: h.future(w.PausedUntil), MaxInFlight: w.MaxInFlight, RateLimit: w.RateLimit,
		EndpointState: string(h.Service.EndpointState(w)), AllowedInFlight: w.AllowedInFlight,
	}
}

// future is t as the API writes times, or "" unless t is after now.
func (h *Handler) future(t time.Time) string {
	if !t.After(h.Now()) {
		return ""
	}
	return ts(t)
}

// resourceCreateID is the id a Surface A create asks for: ?webhook_id= (or webhookId), or the
// last segment of a name in the body, which must then be in the request's project and agree.
func resourceCreateID(r *http.Request, project string, in resourceWebhookIn) (string, error) {
	id := r.URL.Query().Get("webhook_id")
	if id == "" {
		id = r.URL.Query().Get("webhookId")
	}
	if in.Name == "" {
		return id, nil
	}
	p, nameID, ok := parseWebhookName(in.Name)
	switch {
	case !ok:
		return "", badRequest("name: %q is not a webhook name like projects/{project}/webhooks/{webhook}", truncate(in.Name))
	case p != project:
		return "", badRequest("name: %q is not in project %s, the project of the request", truncate(in.Name), project)
	case id != "" && id != nameID:
		return "", badRequest("webhook_id %q and the id in name %q differ", truncate(id), truncate(in.Name))
	}
	return nameID, nil
}

// parseWebhookName splits projects/{p}/webhooks/{id}.
func parseWebhookName(name string) (project, id string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "webhooks" || parts[1] == "" || parts[3] == "" {
		return "", "", false
	}
	return parts[1], parts[3], true
}

type pingResponse struct {
	EventID  string `json:"event_id"`
	Delivery string `json:"delivery"`
}

func (h *Handler) pingResource(ctx context.Context, r *http.Request, project string) (any, error) {
	id := r.PathValue("webhook")
	if err := emptyBody(r); err != nil {
		return nil, err
	}
	p, err := h.Service.PingWebhook(ctx, project, id)
	if err != nil {
		return nil, err
	}
	return pingResponse{EventID: p.EventID, Delivery: management.DeliveryName(project, id, p.DeliveryID)}, nil
}
