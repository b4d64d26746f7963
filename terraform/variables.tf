# ---- where ----

variable "project_id" {
  description = "Google Cloud project that receives everything: topics, database, secrets, functions, monitoring."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project id (6-30 lowercase letters, digits, hyphens), not a project number or name."
  }
}

variable "region" {
  description = "Region of the functions, the source bucket and the Cloud Build runs."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Cloud Run functions region such as us-central1 or europe-west1."
  }
}

variable "firestore_location" {
  description = "Location of the Firestore database: null or \"\" (default) for the functions' region, or another region, or a multi-region (nam5, eur3) at about twice the price per operation. Cannot change after creation: a deployment created when the default was nam5 must set firestore_location = \"nam5\"."
  type        = string
  default     = null

  validation {
    condition     = var.firestore_location == null || can(regex("^(|[a-z]+[0-9]|[a-z]+-[a-z]+[0-9]+)$", var.firestore_location))
    error_message = "firestore_location must be unset (the functions' region) or a Firestore location such as nam5, eur3 or europe-west1."
  }
}

variable "firestore_database" {
  description = "Firestore database id (native mode). \"(default)\" unless the project's default database is taken by something else."
  type        = string
  default     = "(default)"

  validation {
    condition     = var.firestore_database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be \"(default)\" or 4-63 lowercase letters, digits and hyphens."
  }
}

variable "name_prefix" {
  description = "Prefix of every topic, subscription, function, service account and secret, to run several deployments in one project (e.g. \"staging-\"). Empty for the names the code defaults to."
  type        = string
  default     = ""

  validation {
    # Service account ids are at most 30 characters; the longest suffix used is 13 ("jh-deadletter").
    condition     = can(regex("^([a-z][a-z0-9-]{0,14}-)?$", var.name_prefix))
    error_message = "name_prefix must be empty or up to 16 lowercase letters, digits and hyphens, starting with a letter and ending with \"-\"."
  }
}

variable "labels" {
  description = "Extra labels on every resource that takes labels."
  type        = map(string)
  default     = {}
}

# ---- what is deployed ----

variable "source_archive" {
  description = "Path of the zip built by scripts/package. Empty means ../dist/jobhooks-source.zip next to this module."
  type        = string
  default     = ""

  validation {
    condition     = var.source_archive == "" || endswith(var.source_archive, ".zip")
    error_message = "source_archive must be the .zip that scripts/package printed."
  }
}

variable "go_runtime" {
  description = "Cloud Run functions Go runtime. go.mod says go 1.26, so go126 or newer."
  type        = string
  default     = "go126"

  validation {
    condition     = can(regex("^go1[2-9][0-9]$", var.go_runtime))
    error_message = "go_runtime must be a runtime id like go126."
  }
}

# ---- delivery behaviour (shared/delivery/README.md, Guarantees) ----

variable "allow_insecure_targets" {
  description = "Allow plain http and private/loopback targets (turns the SSRF guard off). Only for the local stack: never in a real deployment."
  type        = bool
  default     = false
}

variable "retry_window" {
  description = "How long after the first attempt a delivery keeps being retried before it is exhausted and dead-lettered (Go duration)."
  type        = string
  default     = "24h"

  validation {
    # config.Load refuses a zero duration ("0h", "0s"): every function would fail at start.
    condition = can(regex("^([0-9]+h)?([0-9]+m)?([0-9]+s)?$", var.retry_window)) && var.retry_window != "" && try(sum([
      for p in regexall("([0-9]+)([hms])", var.retry_window) : tonumber(p[0]) * lookup({ h = 3600, m = 60, s = 1 }, p[1])
    ]) > 0, false)
    error_message = "retry_window must be a positive Go duration in h/m/s, e.g. 24h or 36h."
  }
}

variable "attempt_timeout" {
  description = "Timeout of one POST to an endpoint (Go duration). Must stay well below the function timeout."
  type        = string
  default     = "15s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.attempt_timeout)) && try(tonumber(trimsuffix(var.attempt_timeout, "s")) >= 1 && tonumber(trimsuffix(var.attempt_timeout, "s")) <= 45, false)
    error_message = "attempt_timeout must be whole seconds from 1s up to 45s, e.g. 15s: the function timeout and the push ack deadline must stay above it."
  }
}

variable "first_attempt_budget" {
  description = "How long Dispatch waits for the first attempts of one event (Go duration, whole seconds): an endpoint still answering then is cancelled, recorded as a timeout and retried by Deliver. At most attempt_timeout."
  type        = string
  default     = "5s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.first_attempt_budget)) && try(tonumber(trimsuffix(var.first_attempt_budget, "s")) >= 1, false)
    error_message = "first_attempt_budget must be whole seconds, at least 1s, e.g. 5s."
  }
}

variable "auto_disable_after" {
  description = "How long a static webhook may fail without a single success before it is disabled (Go duration)."
  type        = string
  default     = "72h"

  validation {
    # config.Load refuses a zero duration ("0h", "0s"): every function would fail at start.
    condition = can(regex("^([0-9]+h)?([0-9]+m)?([0-9]+s)?$", var.auto_disable_after)) && var.auto_disable_after != "" && try(sum([
      for p in regexall("([0-9]+)([hms])", var.auto_disable_after) : tonumber(p[0]) * lookup({ h = 3600, m = 60, s = 1 }, p[1])
    ]) > 0, false)
    error_message = "auto_disable_after must be a positive Go duration in h/m/s, e.g. 72h."
  }
}

variable "cache_ttl" {
  description = "How long an instance caches webhook configurations and decrypted secrets (Go duration, at most 30s: shared/delivery/README.md, Guarantees)."
  type        = string
  default     = "30s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.cache_ttl)) && try(tonumber(trimsuffix(var.cache_ttl, "s")) >= 1 && tonumber(trimsuffix(var.cache_ttl, "s")) <= 30, false)
    error_message = "cache_ttl must be whole seconds from 1s up to 30s."
  }
}

variable "record_ttl" {
  description = "How long event, delivery, attempt and dead-letter records are kept before Firestore TTL deletes them (Go duration)."
  type        = string
  default     = "720h"

  validation {
    condition     = can(regex("^[0-9]+h$", var.record_ttl)) && try(tonumber(trimsuffix(var.record_ttl, "h")) > 0, false)
    error_message = "record_ttl must be a positive number of whole hours, e.g. 720h (30 days)."
  }
}

variable "max_webhooks_per_project" {
  description = "How many static webhooks one tenant project may register (1-10,000). Planning an event stays one indexed read per project and event type per cache_ttl whatever the count; an event's record lists every delivery it fans out to, which is why 10,000 is the most."
  type        = number
  default     = 100

  validation {
    condition     = var.max_webhooks_per_project >= 1 && var.max_webhooks_per_project <= 10000 && floor(var.max_webhooks_per_project) == var.max_webhooks_per_project
    error_message = "max_webhooks_per_project must be a whole number from 1 to 10,000."
  }
}

variable "signing_mode" {
  description = "How dynamic (per-request) webhooks are signed: v1a (Ed25519, Standard Webhooks) or jwt (RS256 JWS, for receivers written against the Gemini documentation)."
  type        = string
  default     = "v1a"

  validation {
    condition     = contains(["v1a", "jwt"], var.signing_mode)
    error_message = "signing_mode must be v1a or jwt."
  }
}

variable "jwt_algorithm" {
  description = "JWS algorithm of jwt mode: RS256 (RSA-2048 keys, what the Gemini documentation's receivers expect) or EdDSA (Ed25519 keys). The signing key must hold a key of that type: scripts/signing-key init --alg <this>."
  type        = string
  default     = "RS256"

  validation {
    condition     = contains(["RS256", "EdDSA"], var.jwt_algorithm)
    error_message = "jwt_algorithm must be RS256 or EdDSA."
  }
}

variable "public_base_url" {
  description = "Public base URL of the deployment (the JWT issuer in jwt mode), e.g. a custom domain in front of the API. Required when signing_mode is jwt."
  type        = string
  default     = ""

  validation {
    condition     = var.public_base_url == "" || can(regex("^https://[^/]+(/.*)?$", var.public_base_url))
    error_message = "public_base_url must be empty or an https URL."
  }
}

# ---- function sizing ----

variable "function_memory" {
  description = "Memory of each function instance."
  type        = string
  default     = "512Mi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.function_memory))
    error_message = "function_memory must look like 256Mi, 512Mi or 1Gi."
  }
}

variable "function_cpu" {
  description = "vCPUs of each function instance. Request concurrency above 1 needs at least 1."
  type        = string
  default     = "1"

  validation {
    condition     = contains(["0.083", "0.167", "0.333", "0.5", "0.583", "1", "2", "4", "6", "8"], var.function_cpu)
    error_message = "function_cpu must be one of the sizes Cloud Run offers: 0.083 ... 1, 2, 4, 6, 8."
  }
}

variable "function_timeout_seconds" {
  description = "Timeout of each function. Every push subscription's ack deadline (90 s) must stay above it, and the attempt timeout well below it."
  type        = number
  default     = 60

  validation {
    condition     = var.function_timeout_seconds >= 30 && var.function_timeout_seconds < 90
    error_message = "function_timeout_seconds must be at least 30 and below 90, the push subscriptions' ack deadline."
  }
}

