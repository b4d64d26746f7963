package config

// The environment variables Load reads: the only place their names are spelt. Terraform sets
// them in terraform/functions.tf (a test keeps the two in step); the local stack and the
// operator's commands set or read them through these constants.
const (
	// EnvGoogleProject is the Google Cloud project; GCP_PROJECT and GCLOUD_PROJECT are read
	// when it is unset, as older runtimes set those.
	EnvGoogleProject = "GOOGLE_CLOUD_PROJECT"

	EnvFirestoreDatabase = "JOBHOOKS_FIRESTORE_DATABASE"
	EnvJobEventsTopic    = "JOBHOOKS_JOB_EVENTS_TOPIC"
	EnvRequestsTopic     = "JOBHOOKS_REQUESTS_TOPIC"
	EnvDeliveriesTopic   = "JOBHOOKS_DELIVERIES_TOPIC"
	EnvWaitingTopic      = "JOBHOOKS_WAITING_TOPIC"
	EnvDeadLetterTopic   = "JOBHOOKS_DEAD_LETTER_TOPIC"
	EnvKEKSecret         = "JOBHOOKS_KEK_SECRET"
	EnvSigningKeySecret  = "JOBHOOKS_SIGNING_KEY_SECRET"
	EnvSigningJWKSSecret = "JOBHOOKS_SIGNING_JWKS_SECRET"
	EnvPortalKeySecret   = "JOBHOOKS_PORTAL_KEY_SECRET"

	// EnvConsoleFrameAncestors names the origins that may embed the console in a frame.
	EnvConsoleFrameAncestors = "JOBHOOKS_CONSOLE_FRAME_ANCESTORS"
	// EnvJWKSURL is the public address of the JWKS function, shown by the console.
	EnvJWKSURL = "JOBHOOKS_JWKS_URL"

	EnvTraceExporter    = "JOBHOOKS_TRACE_EXPORTER"
	EnvTraceSampleRatio = "JOBHOOKS_TRACE_SAMPLE_RATIO"
	EnvTraceDir         = "JOBHOOKS_TRACE_DIR"

	EnvAllowInsecureTargets    = "JOBHOOKS_ALLOW_INSECURE_TARGETS"
	EnvAttemptTimeout          = "JOBHOOKS_ATTEMPT_TIMEOUT"
	EnvFirstAttemptBudget      = "JOBHOOKS_FIRST_ATTEMPT_BUDGET"
	EnvFirstAttemptConcurrency = "JOBHOOKS_FIRST_ATTEMPT_CONCURRENCY"
	EnvRetryWindow             = "JOBHOOKS_RETRY_WINDOW"
	EnvOriginMaxInFlight       = "JOBHOOKS_ORIGIN_MAX_IN_FLIGHT"
	EnvSlotWait                = "JOBHOOKS_SLOT_WAIT"
	EnvBreakerAfter            = "JOBHOOKS_BREAKER_AFTER"
	EnvAutoDisableAfter        = "JOBHOOKS_AUTO_DISABLE_AFTER"
	EnvCacheTTL                = "JOBHOOKS_CACHE_TTL"
	EnvRecordTTL               = "JOBHOOKS_RECORD_TTL"
	EnvRepublishAfter          = "JOBHOOKS_REPUBLISH_AFTER"
	EnvRepublishAge            = "JOBHOOKS_REPUBLISH_AGE"
	EnvFunctionTimeout         = "JOBHOOKS_FUNCTION_TIMEOUT"
	EnvClaimLease              = "JOBHOOKS_CLAIM_LEASE"
	EnvPublicBaseURL           = "JOBHOOKS_PUBLIC_BASE_URL"
	EnvMaxWebhooksPerProject   = "JOBHOOKS_MAX_WEBHOOKS_PER_PROJECT"
	EnvMaxReplay               = "JOBHOOKS_MAX_REPLAY"
	EnvPingsPerMinute          = "JOBHOOKS_PINGS_PER_MINUTE"
	EnvRetriesPerMinute        = "JOBHOOKS_RETRIES_PER_MINUTE"
	EnvReplaysPerHour          = "JOBHOOKS_REPLAYS_PER_HOUR"
	EnvMaxPendingResends       = "JOBHOOKS_MAX_PENDING_RESENDS"
	EnvSigningMode             = "JOBHOOKS_SIGNING_MODE"
	EnvJWTAlgorithm            = "JOBHOOKS_JWT_ALGORITHM"

	envGCPProject    = "GCP_PROJECT"
	envGcloudProject = "GCLOUD_PROJECT"
)
