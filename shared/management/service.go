// Package management is the service layer of the management API (shared/restapi/README.md, The
// management API): create, read, update and delete webhooks, rotate their signing secrets, ping
// them, and read, retry and replay their deliveries. Both HTTP surfaces (shared/restapi) are thin
// codecs over it.
//
// Its promises:
//   - Every method is scoped by the project it is given and touches nothing outside it; the
//     caller (the HTTP layer) has already checked that the API key belongs to that project.
//   - Every write is validated as shared/restapi/README.md, Limits and rules says before anything
//     is stored; a refused request changes nothing. Failures meant for the caller are *Error values
//     carrying a google.rpc code and a message naming the offending field.
//   - A signing secret leaves this package in plain text exactly twice: in the result of
//     CreateWebhook and of RotateSigningSecret. It is stored only sealed with the KEK, bound to
//     the webhook's resource name, and never logged.
//   - Changes reach Dispatch and Deliver within their cache TTL (≤ 30 s): a rotation's
//     "immediately" and a disabled webhook take effect within that time.
//   - Safe for concurrent use; writes to one webhook are read-modify-write transactions, so a
//     health change written by Deliver meanwhile is kept.
package management

import (
	"cmp"
	"log/slog"
	"time"

	"github.com/jobhooks/jobhooks/shared/cache"
	"github.com/jobhooks/jobhooks/shared/config"
	"github.com/jobhooks/jobhooks/shared/secrets"
	"github.com/jobhooks/jobhooks/shared/sender"
	"github.com/jobhooks/jobhooks/shared/store"
	"github.com/jobhooks/jobhooks/shared/topics"
	"github.com/jobhooks/jobhooks/shared/webhook"
)

// Deps are the per-instance clients the service uses.
type Deps struct {
	Store   *store.Store
	Keyring *secrets.Keyring
	// Publisher publishes requests (shared/request): pings, retries and replays. The API may
	// publish nothing else; Dispatch builds what is sent from the store.
	Publisher *topics.Publisher
	// URLs checks webhook URLs (shared/delivery/README.md, Security); it honours the deployment's
	// AllowInsecureTargets.
	URLs *sender.Client
	Log  *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service is the management API's logic. One per instance.
type Service struct {
	Deps
	maxWebhooks, maxReplay int
	// linkGenerations caches each project's portal-link generation (portallinks.go).
	linkGenerations *cache.TTL[string, int64]
	limits          limits
	breakerAfter    time.Duration
	// userAgent is what the deliveries' sender sends, shown among what a delivery sent.
	userAgent string
}

// New builds the service.
func New(cfg config.Config, d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	max := cfg.MaxWebhooksPerProject
	if max <= 0 {
		max = config.Defaults().MaxWebhooksPerProject
	}
	replay := cfg.MaxReplay
	if replay <= 0 {
		replay = config.Defaults().MaxReplay
	}
	ttl := cfg.CacheTTL
	if ttl <= 0 || ttl > config.Defaults().CacheTTL {
		ttl = config.Defaults().CacheTTL
	}
	return &Service{Deps: d, maxWebhooks: max, maxReplay: replay, linkGenerations: cache.New[string, int64](ttl, d.Now), limits: limitsOf(cfg),
		breakerAfter: cmp.Or(cfg.BreakerAfter, config.Defaults().BreakerAfter), userAgent: cfg.UserAgent()}
}

// EndpointState is what holds deliveries to w's endpoint back now.
func (s *Service) EndpointState(w webhook.Webhook) webhook.EndpointState {
	return w.EndpointState(s.Now(), s.breakerAfter)
}

// now is the clock at Firestore's precision (microseconds), so that a time returned by a write
// equals the one a later read returns.
func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }
