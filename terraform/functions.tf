# The five gen2 functions, built by Cloud Build from one uploaded archive (scripts/package): its
# root package imports every function package, whose init() registers the entry points, and
# build_config.entry_point (FUNCTION_TARGET) picks the one each function serves.

locals {
  source_archive = var.source_archive != "" ? var.source_archive : "${path.module}/../dist/jobhooks-source.zip"

  functions = {
    Dispatch   = { name = "dispatch", description = "Fans a job event out to one delivery task per target (push from job-events)." }
    Deliver    = { name = "deliver", description = "Signs and POSTs one delivery, records the attempt, retries through Pub/Sub (push from webhook-deliveries)." }
    DeadLetter = { name = "deadletter", description = "Records what was dead-lettered and why (push from webhook-dead-letter)." }
    API        = { name = "api", description = "Management API: webhooks, secrets, deliveries (public, API keys)." }
    JWKS       = { name = "jwks", description = "Public keys of the dynamic-webhook signing key (public)." }
  }

  # Pub/Sub pushes count as internal traffic when subscription and service share a project
  # (Cloud Run's ingress documentation), so the push-fed functions refuse the internet at the
  # network level as well as by IAM; API and JWKS are public.
  ingress = {
    Dispatch   = "ALLOW_INTERNAL_ONLY"
    Deliver    = "ALLOW_INTERNAL_ONLY"
    DeadLetter = "ALLOW_INTERNAL_ONLY"
    API        = "ALLOW_ALL"
    JWKS       = "ALLOW_ALL"
  }

  # The JWKS function's public address, known before any function exists: a function created
  # through the Cloud Functions v2 API is also served at https://REGION-PROJECT.cloudfunctions.net/NAME,
  # interchangeably with its run.app URL (Google's "HTTP triggers" page of Cloud Run functions).
  # Its service_config.uri cannot be used here: the functions are one resource, and the API's
  # environment would depend on the resource itself.
  jwks_url = "https://${var.region}-${var.project_id}.cloudfunctions.net/${var.name_prefix}jobhooks-${local.functions.JWKS.name}/.well-known/jwks.json"

  # Every function reads the same settings (shared/config); each uses the ones it needs.
  function_env = {
    GOOGLE_CLOUD_PROJECT            = var.project_id
    JOBHOOKS_FIRESTORE_DATABASE     = google_firestore_database.main.name
    JOBHOOKS_JOB_EVENTS_TOPIC       = google_pubsub_topic.topic[local.topic_ids.job_events].name
    JOBHOOKS_REQUESTS_TOPIC         = google_pubsub_topic.topic[local.topic_ids.requests].name
    JOBHOOKS_DELIVERIES_TOPIC       = google_pubsub_topic.topic[local.topic_ids.deliveries].name
    JOBHOOKS_WAITING_TOPIC          = google_pubsub_topic.topic[local.topic_ids.waiting].name
    JOBHOOKS_DEAD_LETTER_TOPIC      = google_pubsub_topic.topic[local.topic_ids.dead_letter].name
    JOBHOOKS_KEK_SECRET             = google_secret_manager_secret.secret["kek"].secret_id
    JOBHOOKS_SIGNING_KEY_SECRET     = google_secret_manager_secret.secret["signing"].secret_id
    JOBHOOKS_SIGNING_JWKS_SECRET    = google_secret_manager_secret.secret["signing_public"].secret_id
    JOBHOOKS_PORTAL_KEY_SECRET      = google_secret_manager_secret.secret["portal"].secret_id
    JOBHOOKS_ALLOW_INSECURE_TARGETS = tostring(var.allow_insecure_targets)
    JOBHOOKS_ATTEMPT_TIMEOUT        = var.attempt_timeout
    JOBHOOKS_FIRST_ATTEMPT_BUDGET   = var.first_attempt_budget
    JOBHOOKS_RETRY_WINDOW           = var.retry_window
    # Each instance's share of the cap on requests in flight to one origin: the cap over the most
    # Dispatch and Deliver instances there may be, so the cap holds with no store operation
    # (shared/delivery/README.md, Throttle).
    JOBHOOKS_ORIGIN_MAX_IN_FLIGHT     = tostring(local.origin_share)
    JOBHOOKS_AUTO_DISABLE_AFTER       = var.auto_disable_after
    JOBHOOKS_CACHE_TTL                = var.cache_ttl
    JOBHOOKS_RECORD_TTL               = var.record_ttl
    JOBHOOKS_MAX_WEBHOOKS_PER_PROJECT = tostring(var.max_webhooks_per_project)
    # Deliver re-publishes a task before the subscription's 100-attempt dead-letter policy, and
    # Dispatch and Deliver re-publish any message before the subscriptions' 24 h retention.
    JOBHOOKS_REPUBLISH_AFTER  = "90"
    JOBHOOKS_REPUBLISH_AGE    = "20h"
    JOBHOOKS_FUNCTION_TIMEOUT = "${var.function_timeout_seconds}s"
    JOBHOOKS_PUBLIC_BASE_URL  = var.public_base_url
    JOBHOOKS_SIGNING_MODE     = var.signing_mode
    JOBHOOKS_JWT_ALGORITHM    = var.jwt_algorithm
    # Origins that may embed the console in a frame; none by default (frame-ancestors 'none').
    JOBHOOKS_CONSOLE_FRAME_ANCESTORS = join(" ", var.console_frame_ancestors)
    # Spans go to Cloud Trace, through the Telemetry API (shared/tracing/README.md, Export): every job event
    # whose trace arrived sampled, and this share of the rest.
    JOBHOOKS_TRACE_EXPORTER     = "cloudtrace"
    JOBHOOKS_TRACE_SAMPLE_RATIO = tostring(var.trace_sample_ratio)
    # Shown on the console's Verify page (shared/restapi/README.md, Console).
    JOBHOOKS_JWKS_URL = local.jwks_url
    # Set by the platform anyway; declared so that every plan does not show it as a change.
    LOG_EXECUTION_ID = "true"
  }

  origin_share = floor(var.endpoint_max_in_flight / (local.sizing.Dispatch.max_instances + local.sizing.Deliver.max_instances))

  sizing = {
    for k in keys(local.functions) : k => {
      memory        = coalesce(try(var.function_overrides[k].memory, null), var.function_memory)
      cpu           = coalesce(try(var.function_overrides[k].cpu, null), var.function_cpu)
      concurrency   = coalesce(try(var.function_overrides[k].concurrency, null), var.function_concurrency)
      max_instances = coalesce(try(var.function_overrides[k].max_instances, null), var.function_max_instances)
      min_instances = coalesce(try(var.function_overrides[k].min_instances, null), var.function_min_instances)
    }
  }
}

