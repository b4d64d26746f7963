package restapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/jobhooks/jobhooks/shared/management"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// The webhook methods, written once for both surfaces. List, get, create and update run over a
// surface's wire format (Surface A's in resource.go, Surface B's in gemini.go); delete and
// :rotateSigningSecret take and answer the same JSON on both.

// webhookIn is a webhook as a surface's create or update carries it.
type webhookIn interface {
	settings() (management.Settings, error)
}

// surface is one wire format of a webhook: In as requests carry it, Out as answers show it.
type surface[In webhookIn, Out any] struct {
	// fields are the surface's names of the settable and output-only fields (update masks).
	fields fieldNames
	// show is a webhook as the surface answers it; newSecret is the signing secret a create
	// just made, "" for every other answer.
	show func(h *Handler, w webhook.Webhook, newSecret string) Out
	// createID is the id a create asks for ("" lets the service choose); nil where the surface
	// has no way to ask for one.
	createID func(r *http.Request, project string, in In) (string, error)
	// detail adds to the answer of a get what costs more than a list may spend per webhook; nil
	// where the surface shows nothing more.
	detail func(h *Handler, ctx context.Context, project string, w webhook.Webhook, out *Out) error
}

// webhookList is a page of webhooks, the same JSON on both surfaces.
type webhookList[Out any] struct {
	Webhooks      []Out  `json:"webhooks"`
	NextPageToken string `json:"next_page_token,omitempty"`
}

func (s surface[In, Out]) list(h *Handler, ctx context.Context, r *http.Request, project string) (any, error) {
	size, err := pageSize(r)
	if err != nil {
		return nil, err
	}
	hooks, next, err := h.listWebhooks(ctx, project, management.PageRequest{Size: size, Token: pageToken(r)})
	if err != nil {
		return nil, err
	}
	out := webhookList[Out]{Webhooks: []Out{}, NextPageToken: next}
	for _, w := range hooks {
		out.Webhooks = append(out.Webhooks, s.show(h, w, ""))
	}
	return out, nil
}

