package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	signer    signing.Signer
	// propagateTrace sends the attempt's traceparent to the receiver (the webhook opted in).
	propagateTrace bool
	// host is url's, and spanName the name of an attempt's span: made once per target, not per
	// attempt, as the target is cached.
	host, spanName string
	// origin is url's scheme, host and port: the key of the deployment's cap (throttle.go).
	origin string
	// loaded is when the webhook was read, by Firestore's clock as a task's QueueTime is: a
	// cancellation is decided on a copy read after the task was queued (see target).
	loaded time.Time
}

// cancelled means the delivery's webhook is gone or no longer enabled.
type cancelled struct{ reason string }

func (c *cancelled) Error() string { return "delivery cancelled: " + c.reason }

// target is where and how task t is sent. known is the webhook as the caller read it at read
// (Dispatch has it from its fan-out), used on a cache miss instead of a read; nil makes target
// read it. A target built from known is cached only until the cache TTL after read: a copy
// already 25 s old is good for 5 s more, not 30, so a change made through the API shows within
// one TTL everywhere.
func (s *Service) target(ctx context.Context, t task.Task, known *webhook.Webhook, read time.Time) (target, error) {
	if t.Dynamic() {
		if s.DynamicSigner == nil {
			return target{}, errors.New("delivery: no signer for dynamic webhooks is configured")
		}
		sig, err := s.DynamicSigner(ctx, t.URL)
		if err != nil {
			return target{}, err
		}
		return withHost(target{url: t.URL, retriesOn: webhook.Webhook{}.RetriesOn, signer: sig}), nil
	}
	key := t.Project + "/" + t.Webhook
	load := func() (target, time.Time, error) {
		read := s.Now()
		tg, err := s.loadWebhook(ctx, t)
		return tg, read, err
	}
	first := load
	if known != nil {
		first = func() (target, time.Time, error) {
			tg, err := s.targetOf(ctx, *known)
			return tg, read, err
		}
	}
	tg, err := s.webhooks.GetRead(key, first)
	if err == nil && cancels(tg.webhook, t) != "" && t.QueueTime.After(tg.loaded) {
		// The cached copy would cancel a task queued after it was read: the webhook may have
		// been re-created or re-enabled since. Cancelling is final, so decide on a fresh read.
		s.webhooks.Forget(key)
		tg, err = s.webhooks.GetRead(key, load)
	}
	if err != nil {
		return tg, err
	}
	if reason := cancels(tg.webhook, t); reason != "" {
		return tg, &cancelled{reason: reason}
	}
	return tg, nil
}

// cancels says why a task may not be sent to webhook w, or "" if it may: the webhook is not
// enabled, or the task was queued before the webhook's current incarnation began (it was
// deleted and re-created under the same id, or disabled and enabled again, since).
func cancels(w webhook.Webhook, t task.Task) string {
	switch {
	case w.State != webhook.Enabled:
		return "webhook_" + stateWord(w.State)
	case w.Owns(t.QueueTime):
		return ""
	case t.QueueTime.Before(w.CreateTime):
		return "webhook_recreated"
	default:
		return "webhook_reenabled"
	}
}

func (s *Service) loadWebhook(ctx context.Context, t task.Task) (target, error) {
	w, err := s.Store.GetWebhook(ctx, t.Project, t.Webhook)
	if errors.Is(err, store.ErrNotFound) {
		return target{}, &cancelled{reason: "webhook_deleted"}
	}
	if err != nil {
		return target{}, err
	}
	return s.targetOf(ctx, w)
}

