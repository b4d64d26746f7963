package management

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/secrets"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// CreateRequest creates a webhook. An empty ID is generated.
type CreateRequest struct {
	ID       string
	Settings Settings
}

// Created is a new webhook and its first signing secret, shown to the caller once.
type Created struct {
	Webhook webhook.Webhook
	Secret  secrets.Secret
}

// CreateWebhook registers a webhook with a new signing secret. ALREADY_EXISTS if the id is taken,
// RESOURCE_EXHAUSTED if the project is at its webhook limit.
func (s *Service) CreateWebhook(ctx context.Context, project string, req CreateRequest) (Created, error) {
	id := req.ID
	if id == "" {
		id = newWebhookID()
	} else if !ValidWebhookID(id) {
		return Created{}, invalid("webhook_id", "%q must be 1 to 63 lower-case letters, digits or hyphens, starting with a letter and not ending with a hyphen", truncate(id))
	}
	set := req.Settings
	if set.State == "" {
		set.State = webhook.Enabled
	}
	if err := s.check(ctx, set, Settable); err != nil {
		return Created{}, err
	}

	now := s.now()
	// EnableTime is left zero: the write stamps Firestore's commit time (webhook.Webhook).
	w := webhook.Webhook{Project: project, ID: id, CreateTime: now, UpdateTime: now}
	apply(&w, set, Settable)
	sec, err := secrets.Generate()
	if err != nil {
		return Created{}, err
	}
	sealed, err := s.Keyring.SealSecret(ctx, sec, w.Name())
	if err != nil {
		return Created{}, err
	}
	w.Secrets = []webhook.Secret{{Sealed: sealed, Truncated: sec.Truncated(), CreateTime: now}}

	err = s.Store.CreateWebhookWithin(ctx, w, s.maxWebhooks)
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return Created{}, Errorf(AlreadyExists, "%s already exists", w.Name())
	case errors.Is(err, store.ErrLimit):
		return Created{}, Errorf(ResourceExhausted, "project %s already has %d webhooks, the most it may have; delete one first", project, s.maxWebhooks)
	case err != nil:
		return Created{}, err
	}
	s.Log.InfoContext(ctx, "webhook created", "project", project, "webhook", id, "secret", sec.Truncated())
	return Created{Webhook: w, Secret: sec}, nil
}

// GetWebhook reads one webhook.
func (s *Service) GetWebhook(ctx context.Context, project, id string) (webhook.Webhook, error) {
	if !ValidWebhookID(id) {
		// It cannot exist; the same answer as for any other missing webhook.
		return webhook.Webhook{}, notFound(webhook.Name(project, id))
	}
	w, err := s.Store.GetWebhook(ctx, project, id)
	if errors.Is(err, store.ErrNotFound) {
		return w, notFound(webhook.Name(project, id))
	}
	return w, err
}

// ListWebhooks returns a page of the project's webhooks in creation order and the token of the
// next page ("" after the last).
func (s *Service) ListWebhooks(ctx context.Context, project string, page PageRequest) ([]webhook.Webhook, string, error) {
	size, err := page.size()
	if err != nil {
		return nil, "", err
	}
	want := pageToken{Kind: "webhooks", Project: project}
	tok, err := decodeToken(page.Token, want)
	if err != nil {
		return nil, "", err
	}
	// One more than asked tells whether a next page exists without an empty last page.
	hooks, err := s.Store.ListWebhooksPage(ctx, project, size+1, store.WebhookCursor{CreateTime: tok.Time, ID: tok.ID})
	if err != nil {
		return nil, "", err
	}
	if len(hooks) <= size {
		return hooks, "", nil
	}
	hooks = hooks[:size]
	last := hooks[size-1]
	want.Time, want.ID = last.CreateTime, last.ID
	return hooks, want.encode(), nil
}

// UpdateWebhook sets the fields named by mask to their values in set (AIP-134). An empty mask
// changes nothing and returns the webhook as it is. Re-enabling a webhook resets its health
// (the failure streak and the reason it was disabled), and so does a new URL: the streak was
// another endpoint's. Re-enabling also starts a new incarnation: deliveries queued before it
// are cancelled, however soon their next attempt comes (shared/delivery/README.md, Guarantees).
func (s *Service) UpdateWebhook(ctx context.Context, project, id string, set Settings, mask []Field) (webhook.Webhook, error) {
	if len(mask) == 0 {
		return s.GetWebhook(ctx, project, id)
	}
	if !ValidWebhookID(id) {
		return webhook.Webhook{}, notFound(webhook.Name(project, id))
	}
	if err := s.check(ctx, set, mask); err != nil {
		return webhook.Webhook{}, err
	}
	now := s.now()
	w, err := s.Store.UpdateWebhook(ctx, project, id, func(w *webhook.Webhook) error {
		before := *w
		apply(w, set, mask)
		enabled := w.State == webhook.Enabled && before.State != webhook.Enabled
		if enabled || w.URL != before.URL {
			// A new URL or a re-enable resets its health, and an old endpoint's pause with it.
			w.FailingSince, w.RetryingSince, w.DisabledReason, w.PausedUntil = time.Time{}, time.Time{}, "", time.Time{}
		}
		if enabled {
			w.EnableTime = time.Time{} // stamped with Firestore's commit time (webhook.Webhook)
		}
		w.UpdateTime = now
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return w, notFound(webhook.Name(project, id))
	}
	if err != nil {
		return w, err
	}
	s.Log.InfoContext(ctx, "webhook updated", "project", project, "webhook", id, "fields", fieldList(mask), "state", string(w.State))
	return w, nil
}

// DeleteWebhook removes a webhook. Its pending deliveries are cancelled by Deliver within the
// cache TTL; its delivery records stay readable until they expire.
func (s *Service) DeleteWebhook(ctx context.Context, project, id string) error {
	if !ValidWebhookID(id) {
		return notFound(webhook.Name(project, id))
	}
	err := s.Store.DeleteWebhook(ctx, project, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound(webhook.Name(project, id))
	}
	if err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "webhook deleted", "project", project, "webhook", id)
	return nil
}

// webhookIDEncoding is lower-case base32 without padding: ids stay AIP-122 resource ids.
var webhookIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newWebhookID is "wh-" and 16 random base32 characters (80 bits).
func newWebhookID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "wh-" + webhookIDEncoding.EncodeToString(b)
}

func fieldList(fs []Field) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}
