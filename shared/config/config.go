// Package config reads every setting of a Jobhooks function from the environment, in one place.
//
// Each setting has a default that is right for production; the local stack and tests override
// them with environment variables. Load never reads anything but the environment, so it is cheap
// and safe to call from init code.
package config

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/shared/topics"
)

// Config holds the settings shared by the five functions.
type Config struct {
	// GoogleProject is the Google Cloud project that holds the topics, the database and the secrets.
	GoogleProject string
	// FirestoreDatabase is the Firestore database id.
	FirestoreDatabase string

	JobEventsTopic  string
	RequestsTopic   string
	DeliveriesTopic string
	WaitingTopic    string
	DeadLetterTopic string

	// KEKSecret is the Secret Manager secret whose versions are the key-encryption keys of
	// webhook signing secrets.
	KEKSecret string
	// SigningKeySecret is the Secret Manager secret whose versions are the deployment's
	// asymmetric signing keys (dynamic webhooks).
	SigningKeySecret string
	// SigningJWKSSecret is the Secret Manager secret whose newest version is the public key set
	// of SigningKeySecret, published at every rotation: all the JWKS function may read.
	SigningJWKSSecret string
	// PortalKeySecret is the Secret Manager secret whose versions sign portal links
	// (shared/restapi/README.md, Portal links).
	PortalKeySecret string
	// ConsoleFrameAncestors are the origins allowed to embed the console in a frame (a platform
	// embedding the portal); empty: no one may (frame-ancestors 'none').
	ConsoleFrameAncestors []string
	// JWKSURL is the JWKS function's public address, shown by the console's verify page.
	JWKSURL string

	// AllowInsecureTargets turns off the SSRF guard and allows plain http. Only the local stack sets it.
	AllowInsecureTargets bool
	// AttemptTimeout bounds one POST; it must stay below the deliveries subscription's ack deadline.
	AttemptTimeout time.Duration
	// FirstAttemptBudget bounds how long Dispatch waits for the first attempts of one event: an
	// endpoint still answering when it runs out is cancelled, recorded as a timeout and retried
	// by Deliver, so a slow endpoint never holds up the first attempts of other events. At most
	// AttemptTimeout.
	FirstAttemptBudget time.Duration
	// FirstAttemptConcurrency bounds how many first attempts of one event Dispatch makes at once.
	FirstAttemptConcurrency int
	// RetryGap is the least time between a failed attempt and the next one of the same delivery:
	// a push of its task sooner (a duplicate, Deliver receiving the task Dispatch just queued, a
	// redelivery the emulator makes twice) is handed back without a POST. Below the deliveries
	// subscription's minimum backoff (10 s), so a redelivery on Pub/Sub's schedule never waits.
	// Only the pipeline tests, whose subscriptions back off from 1 s, shorten it.
	RetryGap time.Duration
	// BreakerAfter is how long a static webhook fails without a success before its circuit
	// opens: then one probe per interval is POSTed, and every other delivery waits for the
	// next probe (shared/delivery/README.md, Decisions where the spec is silent).
	BreakerAfter time.Duration
	// MinProbeInterval and MaxProbeInterval bound the time between probes of an open circuit: a
	// quarter of how long the webhook has been failing.
	MinProbeInterval, MaxProbeInterval time.Duration
	// OriginMaxInFlight is this instance's share of the deployment's cap on requests in flight to
	// one origin (scheme, host and port) at once: Terraform divides the cap by the most instances
	// Dispatch and Deliver may run, so no origin ever sees more than the cap (shared/delivery/README.md,
	// Throttle). It bounds every target, per-request URIs included, with no store operation; 0: none.
	OriginMaxInFlight int
	// InFlightStep is the least time between two changes of an endpoint's lowered in-flight bound
	// (webhook.Webhook.AllowedInFlight): a 429 without Retry-After halves it at most once per
	// step, and it grows back by one per step of successes. Not read from the environment; the
	// tests lengthen it.
	InFlightStep time.Duration
	// SlotWait is how long Deliver holds a push whose endpoint has no free slot before handing
	// the task back (waiting, not failing). Dispatch does not wait: it hands such a target to Deliver.
	SlotWait time.Duration
	// RetryWindow is how long after the first attempt a delivery keeps being retried.
	RetryWindow time.Duration
	// AutoDisableAfter is how long a static webhook may fail without a success before it is disabled.
	AutoDisableAfter time.Duration
	// CacheTTL bounds how long an instance caches webhook configurations and decrypted secrets.
	CacheTTL time.Duration
	// RecordTTL is how long event, delivery and attempt records are kept (Firestore TTL field).
	RecordTTL time.Duration
	// RepublishAfter is the number of Pub/Sub deliveries of one task after which Deliver
	// re-publishes it as a new generation, staying clear of the subscription's 100-attempt dead-letter.
	RepublishAfter int
	// RepublishAge is the age (since Pub/Sub's publish time) at which Dispatch and Deliver
	// re-publish a message that still needs another try, whatever its delivery count: Pub/Sub
	// deletes a message left unacked for its subscription's retention (24 h) without
	// dead-lettering it.
	RepublishAge time.Duration
	// ClaimLease is how long a Dispatch instance holds an event it fans out; past it another
	// instance may take over (the holder crashed). Above FunctionTimeout, so that a holder the
	// platform has not killed yet is never taken over. Only the fault storm shortens it, as it
	// compresses the retry window.
	ClaimLease time.Duration
	// FunctionTimeout is the deployed request timeout of the push functions (Terraform's
	// function_timeout_seconds): an attempt plus its recording must end well within it.
	FunctionTimeout time.Duration
	// MaxWebhooksPerProject caps how many static webhooks one project may register
	// (shared/restapi/README.md, Limits and rules).
	MaxWebhooksPerProject int
	// MaxReplay caps how many deliveries one replay call re-sends: the API function reads and
	// publishes them all within the request, so a wider range is refused with a clear error.
	MaxReplay int
	// PingsPerMinute, RetriesPerMinute and ReplaysPerHour cap the management calls that send, per
	// project across every instance (shared/restapi/README.md, Limits and rules): past them a call
	// answers 429 RESOURCE_EXHAUSTED with Retry-After, so the API cannot be made an amplifier.
	PingsPerMinute, RetriesPerMinute, ReplaysPerHour int
	// MaxPendingResends: a retry or replay is refused while this many of the webhook's
	// deliveries are still pending.
	MaxPendingResends int
	// PublicBaseURL is the deployment's public base URL (the JWT issuer).
	PublicBaseURL string
	// SigningMode is how dynamic webhooks are signed: SigningModeV1a or SigningModeJWT.
	SigningMode string
	// JWTAlgorithm is the JWS algorithm of jwt mode: "RS256" or "EdDSA".
	JWTAlgorithm string
	// Version is reported in the User-Agent of every delivery.
	Version string

	// TraceExporter is where the push functions send their spans (shared/tracing/README.md, Export):
	// "cloudtrace" in production (Cloud Trace, through the Telemetry API), "file" on the local
	// stack, "none" to export nothing (log lines and messages still carry the trace context).
	TraceExporter string
	// TraceSampleRatio is the share of job events traced among those whose trace did not arrive
	// sampled; one that did is always traced.
	TraceSampleRatio float64
	// TraceDir holds the span files of the "file" exporter.
	TraceDir string
}

