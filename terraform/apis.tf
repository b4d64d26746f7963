# The APIs Jobhooks uses. They stay enabled on destroy: other workloads of the project may use
# them, and disabling an API deletes nothing but breaks whoever else relies on it.
locals {
  services = toset([
    "artifactregistry.googleapis.com", # images built for the functions
    "cloudbuild.googleapis.com",       # builds each function from the uploaded source
    "cloudfunctions.googleapis.com",   # the five gen2 functions
    "firestore.googleapis.com",        # webhooks, events, deliveries, attempts, API keys
    "iam.googleapis.com",              # service accounts
    "logging.googleapis.com",          # log-based metrics
    "monitoring.googleapis.com",       # alert policies and the dashboard
    "pubsub.googleapis.com",           # job-events, webhook-deliveries, webhook-dead-letter
    "run.googleapis.com",              # gen2 functions run as Cloud Run services
    "secretmanager.googleapis.com",    # the KEK and the signing key
    "storage.googleapis.com",          # the source bucket
  ])
}

resource "google_project_service" "enabled" {
  for_each = local.services

  service            = each.value
  disable_on_destroy = false
}

data "google_project" "this" {
  project_id = var.project_id
}
