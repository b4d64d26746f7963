package management

import (
	"context"
	"fmt"
	"time"

	"github.com/jobhooks/jobhooks/shared/config"
)

// The calls that make Jobhooks POST somewhere are limited per project, across every instance (a
// counter document per project and call in Firestore), so that the API cannot be turned into an
// amplifier against a webhook's URL (shared/restapi/README.md, Limits and rules): past a limit a
// call answers 429 RESOURCE_EXHAUSTED with Retry-After, and sends nothing.
type limits struct {
	pings, retries, replays int
	maxPending              int
}

func limitsOf(cfg config.Config) limits {
	d := config.Defaults()
	pick := func(n, def int) int {
		if n <= 0 {
			return def
		}
		return n
	}
	return limits{
		pings: pick(cfg.PingsPerMinute, d.PingsPerMinute), retries: pick(cfg.RetriesPerMinute, d.RetriesPerMinute),
		replays: pick(cfg.ReplaysPerHour, d.ReplaysPerHour), maxPending: pick(cfg.MaxPendingResends, d.MaxPendingResends),
	}
}

// take counts one call of action by project against limit per window, or refuses it.
func (s *Service) take(ctx context.Context, project, action string, limit int, window time.Duration) error {
	wait, err := s.Store.TakeLimit(ctx, project, action, limit, window, s.now())
	if err != nil {
		return err
	}
	if wait > 0 {
		return &Error{Code: ResourceExhausted, RetryAfter: wait,
			Message: fmt.Sprintf("project %s has used its %d %s calls per %s; try again in %s", project, limit, action, windowWord(window), wait.Round(time.Second))}
	}
	return nil
}

// notBusy refuses a re-send to a webhook that still has maxPending deliveries pending: they are
// being retried already, and re-sending more would only queue more POSTs to the same URL.
func (s *Service) notBusy(ctx context.Context, project, webhookID string) error {
	n, err := s.Store.CountPending(ctx, project, webhookID, s.limits.maxPending)
	if err != nil {
		return err
	}
	if n >= s.limits.maxPending {
		return &Error{Code: ResourceExhausted, RetryAfter: time.Minute,
			Message: fmt.Sprintf("%d deliveries of webhook %s are still pending; retry or replay once they have finished", n, webhookID)}
	}
	return nil
}

func windowWord(d time.Duration) string {
	if d == time.Hour {
		return "hour"
	}
	return "minute"
}