// UserAgent is the User-Agent of every delivery ("Jobhooks/<version>"): the sender sends it, and
// the API shows it among what a delivery sent.
func (c Config) UserAgent() string { return "Jobhooks/" + c.Version }

// Signing modes of dynamic webhooks (shared/verify/README.md, Signature schemes).
const (
	// SigningModeV1a signs with Ed25519, Standard Webhooks "v1a,<base64>" signatures.
	SigningModeV1a = "v1a"
	// SigningModeJWT puts a compact JWS in webhook-signature, for receivers written against the
	// Gemini documentation.
	SigningModeJWT = "jwt"
)

// Defaults are the production settings.
func Defaults() Config {
	return Config{
		FirestoreDatabase:       "(default)",
		JobEventsTopic:          topics.JobEvents,
		RequestsTopic:           topics.Requests,
		DeliveriesTopic:         topics.Deliveries,
		WaitingTopic:            topics.Waiting,
		DeadLetterTopic:         topics.DeadLetter,
		KEKSecret:               "jobhooks-kek",
		SigningKeySecret:        "jobhooks-signing-key",
		SigningJWKSSecret:       "jobhooks-signing-jwks",
		PortalKeySecret:         "jobhooks-portal-key",
		AttemptTimeout:          15 * time.Second,
		FirstAttemptBudget:      5 * time.Second,
		FirstAttemptConcurrency: 32,
		RetryWindow:             24 * time.Hour,
		AutoDisableAfter:        72 * time.Hour,
		CacheTTL:                30 * time.Second,
		RecordTTL:               30 * 24 * time.Hour,
		RepublishAfter:          90,
		RepublishAge:            20 * time.Hour,
		FunctionTimeout:         60 * time.Second,
		ClaimLease:              DefaultClaimLease,
		RetryGap:                DefaultRetryGap,
		BreakerAfter:            5 * time.Minute,
		MinProbeInterval:        30 * time.Second,
		OriginMaxInFlight:       DefaultOriginMaxInFlight,
		SlotWait:                10 * time.Second,
		InFlightStep:            time.Second,
		MaxProbeInterval:        10 * time.Minute,
		SigningMode:             SigningModeV1a,
		JWTAlgorithm:            "RS256",
		Version:                 "0.1.0",
		TraceExporter:           "cloudtrace",
		TraceSampleRatio:        0.1,

		MaxWebhooksPerProject: 100,
		MaxReplay:             1000,
		PingsPerMinute:        10,
		RetriesPerMinute:      60,
		ReplaysPerHour:        5,
		MaxPendingResends:     1000,
	}
}

// Load returns the defaults overridden by the environment. It reports every malformed
// variable at once rather than starting with a half-understood configuration.
func Load() (Config, error) { return load(&reader{}) }

func load(r *reader) (Config, error) {
	c := Defaults()
	c.GoogleProject = r.str(EnvGoogleProject, firstNonEmpty(os.Getenv(envGCPProject), os.Getenv(envGcloudProject)))
	c.FirestoreDatabase = r.str(EnvFirestoreDatabase, c.FirestoreDatabase)
	c.JobEventsTopic = r.str(EnvJobEventsTopic, c.JobEventsTopic)
	c.RequestsTopic = r.str(EnvRequestsTopic, c.RequestsTopic)
	c.DeliveriesTopic = r.str(EnvDeliveriesTopic, c.DeliveriesTopic)
	c.WaitingTopic = r.str(EnvWaitingTopic, c.WaitingTopic)
	c.DeadLetterTopic = r.str(EnvDeadLetterTopic, c.DeadLetterTopic)
	c.KEKSecret = r.str(EnvKEKSecret, c.KEKSecret)
	c.SigningKeySecret = r.str(EnvSigningKeySecret, c.SigningKeySecret)
	c.SigningJWKSSecret = r.str(EnvSigningJWKSSecret, c.SigningJWKSSecret)
	c.PortalKeySecret = r.str(EnvPortalKeySecret, c.PortalKeySecret)
	c.ConsoleFrameAncestors = r.origins(EnvConsoleFrameAncestors)
	c.JWKSURL = r.str(EnvJWKSURL, c.JWKSURL)
	c.AllowInsecureTargets = r.boolean(EnvAllowInsecureTargets, c.AllowInsecureTargets)
	c.AttemptTimeout = r.duration(EnvAttemptTimeout, c.AttemptTimeout)
	c.FirstAttemptBudget = r.duration(EnvFirstAttemptBudget, c.FirstAttemptBudget)
	if os.Getenv(EnvFirstAttemptBudget) == "" {
		// A shorter attempt timeout shortens the default budget with it (empty counts as unset,
		// as for every variable).
		c.FirstAttemptBudget = min(c.FirstAttemptBudget, c.AttemptTimeout)
	}
	c.FirstAttemptConcurrency = r.integer(EnvFirstAttemptConcurrency, c.FirstAttemptConcurrency)
	c.RetryWindow = r.duration(EnvRetryWindow, c.RetryWindow)
	c.OriginMaxInFlight = r.integer(EnvOriginMaxInFlight, c.OriginMaxInFlight)
	c.BreakerAfter = r.duration(EnvBreakerAfter, c.BreakerAfter)
	c.SlotWait = r.duration(EnvSlotWait, c.SlotWait)
	c.AutoDisableAfter = r.duration(EnvAutoDisableAfter, c.AutoDisableAfter)
	c.CacheTTL = r.duration(EnvCacheTTL, c.CacheTTL)
	c.RecordTTL = r.duration(EnvRecordTTL, c.RecordTTL)
	c.RepublishAfter = r.integer(EnvRepublishAfter, c.RepublishAfter)
	c.RepublishAge = r.duration(EnvRepublishAge, c.RepublishAge)
	c.FunctionTimeout = r.duration(EnvFunctionTimeout, c.FunctionTimeout)
	c.ClaimLease = r.duration(EnvClaimLease, c.ClaimLease)
	c.PublicBaseURL = r.str(EnvPublicBaseURL, c.PublicBaseURL)
	c.MaxWebhooksPerProject = r.integer(EnvMaxWebhooksPerProject, c.MaxWebhooksPerProject)
	c.MaxReplay = r.integer(EnvMaxReplay, c.MaxReplay)
	c.PingsPerMinute = r.integer(EnvPingsPerMinute, c.PingsPerMinute)
	c.RetriesPerMinute = r.integer(EnvRetriesPerMinute, c.RetriesPerMinute)
	c.ReplaysPerHour = r.integer(EnvReplaysPerHour, c.ReplaysPerHour)
	c.MaxPendingResends = r.integer(EnvMaxPendingResends, c.MaxPendingResends)
	c.SigningMode = r.oneOf(EnvSigningMode, c.SigningMode, SigningModeV1a, SigningModeJWT)
	c.JWTAlgorithm = r.oneOf(EnvJWTAlgorithm, c.JWTAlgorithm, "RS256", "EdDSA")
	c.TraceExporter = r.oneOf(EnvTraceExporter, c.TraceExporter, "cloudtrace", "file", "none")
	c.TraceSampleRatio = r.ratio(EnvTraceSampleRatio, c.TraceSampleRatio)
	c.TraceDir = r.str(EnvTraceDir, c.TraceDir)
	if c.TraceExporter == "file" && c.TraceDir == "" {
		r.errs = append(r.errs, EnvTraceExporter+"=file needs "+EnvTraceDir)
	}
	if c.GoogleProject == "" {
		r.errs = append(r.errs, EnvGoogleProject+" is not set")
	}
	if c.CacheTTL > 30*time.Second {
		// shared/delivery/README.md, Guarantees: a change made through the API takes effect
		// everywhere within 30 s.
		r.errs = append(r.errs, EnvCacheTTL+" must be at most 30s")
	}
	if c.RepublishAfter < 1 || c.RepublishAfter >= 100 {
		r.errs = append(r.errs, EnvRepublishAfter+" must be between 1 and 99 (the subscription dead-letters at 100)")
	}
	if os.Getenv(EnvSlotWait) == "" {
		// A shorter function timeout shortens the default wait with it.
		c.SlotWait = max(0, min(c.SlotWait, c.FunctionTimeout-c.AttemptTimeout-AttemptMargin-time.Second))
	}
	r.errs = append(r.errs, c.crossChecks()...)
	if c.SigningMode == SigningModeJWT && c.PublicBaseURL == "" {
		r.errs = append(r.errs, EnvSigningMode+"=jwt needs "+EnvPublicBaseURL+": it is the issuer of every JWT")
	}
	if c.MaxWebhooksPerProject < 1 || c.MaxWebhooksPerProject > MostWebhooksPerProject {
		r.errs = append(r.errs, fmt.Sprintf("%s must be between 1 and %d", EnvMaxWebhooksPerProject, MostWebhooksPerProject))
	}
	if c.OriginMaxInFlight < 0 {
		r.errs = append(r.errs, EnvOriginMaxInFlight+" must be at least 0 (0: no cap)")
	}
	if c.FirstAttemptConcurrency < 1 {
		r.errs = append(r.errs, EnvFirstAttemptConcurrency+" must be at least 1")
	}
	for _, p := range []struct {
		name string
		n    int
	}{{EnvMaxReplay, c.MaxReplay}, {EnvPingsPerMinute, c.PingsPerMinute}, {EnvRetriesPerMinute, c.RetriesPerMinute},
		{EnvReplaysPerHour, c.ReplaysPerHour}, {EnvMaxPendingResends, c.MaxPendingResends}} {
		if p.n < 1 {
			r.errs = append(r.errs, p.name+" must be at least 1")
		}
	}
	if len(r.errs) > 0 {
		return c, fmt.Errorf("config: %s", strings.Join(r.errs, "; "))
	}
	return c, nil
}