variable "function_concurrency" {
  description = "Concurrent requests per instance. Dispatch and Deliver mostly wait on the network, so one instance serves many."
  type        = number
  default     = 80

  validation {
    condition     = var.function_concurrency >= 1 && var.function_concurrency <= 1000
    error_message = "function_concurrency must be between 1 and 1000."
  }
}

variable "function_max_instances" {
  description = "Upper bound of instances per function: the cost ceiling, and the protection of Firestore and of customers' endpoints against a burst."
  type        = number
  default     = 100

  validation {
    condition     = var.function_max_instances >= 1 && var.function_max_instances <= 1000
    error_message = "function_max_instances must be between 1 and 1000."
  }
}

variable "endpoint_max_in_flight" {
  description = "The most requests in flight to one origin (scheme, host, port) at once, across every instance: it bounds every target, per-request URIs included. Each Dispatch and Deliver instance gets an equal share, so it must be at least their max_instances together. A webhook's own max_in_flight and rate_limit bound it further."
  type        = number
  default     = 1000

  validation {
    condition     = var.endpoint_max_in_flight >= 1
    error_message = "endpoint_max_in_flight must be at least 1."
  }
}

variable "function_min_instances" {
  description = "Instances kept warm per function (billed while idle). 0 scales to zero."
  type        = number
  default     = 0

  validation {
    condition     = var.function_min_instances >= 0 && var.function_min_instances <= 10
    error_message = "function_min_instances must be between 0 and 10."
  }
}

variable "function_overrides" {
  description = "Per-function sizing, keyed by entry point (Dispatch, Deliver, DeadLetter, API, JWKS); unset fields use the function_* variables."
  type = map(object({
    memory        = optional(string)
    cpu           = optional(string)
    concurrency   = optional(number)
    max_instances = optional(number)
    min_instances = optional(number)
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.function_overrides) : contains(["Dispatch", "Deliver", "DeadLetter", "API", "JWKS"], k)])
    error_message = "function_overrides keys must be entry points: Dispatch, Deliver, DeadLetter, API, JWKS."
  }

  # The same bounds as the function_* variables; a field left unset uses that variable.
  validation {
    condition     = alltrue([for o in values(var.function_overrides) : o.memory == null || can(regex("^[0-9]+(Mi|Gi)$", o.memory))])
    error_message = "function_overrides: memory must look like 256Mi, 512Mi or 1Gi."
  }
  validation {
    condition     = alltrue([for o in values(var.function_overrides) : o.cpu == null || contains(["0.083", "0.167", "0.333", "0.5", "0.583", "1", "2", "4", "6", "8"], coalesce(o.cpu, "1"))])
    error_message = "function_overrides: cpu must be one of the sizes Cloud Run offers: 0.083 ... 1, 2, 4, 6, 8."
  }
  validation {
    condition     = alltrue([for o in values(var.function_overrides) : o.concurrency == null || try(o.concurrency >= 1 && o.concurrency <= 1000, false)])
    error_message = "function_overrides: concurrency must be between 1 and 1000."
  }
  validation {
    condition     = alltrue([for o in values(var.function_overrides) : o.max_instances == null || try(o.max_instances >= 1 && o.max_instances <= 1000, false)])
    error_message = "function_overrides: max_instances must be between 1 and 1000."
  }
  validation {
    condition     = alltrue([for o in values(var.function_overrides) : o.min_instances == null || try(o.min_instances >= 0 && o.min_instances <= 10, false)])
    error_message = "function_overrides: min_instances must be between 0 and 10."
  }
}

# ---- static egress IPs (egress.tf; terraform/README.md, Static egress IPs) ----

variable "egress_ip_count" {
  description = "How many reserved external addresses Dispatch and Deliver send every delivery from, through Direct VPC egress and a Cloud NAT (the egress_ips output, for receivers to allowlist). 0 (default) is off: the functions leave from Google's shared addresses and nothing of the VPC is created."
  type        = number
  default     = 0

  validation {
    # 16 is far beyond what the ports need (each address has 64,512) and bounds the fixed cost.
    condition     = var.egress_ip_count >= 0 && var.egress_ip_count <= 16 && floor(var.egress_ip_count) == var.egress_ip_count
    error_message = "egress_ip_count must be a whole number from 0 (off) to 16."
  }
}

