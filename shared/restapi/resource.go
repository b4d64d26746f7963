package restapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/jobhooks/jobhooks/shared/management"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Surface A: /v1/projects/{project}/webhooks[/{webhook}...], the JSON of README, The management API.

var resourceFields = fieldNames{
	settable: map[string]management.Field{
		"url":                      management.FieldURL,
		"display_name":             management.FieldDisplayName,
		"subscribed_events":        management.FieldSubscribedEvents,
		"state":                    management.FieldState,
		"request_headers":          management.FieldRequestHeaders,
		"status_codes_to_retry_on": management.FieldStatusCodesToRetryOn,
		"propagate_trace":          management.FieldPropagateTrace,
	},
	outputOnly: []string{"name", "signing_secrets", "new_signing_secret", "create_time", "update_time", "failing_since"},
}

// webhookStates are the webhook states by their lower-case spelling (both surfaces).
var webhookStates = map[string]webhook.State{
	"enabled":                           webhook.Enabled,
	"disabled":                          webhook.Disabled,
	"disabled_due_to_failed_deliveries": webhook.DisabledDueToFailedDeliveries,
}

// revocations are the rotation behaviours by their lower-case spelling (both surfaces).
var revocations = map[string]string{
	"revoke_previous_secrets_after_h24":   "after_h24",
	"revoke_previous_secrets_immediately": "immediately",
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
	SigningSecrets       json.RawMessage  `json:"signing_secrets"`
	NewSigningSecret     json.RawMessage  `json:"new_signing_secret"`
	CreateTime           json.RawMessage  `json:"create_time"`
	UpdateTime           json.RawMessage  `json:"update_time"`
	FailingSince         json.RawMessage  `json:"failing_since"`
}

func (in resourceWebhookIn) settings() (management.Settings, error) {
	st, err := enum("state", in.State, webhookStates, true)
	return management.Settings{
		URL: in.URL, DisplayName: in.DisplayName, SubscribedEvents: in.SubscribedEvents, State: st,
		RequestHeaders: in.RequestHeaders, StatusCodesToRetryOn: in.StatusCodesToRetryOn, PropagateTrace: in.PropagateTrace,
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
	SigningSecrets       []signingSecret  `json:"signing_secrets"`
	NewSigningSecret     string           `json:"new_signing_secret,omitempty"`
	CreateTime           string           `json:"create_time"`
	UpdateTime           string           `json:"update_time"`
	// FailingSince is the first failed attempt after the last success: how long the endpoint
	// has been failing. Absent while healthy.
	FailingSince string `json:"failing_since,omitempty"`
}

// signingSecret is one active secret as both surfaces show it: never more than its first
// characters. A secret without expire_time does not expire.
type signingSecret struct {
	TruncatedSecret string `json:"truncated_secret"`
	ExpireTime      string `json:"expire_time,omitempty"`
}

func (h *Handler) signingSecrets(w webhook.Webhook) []signingSecret {
	out := []signingSecret{}
	for _, s := range w.ActiveSecrets(h.Now()) {
		out = append(out, signingSecret{TruncatedSecret: s.Truncated, ExpireTime: ts(s.ExpireTime)})
	}
	return out
}

func (h *Handler) resourceWebhook(w webhook.Webhook) resourceWebhook {
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
		SigningSecrets: h.signingSecrets(w), CreateTime: ts(w.CreateTime), UpdateTime: ts(w.UpdateTime),
		FailingSince: ts(w.FailingSince),
	}
}