func (s surface[In, Out]) get(h *Handler, ctx context.Context, r *http.Request, project string) (any, error) {
	wh, err := h.Service.GetWebhook(ctx, project, r.PathValue("webhook"))
	if err != nil {
		return nil, err
	}
	out := s.show(h, wh, "")
	if s.detail != nil {
		if err := s.detail(h, ctx, project, wh, &out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s surface[In, Out]) create(h *Handler, ctx context.Context, r *http.Request, project string) (any, error) {
	req, err := s.decodeCreate(r, project)
	if err != nil {
		return nil, err
	}
	created, err := h.Service.CreateWebhook(ctx, project, req)
	if err != nil {
		return nil, err
	}
	return s.show(h, created.Webhook, created.Secret.Reveal()), nil
}

func (s surface[In, Out]) update(h *Handler, ctx context.Context, r *http.Request, project string) (any, error) {
	set, mask, err := s.decodeUpdate(r)
	if err != nil {
		return nil, err
	}
	wh, err := h.Service.UpdateWebhook(ctx, project, r.PathValue("webhook"), set, mask)
	if err != nil {
		return nil, err
	}
	return s.show(h, wh, ""), nil
}

// decodeCreate reads a create request of project: what the service is given, or the
// INVALID_ARGUMENT the caller gets.
func (s surface[In, Out]) decodeCreate(r *http.Request, project string) (management.CreateRequest, error) {
	var in In
	if _, err := readObject(r, &in, false); err != nil {
		return management.CreateRequest{}, err
	}
	var req management.CreateRequest
	if s.createID != nil {
		id, err := s.createID(r, project, in)
		if err != nil {
			return management.CreateRequest{}, err
		}
		req.ID = id
	}
	set, err := in.settings()
	if err != nil {
		return management.CreateRequest{}, err
	}
	req.Settings = set
	return req, nil
}

// decodeUpdate reads an update request: the settings and the fields of them it changes.
func (s surface[In, Out]) decodeUpdate(r *http.Request) (management.Settings, []management.Field, error) {
	var in In
	present, err := readObject(r, &in, true)
	if err != nil {
		return management.Settings{}, nil, err
	}
	mask, err := s.fields.fields(r, present)
	if err != nil {
		return management.Settings{}, nil, err
	}
	set, err := in.settings()
	if err != nil {
		return management.Settings{}, nil, err
	}
	return set, mask, nil
}

// webhookStates are the webhook states by their lower-case spelling (both surfaces).
var webhookStates = map[string]webhook.State{
	"enabled":                           webhook.Enabled,
	"disabled":                          webhook.Disabled,
	"disabled_due_to_failed_deliveries": webhook.DisabledDueToFailedDeliveries,
}

// echoedOutput are the output-only members both surfaces show and a request may carry back: a
// client may send what it read. They are accepted and ignored (AIP-203).
type echoedOutput struct {
	SigningSecrets   json.RawMessage `json:"signing_secrets"`
	NewSigningSecret json.RawMessage `json:"new_signing_secret"`
	CreateTime       json.RawMessage `json:"create_time"`
	UpdateTime       json.RawMessage `json:"update_time"`
}

// secretsAndTimes are those members as both surfaces answer them. A new_signing_secret is only
// in the answer to a create; it is never shown again.
type secretsAndTimes struct {
	SigningSecrets   []signingSecret `json:"signing_secrets"`
	NewSigningSecret string          `json:"new_signing_secret,omitempty"`
	CreateTime       string          `json:"create_time"`
	UpdateTime       string          `json:"update_time"`
}

// signingSecret is one active secret: never more than its first characters. A secret without
// expire_time does not expire.
type signingSecret struct {
	TruncatedSecret string `json:"truncated_secret"`
	ExpireTime      string `json:"expire_time,omitempty"`
}

func (h *Handler) secretsAndTimes(w webhook.Webhook, newSecret string) secretsAndTimes {
	out := secretsAndTimes{
		SigningSecrets: []signingSecret{}, NewSigningSecret: newSecret,
		CreateTime: ts(w.CreateTime), UpdateTime: ts(w.UpdateTime),
	}
	for _, s := range w.ActiveSecrets(h.Now()) {
		out.SigningSecrets = append(out.SigningSecrets, signingSecret{TruncatedSecret: s.Truncated, ExpireTime: ts(s.ExpireTime)})
	}
	return out
}

// deleteWebhook serves Delete on both surfaces: the answer is {} (google.protobuf.Empty).
func (h *Handler) deleteWebhook(ctx context.Context, r *http.Request, project string) (any, error) {
	return struct{}{}, h.Service.DeleteWebhook(ctx, project, r.PathValue("webhook"))
}

// revocations are the rotation behaviours by their lower-case spelling (both surfaces).
var revocations = map[string]string{
	"revoke_previous_secrets_after_h24":   "after_h24",
	"revoke_previous_secrets_immediately": "immediately",
}

type rotateRequest struct {
	RevocationBehavior string `json:"revocation_behavior"`
}

type rotateResponse struct {
	Secret string `json:"secret"`
}

// rotate serves :rotateSigningSecret on both surfaces.
func (h *Handler) rotate(ctx context.Context, r *http.Request, project string) (any, error) {
	how, err := decodeRotation(r)
	if err != nil {
		return nil, err
	}
	sec, err := h.Service.RotateSigningSecret(ctx, project, r.PathValue("webhook"), how)
	if err != nil {
		return nil, err
	}
	return rotateResponse{Secret: sec.Reveal()}, nil
}

// decodeRotation reads a rotation request. Without revocation_behavior the previous secrets
// keep signing for 24 h, the choice that never breaks a receiver.
func decodeRotation(r *http.Request) (management.Revocation, error) {
	var in rotateRequest
	if _, err := readObject(r, &in, true); err != nil {
		return 0, err
	}
	how, err := enum("revocation_behavior", in.RevocationBehavior, revocations, isResourcePath(r))
	if err != nil {
		return 0, err
	}
	if how == "immediately" {
		return management.RevokeImmediately, nil
	}
	return management.RevokeAfter24h, nil
}

// emptyBody accepts an absent, empty, null or {} body (a custom method without parameters).
func emptyBody(r *http.Request) error {
	_, err := readObject(r, &struct{}{}, true)
	return err
}

func isResourcePath(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/v1/projects/") }

// renamerFor maps Surface A's field names in service errors to the surface of the request.
func renamerFor(r *http.Request) func(string) string {
	if isResourcePath(r) {
		return nil
	}
	return geminiFieldName
}