// Margins of the cross-checks. An attempt is followed by its record write (and a task publish):
// AttemptMargin is what that may take before the function's timeout kills the request.
const (
	AttemptMargin = 10 * time.Second
	// MostWebhooksPerProject is the most Config.MaxWebhooksPerProject may be set to: a job event's record
	// lists every planned delivery (store.EventRecord), and 10,000 of them fit Firestore's 1 MiB
	// document with the 64 KiB body.
	MostWebhooksPerProject = 10000
	// DefaultOriginMaxInFlight is OriginMaxInFlight where Terraform sets none: its default cap
	// of 1,000 over its default 100 Dispatch and 100 Deliver instances.
	DefaultOriginMaxInFlight = 5
	// DefaultRetryGap is RetryGap: half the deliveries subscription's 10 s minimum backoff.
	DefaultRetryGap = 5 * time.Second
	// DefaultClaimLease is ClaimLease in production: above the 60 s function timeout, with room.
	DefaultClaimLease = 2 * time.Minute
	// SubscriptionRetention is how long Pub/Sub keeps an unacked message (topics.Subscriptions).
	SubscriptionRetention = 24 * time.Hour
	// RecordTTLMargin is how long a record outlives the retry window of its latest series.
	RecordTTLMargin = 24 * time.Hour
)

