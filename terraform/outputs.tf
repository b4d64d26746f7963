output "api_url" {
  description = "Base URL of the management API (shared/restapi/README.md, The management API): /v1/projects/{p}/webhooks, /v1beta/webhooks, ..."
  value       = local.fn["API"].service_config[0].uri
}

output "console_url" {
  description = "The web console (shared/restapi/README.md, Console): sign in with an API key, or hand out portal links from POST /v1/projects/{p}:createPortalLink."
  value       = "${local.fn["API"].service_config[0].uri}/console/"
}

output "portal_key_secret" {
  description = "Secret whose versions sign portal links; scripts/secrets-init adds the first, scripts/portal-key rotate the next."
  value       = google_secret_manager_secret.secret["portal"].secret_id
}

output "jwks_url" {
  description = "Public keys of the dynamic-webhook signing key; receivers of v1a/jwt deliveries fetch them here."
  value       = local.jwks_url
  # Printed once the function that serves it exists.
  depends_on = [google_cloudfunctions2_function.first, google_cloudfunctions2_function.fn]
}

output "egress_ips" {
  description = "The addresses Dispatch and Deliver send every delivery from, for receivers to allowlist (egress_ip_count > 0; terraform/README.md, Static egress IPs). Empty when off: deliveries then leave from Google's shared addresses."
  value       = google_compute_address.egress[*].address
}

output "job_events_topic" {
  description = "Topic that job systems publish job-finished events to (shared/jobevents/README.md, The job event)."
  value       = google_pubsub_topic.topic[local.topic_ids.job_events].id
}

output "dead_letter_topic" {
  description = "Topic of poison events, exhausted deliveries and messages Pub/Sub gave up on."
  value       = google_pubsub_topic.topic[local.topic_ids.dead_letter].id
}

output "kek_secret" {
  description = "Secret whose versions are the key-encryption keys; scripts/secrets-init adds the first."
  value       = google_secret_manager_secret.secret["kek"].secret_id
}

output "signing_key_secret" {
  description = "Secret whose versions are the dynamic-webhook signing keys."
  value       = google_secret_manager_secret.secret["signing"].secret_id
}

output "dashboard_url" {
  description = "The Jobhooks dashboard in the Cloud Console."
  value       = "https://console.cloud.google.com/monitoring/dashboards/builder/${element(split("/", google_monitoring_dashboard.jobhooks.id), 3)}?project=${var.project_id}"
}

output "secrets_init_command" {
  description = "Run this once after the first apply: Terraform creates the secrets without values, and until their first versions exist nothing is signed (check secrets_initialised warns until then)."
  value       = local.secrets_init_command
}