func (h *Handler) createResource(ctx context.Context, r *http.Request, project string) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var in resourceWebhookIn
	if _, err := decodeObject(body, &in, false); err != nil {
		return nil, err
	}
	id := r.URL.Query().Get("webhook_id")
	if id == "" {
		id = r.URL.Query().Get("webhookId")
	}
	if in.Name != "" {
		p, nameID, ok := parseWebhookName(in.Name)
		switch {
		case !ok:
			return nil, badRequest("name: %q is not a webhook name like projects/{project}/webhooks/{webhook}", truncate(in.Name))
		case p != project:
			return nil, badRequest("name: %q is not in project %s, the project of the request", truncate(in.Name), project)
		case id != "" && id != nameID:
			return nil, badRequest("webhook_id %q and the id in name %q differ", truncate(id), truncate(in.Name))
		}
		id = nameID
	}
	set, err := in.settings()
	if err != nil {
		return nil, err
	}
	created, err := h.Service.CreateWebhook(ctx, project, management.CreateRequest{ID: id, Settings: set})
	if err != nil {
		return nil, err
	}
	out := h.resourceWebhook(created.Webhook)
	out.NewSigningSecret = created.Secret.Reveal()
	return out, nil
}

// parseWebhookName splits projects/{p}/webhooks/{id}.
func parseWebhookName(name string) (project, id string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "webhooks" || parts[1] == "" || parts[3] == "" {
		return "", "", false
	}
	return parts[1], parts[3], true
}

type resourceList struct {
	Webhooks      []resourceWebhook `json:"webhooks"`
	NextPageToken string            `json:"next_page_token,omitempty"`
}

func (h *Handler) listResource(ctx context.Context, r *http.Request, project string) (any, error) {
	size, err := pageSize(r)
	if err != nil {
		return nil, err
	}
	hooks, next, err := h.listWebhooks(ctx, project, management.PageRequest{Size: size, Token: pageToken(r)})
	if err != nil {
		return nil, err
	}
	out := resourceList{Webhooks: []resourceWebhook{}, NextPageToken: next}
	for _, w := range hooks {
		out.Webhooks = append(out.Webhooks, h.resourceWebhook(w))
	}
	return out, nil
}

func (h *Handler) getResource(ctx context.Context, r *http.Request, project string) (any, error) {
	wh, err := h.Service.GetWebhook(ctx, project, r.PathValue("webhook"))
	if err != nil {
		return nil, err
	}
	return h.resourceWebhook(wh), nil
}

// deleteWebhook serves Delete on both surfaces: the answer is {} (google.protobuf.Empty).
func (h *Handler) deleteWebhook(ctx context.Context, r *http.Request, project string) (any, error) {
	return struct{}{}, h.Service.DeleteWebhook(ctx, project, r.PathValue("webhook"))
}

func (h *Handler) updateResource(ctx context.Context, r *http.Request, project string) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var in resourceWebhookIn
	present, err := decodeObject(body, &in, true)
	if err != nil {
		return nil, err
	}
	mask, err := resourceFields.fields(r, present)
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
	return h.resourceWebhook(wh), nil
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

// emptyBody accepts an absent, empty, null or {} body (a custom method without parameters).
func emptyBody(r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	_, err = decodeObject(body, &struct{}{}, true)
	return err
}

type rotateRequest struct {
	RevocationBehavior string `json:"revocation_behavior"`
}

type rotateResponse struct {
	Secret string `json:"secret"`
}

// rotate serves :rotateSigningSecret on both surfaces; without revocation_behavior the previous
// secrets keep signing for 24 h, the choice that never breaks a receiver.
func (h *Handler) rotate(ctx context.Context, r *http.Request, project string) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var in rotateRequest
	if _, err := decodeObject(body, &in, true); err != nil {
		return nil, err
	}
	how, err := enum("revocation_behavior", in.RevocationBehavior, revocations, isResourcePath(r))
	if err != nil {
		return nil, err
	}
	rev := management.RevokeAfter24h
	if how == "immediately" {
		rev = management.RevokeImmediately
	}
	sec, err := h.Service.RotateSigningSecret(ctx, project, r.PathValue("webhook"), rev)
	if err != nil {
		return nil, err
	}
	return rotateResponse{Secret: sec.Reveal()}, nil
}

func isResourcePath(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/v1/projects/") }

// renamerFor maps Surface A's field names in service errors to the surface of the request.
func renamerFor(r *http.Request) func(string) string {
	if isResourcePath(r) {
		return nil
	}
	return geminiFieldName
}
