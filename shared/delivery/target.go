package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jobhooks/jobhooks/shared/retry"
	"github.com/jobhooks/jobhooks/shared/signing"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/task"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// target is where and how one attempt is sent: cached per webhook for at most the cache TTL, so
// an API change takes effect everywhere within it and secrets are decrypted once per TTL.
type target struct {
	static    bool
	webhook   webhook.Webhook
	url       string
	headers   []webhook.Header
	retriesOn func(int) bool
	signer    Signer
}

// cancelled means the delivery's webhook is gone or no longer enabled.
type cancelled struct{ reason string }

func (c *cancelled) Error() string { return "delivery cancelled: " + c.reason }

func (s *Service) target(ctx context.Context, t task.Task) (target, error) {
	if t.Dynamic() {
		if s.DynamicSigner == nil {
			return target{}, errors.New("delivery: no signer for dynamic webhooks is configured")
		}
		sig, err := s.DynamicSigner(ctx, t.URL)
		if err != nil {
			return target{}, err
		}
		return target{url: t.URL, retriesOn: webhook.Webhook{}.RetriesOn, signer: sig}, nil
	}
	tg, err := s.webhooks.Get(t.Project+"/"+t.Webhook, func() (target, error) { return s.loadWebhook(ctx, t) })
	if err != nil {
		return tg, err
	}
	if tg.webhook.State != webhook.Enabled {
		return tg, &cancelled{reason: "webhook_" + stateWord(tg.webhook.State)}
	}
	return tg, nil
}

func (s *Service) loadWebhook(ctx context.Context, t task.Task) (target, error) {
	w, err := s.Store.GetWebhook(ctx, t.Project, t.Webhook)
	if errors.Is(err, store.ErrNotFound) {
		return target{}, &cancelled{reason: "webhook_deleted"}
	}
	if err != nil {
		return target{}, err
	}
	tg := target{static: true, webhook: w, url: w.URL, headers: w.RequestHeaders, retriesOn: w.RetriesOn}
	if w.State != webhook.Enabled {
		return tg, nil
	}
	active := w.ActiveSecrets(s.Now())
	if len(active) == 0 {
		return target{}, fmt.Errorf("delivery: webhook %s has no active signing secret: %w", w.Name(), errNoSecret)
	}
	keys := make([][]byte, 0, len(active))
	for _, sec := range active {
		key, err := s.Keyring.Open(ctx, sec.Sealed, w.Name())
		if err != nil {
			return target{}, fmt.Errorf("delivery: secret of %s: %w", w.Name(), err)
		}
		keys = append(keys, key)
	}
	tg.signer = signing.NewHMAC(keys...)
	return tg, nil
}

var errNoSecret = errors.New("no active secret")

func stateWord(s webhook.State) string {
	if s == webhook.DisabledDueToFailedDeliveries {
		return "disabled_due_to_failed_deliveries"
	}
	return "disabled"
}

// noteHealth keeps the webhook's failure streak (SPEC §4 auto-disable) and handles 410. It
// writes only when health changes — the first failure after a success, the first success after
// failures — never per attempt. Errors are logged: health must not decide the task's ack.
func (s *Service) noteHealth(ctx context.Context, t task.Task, tg target, res retry.Result, now time.Time) {
	key := t.Project + "/" + t.Webhook
	w := tg.webhook
	var err error
	switch res.Verdict {
	case retry.Delivered:
		if !w.FailingSince.IsZero() {
			err = s.Store.MarkHealthy(ctx, t.Project, t.Webhook)
			s.webhooks.Forget(key)
		}
	case retry.Gone:
		err = s.Store.DisableForFailures(ctx, t.Project, t.Webhook, "endpoint answered 410 Gone", now)
		s.webhooks.Forget(key)
		s.Log.WarnContext(ctx, "webhook disabled", "project", t.Project, "webhook", t.Webhook, "reason", "gone")
	default:
		since := w.FailingSince
		if since.IsZero() {
			since, err = s.Store.MarkFailing(ctx, t.Project, t.Webhook, now)
			s.webhooks.Forget(key)
		}
		if err == nil && now.Sub(since) >= s.cfg.AutoDisableAfter {
			reason := fmt.Sprintf("no successful delivery since %s", since.UTC().Format(time.RFC3339))
			err = s.Store.DisableForFailures(ctx, t.Project, t.Webhook, reason, now)
			s.webhooks.Forget(key)
			s.Log.WarnContext(ctx, "webhook disabled", "project", t.Project, "webhook", t.Webhook, "reason", reason)
		}
	}
	if err != nil {
		s.Log.ErrorContext(ctx, "webhook health not recorded", "project", t.Project, "webhook", t.Webhook, "error", err.Error())
	}
}