variable "egress_subnet_cidr" {
  description = "IPv4 range of the egress subnetwork, used only when egress_ip_count > 0. Cloud Run takes its instances' addresses from it, about two per instance, and wants /26 or larger; the default /22 (1,020 usable) holds twice the default 100 Dispatch and 100 Deliver instances with room to spare. It must lie in 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10, ranges the SSRF guard refuses."
  type        = string
  default     = "10.8.0.0/22"

  validation {
    condition     = can(cidrnetmask(var.egress_subnet_cidr)) && try(cidrhost(var.egress_subnet_cidr, 0) == split("/", var.egress_subnet_cidr)[0], false)
    error_message = "egress_subnet_cidr must be an IPv4 range written from its first address, such as 10.8.0.0/22."
  }
  validation {
    condition     = try(tonumber(split("/", var.egress_subnet_cidr)[1]) <= 26, false)
    error_message = "egress_subnet_cidr must be a /26 or larger, the smallest subnetwork Cloud Run's Direct VPC egress takes."
  }
  validation {
    # An address the guard allowed would be a VPC-internal address a webhook URL could reach.
    condition = anytrue([for p in ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"] : try(
      tonumber(split("/", var.egress_subnet_cidr)[1]) >= tonumber(split("/", p)[1])
      && cidrhost("${split("/", var.egress_subnet_cidr)[0]}/${split("/", p)[1]}", 0) == split("/", p)[0],
    false)])
    error_message = "egress_subnet_cidr must lie in 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10, which the SSRF guard refuses to dial (shared/sender/guard.go)."
  }
}

# ---- monitoring ----

variable "alert_notification_channels" {
  description = "Notification channels (projects/P/notificationChannels/N) that the alert policies notify. Empty: incidents appear in the Console only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.alert_notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", c))])
    error_message = "Each notification channel must be a full name: projects/PROJECT/notificationChannels/ID."
  }
}

variable "failure_ratio_threshold" {
  description = "Alert when this fraction of delivery attempts fails (retry, failed, exhausted) for 10 minutes."
  type        = number
  default     = 0.2

  validation {
    condition     = var.failure_ratio_threshold > 0 && var.failure_ratio_threshold <= 1
    error_message = "failure_ratio_threshold must be in (0, 1]."
  }
}

variable "oldest_unacked_alert_seconds" {
  description = "Alert when the oldest unacknowledged delivery task is older than this (seconds). An endpoint that is down keeps its deliveries unacked while they retry, so this also fires for one failing customer."
  type        = number
  default     = 1800

  validation {
    condition     = var.oldest_unacked_alert_seconds >= 60
    error_message = "oldest_unacked_alert_seconds must be at least 60."
  }
}

# ---- first apply ----

variable "propagation_wait_seconds" {
  description = "How long the first apply waits where Google propagates asynchronously: newly enabled APIs before their first use, new grants of the build account and the applier before the first build, the Pub/Sub service agent (after the topics) before its grants (terraform/README.md, The first apply, step by step). Log-based metrics wait twice this before the alert policies that use them."
  type        = number
  default     = 60

  validation {
    condition     = var.propagation_wait_seconds >= 0 && var.propagation_wait_seconds <= 600
    error_message = "propagation_wait_seconds must be between 0 and 600."
  }
}

variable "console_frame_ancestors" {
  description = "Origins (https://host[:port]) allowed to embed the console in a frame, for platforms that embed the portal for their customers. Empty: no one may frame it."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.console_frame_ancestors : can(regex("^https://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$", o))])
    error_message = "console_frame_ancestors must be origins like https://app.example.com, without a path."
  }
}

variable "trace_sample_ratio" {
  description = "Share of job events traced in Cloud Trace among those whose trace did not arrive sampled (a job event published with a sampled traceparent is always traced). 0 traces only those; 1 traces every event (shared/tracing/README.md, Sampling)."
  type        = number
  default     = 0.1

  validation {
    condition     = var.trace_sample_ratio >= 0 && var.trace_sample_ratio <= 1
    error_message = "trace_sample_ratio must be between 0 and 1."
  }
}

variable "delivered_attempt_logs_kept" {
  description = "Share of the attempt lines of delivered attempts that Cloud Logging stores (0-1). The log-based metrics and alerts count every line whatever this is: they are computed from all the logs the Logging API receives, before exclusions. Failed, retried and every other line are always stored; each attempt is in its delivery record (API, console) either way (terraform/README.md, All in, first try)."
  type        = number
  default     = 0.01

  validation {
    condition     = var.delivered_attempt_logs_kept >= 0 && var.delivered_attempt_logs_kept <= 1
    error_message = "delivered_attempt_logs_kept must be between 0 and 1."
  }
}

variable "deployer_member" {
  description = "The IAM principal that runs terraform apply, granted Service Account User on the seven accounts this module creates (iam.tf). Empty: the email of the provider's credentials, as user: or serviceAccount:. Set it when those credentials have no email (direct workload identity federation: principal://...)."
  type        = string
  default     = ""

  validation {
    condition     = var.deployer_member == "" || can(regex("^(user|serviceAccount|principal|principalSet):", var.deployer_member))
    error_message = "deployer_member must be an IAM principal such as user:me@example.com, serviceAccount:ci@P.iam.gserviceaccount.com or principal://iam.googleapis.com/..."
  }
}