// crossChecks are the rules between settings (Terraform's variables.tf checks the same):
// an attempt and its recording end before the function's timeout (otherwise the platform kills
// the request mid-POST, nothing is recorded and the POST repeats), a message is re-published
// before Pub/Sub's retention deletes it, and a record outlives its retry window by a day.
func (c Config) crossChecks() []string {
	var errs []string
	if c.AttemptTimeout+AttemptMargin >= c.FunctionTimeout {
		errs = append(errs, fmt.Sprintf("%s (%s) plus %s for recording must stay below %s (%s)",
			EnvAttemptTimeout, c.AttemptTimeout, AttemptMargin, EnvFunctionTimeout, c.FunctionTimeout))
	}
	if c.SlotWait < 0 || c.SlotWait+c.AttemptTimeout+AttemptMargin >= c.FunctionTimeout {
		errs = append(errs, fmt.Sprintf("%s (%s) plus %s (%s) and %s for recording must stay below %s (%s)",
			EnvSlotWait, c.SlotWait, EnvAttemptTimeout, c.AttemptTimeout, AttemptMargin, EnvFunctionTimeout, c.FunctionTimeout))
	}
	if c.FirstAttemptBudget <= 0 || c.FirstAttemptBudget > c.AttemptTimeout {
		errs = append(errs, fmt.Sprintf("%s (%s) must be above zero and at most %s (%s)",
			EnvFirstAttemptBudget, c.FirstAttemptBudget, EnvAttemptTimeout, c.AttemptTimeout))
	}
	if c.ClaimLease <= c.FunctionTimeout {
		errs = append(errs, fmt.Sprintf("%s (%s) must be above %s (%s): a live holder would be taken over",
			EnvClaimLease, c.ClaimLease, EnvFunctionTimeout, c.FunctionTimeout))
	}
	if c.RepublishAge+time.Hour > SubscriptionRetention {
		errs = append(errs, fmt.Sprintf("%s (%s) must be at least an hour below the subscriptions' %s retention",
			EnvRepublishAge, c.RepublishAge, SubscriptionRetention))
	}
	if c.RecordTTL < c.RetryWindow+RecordTTLMargin {
		errs = append(errs, fmt.Sprintf("%s (%s) must be at least %s (%s) plus %s",
			EnvRecordTTL, c.RecordTTL, EnvRetryWindow, c.RetryWindow, RecordTTLMargin))
	}
	return errs
}

// reader reads variables and collects what is wrong with them. names is every variable it read,
// in order: a test compares them with what Terraform sets.
type reader struct {
	errs  []string
	names []string
}

// get is the value of variable name, "" when it is unset or empty.
func (r *reader) get(name string) string {
	r.names = append(r.names, name)
	return os.Getenv(name)
}

func (r *reader) str(name, def string) string {
	if v := r.get(name); v != "" {
		return v
	}
	return def
}

// origins reads a space- or comma-separated list of https origins (scheme://host[:port]), the
// only form a Content-Security-Policy source may take here: anything else could widen the policy.
func (r *reader) origins(name string) []string {
	var out []string
	for _, o := range strings.FieldsFunc(r.get(name), func(c rune) bool { return c == ' ' || c == ',' }) {
		if !originPattern.MatchString(o) {
			r.errs = append(r.errs, fmt.Sprintf("%s: %q is not an origin like https://app.example.com", name, o))
			continue
		}
		out = append(out, o)
	}
	return out
}

var originPattern = regexp.MustCompile(`^https://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$`)

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := r.str(name, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.errs = append(r.errs, fmt.Sprintf("%s=%q is not one of %s", name, v, strings.Join(allowed, ", ")))
	return def
}

func (r *reader) boolean(name string, def bool) bool {
	v := r.get(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Sprintf("%s=%q is not a boolean", name, v))
		return def
	}
	return b
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.errs = append(r.errs, fmt.Sprintf("%s=%q is not a positive duration like 15s or 24h", name, v))
		return def
	}
	return d
}

func (r *reader) ratio(name string, def float64) float64 {
	v := r.get(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		r.errs = append(r.errs, fmt.Sprintf("%s=%q is not a number from 0 to 1", name, v))
		return def
	}
	return f
}

func (r *reader) integer(name string, def int) int {
	v := r.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Sprintf("%s=%q is not an integer", name, v))
		return def
	}
	return n
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
