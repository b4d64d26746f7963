package restapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/jobhooks/jobhooks/shared/management"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Surface B: the Gemini WebhookService wire format under /v1beta/webhooks and /v1/webhooks, for
// code written against the Gemini API. The project is the API key's. Field names and enum
// spellings follow the official SDKs' JSON: id, name (the display name), uri, subscribed_events,
// state (lower-case), signing_secrets, new_signing_secret, create_time, update_time. Its methods
// are written once for both surfaces (webhooks.go); this file is its wire format.

// geminiSurface has no way to ask for an id: the service chooses it.
var geminiSurface = surface[geminiWebhookIn, geminiWebhook]{fields: geminiFields, show: (*Handler).geminiWebhook}

var geminiFields = fieldNames{
	settable: map[string]management.Field{
		"uri":               management.FieldURL,
		"name":              management.FieldDisplayName,
		"subscribed_events": management.FieldSubscribedEvents,
		"state":             management.FieldState,
		"propagate_trace":   management.FieldPropagateTrace,
		"max_in_flight":     management.FieldMaxInFlight,
		"rate_limit":        management.FieldRateLimit,
	},
	outputOnly: []string{"id", "signing_secrets", "new_signing_secret", "create_time", "update_time"},
}

// geminiFieldName spells a Surface A field name as Surface B does.
func geminiFieldName(f string) string {
	switch management.Field(f) {
	case management.FieldURL:
		return "uri"
	case management.FieldDisplayName:
		return "name"
	}
	return f
}

// geminiWebhookIn is a webhook as a Surface B create or update carries it.
type geminiWebhookIn struct {
	Name             string          `json:"name"`
	URI              string          `json:"uri"`
	SubscribedEvents []string        `json:"subscribed_events"`
	State            string          `json:"state"`
	PropagateTrace   bool            `json:"propagate_trace"`
	MaxInFlight      int             `json:"max_in_flight"`
	RateLimit        int             `json:"rate_limit"`
	ID               json.RawMessage `json:"id"`
	echoedOutput
}

func (geminiWebhookIn) outputOnly() []string { return geminiFields.outputOnly }

func (in geminiWebhookIn) settings() (management.Settings, error) {
	st, err := enum("state", in.State, webhookStates, false)
	return management.Settings{URL: in.URI, DisplayName: in.Name, SubscribedEvents: in.SubscribedEvents, State: st,
		PropagateTrace: in.PropagateTrace, MaxInFlight: in.MaxInFlight, RateLimit: in.RateLimit}, err
}

// geminiWebhook is a webhook as Surface B answers it.
type geminiWebhook struct {
	ID               string   `json:"id"`
	Name             string   `json:"name,omitempty"`
	URI              string   `json:"uri"`
	SubscribedEvents []string `json:"subscribed_events"`
	State            string   `json:"state"`
	PropagateTrace   bool     `json:"propagate_trace,omitempty"`
	// Extensions of Jobhooks (shared/restapi/README.md): absent while zero, as the SDKs' models
	// do not know them.
	MaxInFlight int `json:"max_in_flight,omitempty"`
	RateLimit   int `json:"rate_limit,omitempty"`
	secretsAndTimes
}

// geminiWebhook shows w as Surface B answers it (the surface's show).
func (h *Handler) geminiWebhook(w webhook.Webhook, newSecret string) geminiWebhook {
	return geminiWebhook{
		ID: w.ID, Name: w.DisplayName, URI: w.URL, SubscribedEvents: w.SubscribedEvents,
		State: strings.ToLower(string(w.State)), PropagateTrace: w.PropagateTrace, secretsAndTimes: h.secretsAndTimes(w, newSecret),
		MaxInFlight: w.MaxInFlight, RateLimit: w.RateLimit,
	}
}

// pingGemini answers {}: the Gemini API's ping returns an empty message.
func (h *Handler) pingGemini(ctx context.Context, r *http.Request, project string) (any, error) {
	if err := emptyBody(r); err != nil {
		return nil, err
	}
	_, err := h.Service.PingWebhook(ctx, project, r.PathValue("webhook"))
	return struct{}{}, err
}
