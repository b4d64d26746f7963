# The APIs Jobhooks uses. They stay enabled on destroy: other workloads of the project may use
# them, and disabling an API deletes nothing but breaks whoever else relies on it.
locals {
  services = toset(concat([
    "artifactregistry.googleapis.com",     # images built for the functions
    "cloudbuild.googleapis.com",           # builds each function from the uploaded source
    "cloudfunctions.googleapis.com",       # the five gen2 functions
    "cloudresourcemanager.googleapis.com", # project number, project IAM grants
    "cloudtrace.googleapis.com",           # stores the spans; the Telemetry API discards them while it is off
    "firestore.googleapis.com",            # webhooks, events, deliveries, attempts, API keys
    "iam.googleapis.com",                  # service accounts
    "logging.googleapis.com",              # log-based metrics
    "monitoring.googleapis.com",           # alert policies and the dashboard
    "pubsub.googleapis.com",               # job-events, webhook-deliveries, webhook-dead-letter
    "run.googleapis.com",                  # gen2 functions run as Cloud Run services
    "secretmanager.googleapis.com",        # the KEK and the signing key
    "storage.googleapis.com",              # the source bucket
    "telemetry.googleapis.com",            # receives the spans over OTLP (shared/tracing/README.md, Export)
    # The egress network, its Cloud NAT and the reserved addresses (egress.tf), only when they are on.
  ], local.egress_on ? ["compute.googleapis.com"] : []))
}

resource "google_project_service" "enabled" {
  for_each = local.services

  service            = each.value
  disable_on_destroy = false
}

# Reads the project through Cloud Resource Manager, so only once that API is enabled (a
# service-account caller in a fresh project is refused until then; see terraform/README.md, Prerequisites).
data "google_project" "this" {
  project_id = var.project_id

  depends_on = [google_project_service.enabled["cloudresourcemanager.googleapis.com"]]
}

# ---- waits for what Google propagates asynchronously (core language only: terraform_data) ----

# An API answers SERVICE_DISABLED for a while after Service Usage reports it enabled (the google
# provider's google_project_service guide recommends a wait; a plan or a read cannot observe the
# propagation). Everything that calls one of these APIs depends on this wait, not on the
# enablement; it re-runs only when an API is enabled anew. Needs only `sleep` (terraform/README.md,
# The first apply, step by step).
resource "terraform_data" "apis_propagated" {
  triggers_replace = [for s in google_project_service.enabled : s.id]

  provisioner "local-exec" {
    command = "sleep ${var.propagation_wait_seconds}"
  }
}

# The Pub/Sub service agent (service-NUMBER@gcp-sa-pubsub...) is created by Google on the API's
# first use, and granting it a role before it exists fails ("Service account ... does not
# exist"). Creating it on request needs the Service Usage v1beta1 API (gcloud beta, or the
# google-beta provider's google_project_service_identity), which this module does without: the
# topics are Pub/Sub's first use, so this waits after they exist, and the agent's grants (iam.tf)
# wait on it. An agent created this way also gets its roles/pubsub.serviceAgent from Google, which
# one created on request would not.
resource "terraform_data" "pubsub_agent" {
  triggers_replace = [for t in google_pubsub_topic.topic : t.id]

  provisioner "local-exec" {
    command = "sleep ${var.propagation_wait_seconds}"
  }
}