// targetOf builds the target of webhook w: its secrets are decrypted here.
func (s *Service) targetOf(ctx context.Context, w webhook.Webhook) (target, error) {
	tg := withHost(target{static: true, webhook: w, url: w.URL, headers: w.RequestHeaders, retriesOn: w.RetriesOn, loaded: w.ReadTime,
		propagateTrace: w.PropagateTrace})
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

// withHost fills tg's host and span name from its URL.
func withHost(tg target) target {
	tg.host = hostOf(tg.url)
	tg.spanName = spanName(tg.host)
	tg.origin = originOf(tg.url, tg.host)
	return tg
}

func stateWord(s webhook.State) string {
	if s == webhook.DisabledDueToFailedDeliveries {
		return "disabled_due_to_failed_deliveries"
	}
	return "disabled"
}

// noteHealth keeps the webhook's failure streak (shared/delivery/README.md, Guarantees:
// auto-disable) and handles 410. It writes only when health changes — the first failure after a
// success, the first success after failures — never per attempt. Errors are logged: health must not
// decide the task's ack, except for a 410's disable, which is returned: the redelivery finds the
// record final and repairs it (settled), while an acknowledged task would leave the webhook
// enabled.
func (s *Service) noteHealth(ctx context.Context, t task.Task, tg target, res retry.Result, now time.Time) error {
	key := t.Project + "/" + t.Webhook
	// The in-flight bound's steps are timed by the answers, not by when the attempts began: two
	// 429s answered a moment apart are one step, however long their POSTs took.
	answered := s.Now()
	w := tg.webhook
	var err error
	switch res.Verdict {
	case retry.Delivered:
		if !w.FailingSince.IsZero() {
			// Ends a pause too. A success the store holds back for a second is written after it.
			_, _, err = s.health.note(ctx, key, true, false, now)
			s.webhooks.Forget(key)
			s.pauses.m.Delete(key)
		}
		if _, grow := w.Regrown(answered, s.cfg.InFlightStep); grow {
			err = errors.Join(err, s.setInFlight(ctx, t, answered, "regrown", func(w webhook.Webhook) (int, bool) { return w.Regrown(answered, s.cfg.InFlightStep) }))
		}
	case retry.Gone:
		s.webhooks.Forget(key)
		if err := s.Store.DisableGone(ctx, t.Project, t.Webhook, tg.url, t.QueueTime, now); err != nil {
			return err
		}
		s.Log.WarnContext(ctx, "webhook disabled", "project", t.Project, "webhook", t.Webhook, "reason", "gone")
	default:
		if res.Reason == reason429 && res.NotBefore.IsZero() {
			// A 429 without Retry-After: the endpoint asks for less at once. One with a
			// Retry-After says when instead (a pause, or this delivery's own next time).
			if _, lower := w.Lowered(answered, s.cfg.InFlightStep); lower {
				err = s.setInFlight(ctx, t, answered, "lowered", func(w webhook.Webhook) (int, bool) { return w.Lowered(answered, s.cfg.InFlightStep) })
			}
		}
		if res.NotBefore.Sub(now) >= s.cfg.RetryGap && res.NotBefore.After(w.PausedUntil.Add(time.Second)) {
			// The endpoint's Retry-After holds for the whole endpoint, not this delivery alone.
			// One shorter than the retry gap holds for this delivery only, and a pause moves only
			// when it moves by more than a second: the webhook document is not written per
			// attempt.
			_, perr := s.Store.PauseUntil(ctx, t.Project, t.Webhook, res.NotBefore)
			s.webhooks.Forget(key)
			s.pauses.note(key, res.NotBefore, now)
			if perr == nil {
				s.Log.WarnContext(ctx, "endpoint paused", "project", t.Project, "webhook", t.Webhook,
					"until", res.NotBefore, "status", res.Reason)
			}
			err = perr
		}
		since := w.FailingSince
		var serr error
		if retrying := res.Verdict == retry.Again; (retrying && w.RetryingSince.IsZero()) || since.IsZero() {
			var held bool
			since, held, serr = s.health.note(ctx, key, false, retrying, now)
			if held {
				// Written within a second: the streak is young, far from an auto-disable.
				since = now
			}
			s.webhooks.Forget(key)
		}
		if serr == nil && now.Sub(since) >= s.cfg.AutoDisableAfter {
			serr = s.autoDisable(ctx, t, since, now)
			s.webhooks.Forget(key)
		}
		err = errors.Join(err, serr)
	}
	if err != nil {
		s.Log.ErrorContext(ctx, "webhook health not recorded", "project", t.Project, "webhook", t.Webhook, "error", err.Error())
	}
	return nil
}

// reason429 is retry.Classify's reason of a 429 Too Many Requests.
const reason429 = "status_429"

// setInFlight changes the webhook's lowered in-flight bound as change says on the stored copy
// (shared/delivery/README.md, Throttle): halved on a 429 without Retry-After, grown back by one per
// step of successes. The instance's cached copy is dropped, so its next delivery obeys the new bound.
func (s *Service) setInFlight(ctx context.Context, t task.Task, now time.Time, what string, change func(webhook.Webhook) (int, bool)) error {
	key := t.Project + "/" + t.Webhook
	// Once per step per instance: a copy cached before another instance's change would ask on
	// every delivery until it is read again.
	if last, ok := s.inFlightTried.Load(key); ok && now.Sub(last.(time.Time)) < s.cfg.InFlightStep {
		return nil
	}
	s.inFlightTried.Store(key, now)
	n, err := s.Store.SetAllowedInFlight(ctx, t.Project, t.Webhook, now, change)
	s.webhooks.Forget(key)
	if err == nil {
		level := slog.LevelInfo
		if what == "lowered" {
			level = slog.LevelWarn
		}
		s.Log.Log(ctx, level, "endpoint in-flight bound "+what, "project", t.Project, "webhook", t.Webhook, "allowed_in_flight", n)
	}
	return err
}

// autoDisable disables a webhook whose failure streak began at since, unless a success came
// after since: an instance whose cached copy did not show the streak yet delivers without
// writing health, so the store's delivery records are asked once, here, before disabling.
func (s *Service) autoDisable(ctx context.Context, t task.Task, streak, now time.Time) error {
	since := streak
	last, ok, err := s.Store.LastSuccess(ctx, t.Project, t.Webhook, streak)
	if err != nil {
		return err
	}
	if ok {
		since = last
		if now.Sub(last) < s.cfg.AutoDisableAfter {
			return s.Store.RestartStreak(ctx, t.Project, t.Webhook, last)
		}
	}
	reason := fmt.Sprintf("no successful delivery since %s", since.UTC().Format(time.RFC3339))
	s.Log.WarnContext(ctx, "webhook disabled", "project", t.Project, "webhook", t.Webhook, "reason", reason)
	return s.Store.DisableAfterStreak(ctx, t.Project, t.Webhook, reason, streak, now)
}