resource "google_storage_bucket" "source" {
  name     = "${var.project_id}-${var.name_prefix}jobhooks-source"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Holds nothing but rebuildable archives (one per deployed source, named by its hash; each is
  # a few hundred KB, so they are kept rather than expire the one a function was built from).
  force_destroy = true

  depends_on = [terraform_data.apis_propagated]
}

resource "google_storage_bucket_object" "source" {
  # Named by content: a changed archive is a new object, and a new object redeploys the
  # functions; an unchanged one (scripts/package is reproducible) changes nothing.
  name   = "jobhooks-source-${fileexists(local.source_archive) ? filemd5(local.source_archive) : "missing"}.zip"
  bucket = google_storage_bucket.source.name
  source = local.source_archive

  lifecycle {
    precondition {
      condition     = fileexists(local.source_archive)
      error_message = "No source archive at ${local.source_archive}: run scripts/package first (or set source_archive)."
    }
  }
}

# The repository the builds push the functions' images to. Without it, Cloud Functions creates
# gcf-artifacts itself on the first build of each region, and builds started in parallel in a
# fresh project race that creation ("Unable to retrieve the repository metadata"). Created here,
# it exists before any build, and the build account's writer grant is on it alone (iam.tf).
resource "google_artifact_registry_repository" "functions" {
  location      = var.region
  repository_id = "${var.name_prefix}jobhooks-functions"
  format        = "DOCKER"
  description   = "Images of the Jobhooks functions, built by Cloud Build from the uploaded source."

  depends_on = [terraform_data.apis_propagated]
}

locals {
  # The function built first, alone: its build is the first use of Cloud Build, the repository
  # and the staging buckets by this module's accounts, so a permission still propagating fails
  # one build instead of five, and the other four start only once one build has succeeded.
  first_function = "JWKS"

  # Every function, whichever resource holds it.
  fn = merge(google_cloudfunctions2_function.first, google_cloudfunctions2_function.fn)
}

# The sizing rules of Cloud Run, checked per function before anything is planned.
resource "terraform_data" "function_sizing" {
  for_each = local.functions

  input = local.sizing[each.key]

  lifecycle {
    precondition {
      condition     = local.sizing[each.key].concurrency == 1 || tonumber(local.sizing[each.key].cpu) >= 1
      error_message = "${each.key}: request concurrency above 1 needs at least 1 vCPU (Cloud Run)."
    }
    precondition {
      condition     = local.sizing[each.key].min_instances <= local.sizing[each.key].max_instances
      error_message = "${each.key}: min_instances (${local.sizing[each.key].min_instances}) must not exceed max_instances (${local.sizing[each.key].max_instances})."
    }
    precondition {
      condition     = local.origin_share >= 1
      error_message = "endpoint_max_in_flight (${var.endpoint_max_in_flight}) must be at least the max_instances of Dispatch and Deliver together (${local.sizing.Dispatch.max_instances + local.sizing.Deliver.max_instances}): each instance gets a whole share of it."
    }
  }
}

moved {
  from = google_cloudfunctions2_function.fn["JWKS"]
  to   = google_cloudfunctions2_function.first["JWKS"]
}

# The first build (local.first_function), alone.
resource "google_cloudfunctions2_function" "first" {
  for_each = { for k, v in local.functions : k => v if k == local.first_function }

  name        = "${var.name_prefix}jobhooks-${each.value.name}"
  location    = var.region
  description = each.value.description

  build_config {
    runtime           = var.go_runtime
    entry_point       = each.key
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = local.sizing[each.key].memory
    available_cpu                    = local.sizing[each.key].cpu
    timeout_seconds                  = var.function_timeout_seconds
    max_instance_request_concurrency = local.sizing[each.key].concurrency
    max_instance_count               = local.sizing[each.key].max_instances
    min_instance_count               = local.sizing[each.key].min_instances
    service_account_email            = google_service_account.function[each.key].email
    environment_variables            = local.function_env
    all_traffic_on_latest_revision   = true
    # Dispatch, Deliver and DeadLetter: internal only, and IAM still refuses any request without
    # an OIDC token of the push account (iam.tf). The API checks an API key on every request.
    ingress_settings = local.ingress[each.key]
    # No egress settings: JWKS never POSTs to a receiver (egress.tf covers Dispatch and Deliver).
  }

  depends_on = [
    terraform_data.build_grants_propagated,
    terraform_data.function_sizing,
    google_project_iam_member.firestore_user,
    google_pubsub_topic_iam_member.publisher,
    google_secret_manager_secret_iam_member.reader,
  ]
}

# The other four, in parallel, once the first build has succeeded.
resource "google_cloudfunctions2_function" "fn" {
  for_each = { for k, v in local.functions : k => v if k != local.first_function }

  name        = "${var.name_prefix}jobhooks-${each.value.name}"
  location    = var.region
  description = each.value.description

  build_config {
    runtime           = var.go_runtime
    entry_point       = each.key
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = local.sizing[each.key].memory
    available_cpu                    = local.sizing[each.key].cpu
    timeout_seconds                  = var.function_timeout_seconds
    max_instance_request_concurrency = local.sizing[each.key].concurrency
    max_instance_count               = local.sizing[each.key].max_instances
    min_instance_count               = local.sizing[each.key].min_instances
    service_account_email            = google_service_account.function[each.key].email
    environment_variables            = local.function_env
    all_traffic_on_latest_revision   = true
    # Dispatch, Deliver and DeadLetter: internal only, and IAM still refuses any request without
    # an OIDC token of the push account (iam.tf). The API checks an API key on every request.
    ingress_settings = local.ingress[each.key]

    # With egress_ip_count > 0, Dispatch and Deliver send everything into the egress network and
    # reach receivers through its Cloud NAT (egress.tf); DeadLetter and the API never POST to one.
    direct_vpc_egress = contains(local.egress_functions, each.key) ? "VPC_EGRESS_ALL_TRAFFIC" : null
    dynamic "direct_vpc_network_interface" {
      for_each = contains(local.egress_functions, each.key) ? [1] : []
      content {
        network    = google_compute_network.egress[0].name
        subnetwork = google_compute_subnetwork.egress[0].name
      }
    }
  }

  depends_on = [
    google_cloudfunctions2_function.first,
    # Egress through the VPC reaches nothing until the NAT has its addresses.
    google_compute_router_nat.egress,
    terraform_data.build_grants_propagated,
    terraform_data.function_sizing,
    google_project_iam_member.firestore_user,
    google_pubsub_topic_iam_member.publisher,
    google_secret_manager_secret_iam_member.reader,
  ]
}
