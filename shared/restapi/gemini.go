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
// state (lower-case), signing_secrets, new_signing_secret, create_time, update_time.

var geminiFields = fieldNames{
	settable: map[string]management.Field{
		"uri":               management.FieldURL,
		"name":              management.FieldDisplayName,
		"subscribed_events": management.FieldSubscribedEvents,
		"state":             management.FieldState,
		"propagate_trace":   management.FieldPropagateTrace,
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
	ID               json.RawMessage `json:"id"`
	SigningSecrets   json.RawMessage `json:"signing_secrets"`
	NewSigningSecret json.RawMessage `json:"new_signing_secret"`
	CreateTime       json.RawMessage `json:"create_time"`
	UpdateTime       json.RawMessage `json:"update_time"`
}

func (in geminiWebhookIn) settings() (management.Settings, error) {
	st, err := enum("state", in.State, webhookStates, false)
	return management.Settings{URL: in.URI, DisplayName: in.Name, SubscribedEvents: in.SubscribedEvents, State: st,
		PropagateTrace: in.PropagateTrace}, err
}

// geminiWebhook is a webhook as Surface B answers it.
type geminiWebhook struct {
	ID               string          `json:"id"`
	Name             string          `json:"name,omitempty"`
	URI              string          `json:"uri"`
	SubscribedEvents []string        `json:"subscribed_events"`
	State            string          `json:"state"`
	PropagateTrace   bool            `json:"propagate_trace,omitempty"`
	SigningSecrets   []signingSecret `json:"signing_secrets"`
	NewSigningSecret string          `json:"new_signing_secret,omitempty"`
	CreateTime       string          `json:"create_time"`
	UpdateTime       string          `json:"update_time"`
}

func (h *Handler) geminiWebhook(w webhook.Webhook) geminiWebhook {
	return geminiWebhook{
		ID: w.ID, Name: w.DisplayName, URI: w.URL, SubscribedEvents: w.SubscribedEvents,
		State: strings.ToLower(string(w.State)), PropagateTrace: w.PropagateTrace, SigningSecrets: h.signingSecrets(w),
		CreateTime: ts(w.CreateTime), UpdateTime: ts(w.UpdateTime),
	}
}

func (h *Handler) createGemini(ctx context.Context, r *http.Request, project string) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var in geminiWebhookIn
	if _, err := decodeObject(body, &in, false); err != nil {
		return nil, err
	}
	set, err := in.settings()
	if err != nil {
		return nil, err
	}
	created, err := h.Service.CreateWebhook(ctx, project, management.CreateRequest{Settings: set})
	if err != nil {
		return nil, err
	}
	out := h.geminiWebhook(created.Webhook)
	out.NewSigningSecret = created.Secret.Reveal()
	return out, nil
}

type geminiList struct {
	Webhooks      []geminiWebhook `json:"webhooks"`
	NextPageToken string          `json:"next_page_token,omitempty"`
}

func (h *Handler) listGemini(ctx context.Context, r *http.Request, project string) (any, error) {
	size, err := pageSize(r)
	if err != nil {
		return nil, err
	}
	hooks, next, err := h.listWebhooks(ctx, project, management.PageRequest{Size: size, Token: pageToken(r)})
	if err != nil {
		return nil, err
	}
	out := geminiList{Webhooks: []geminiWebhook{}, NextPageToken: next}
	for _, w := range hooks {
		out.Webhooks = append(out.Webhooks, h.geminiWebhook(w))
	}
	return out, nil
}

func (h *Handler) getGemini(ctx context.Context, r *http.Request, project string) (any, error) {
	wh, err := h.Service.GetWebhook(ctx, project, r.PathValue("webhook"))
	if err != nil {
		return nil, err
	}
	return h.geminiWebhook(wh), nil
}

// pingGemini answers {}: the Gemini API's ping returns an empty message.
func (h *Handler) pingGemini(ctx context.Context, r *http.Request, project string) (any, error) {
	if err := emptyBody(r); err != nil {
		return nil, err
	}
	_, err := h.Service.PingWebhook(ctx, project, r.PathValue("webhook"))
	return struct{}{}, err
}

func (h *Handler) updateGemini(ctx context.Context, r *http.Request, project string) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var in geminiWebhookIn
	present, err := decodeObject(body, &in, true)
	if err != nil {
		return nil, err
	}
	mask, err := geminiFields.fields(r, present)
	if err != nil {
		return nil, err
	}
	set, err := in.settings()
	if err != nil {
		return nil, err
	}
	wh, err := h.Service.UpdateWebhook(ctx, project, r.PathValue("webhook"), set, mask)
	if err != nil {
		return nil, err
	}
	return h.geminiWebhook(wh), nil
}
