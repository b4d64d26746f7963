# What Cloud Logging keeps (terraform/README.md, What it costs per million deliveries).
#
# Cloud Run writes one request log entry (run.googleapis.com/requests, about 1 KB with its
# httpRequest, resource and labels) for every request a service answers. For the push-fed
# functions every request is a Pub/Sub push, and every push's handling already logs what matters
# on stdout: the attempt line ("delivery attempt", which the log-based metrics of monitoring.tf
# read), "delivery waits", "dead letter". Their request logs say again that Pub/Sub pushed and
# got 2xx or not, which the system metric run.googleapis.com/request_count (the dashboard's
# "function requests by response class") and Pub/Sub's own metrics (the alerts) count without
# any log. So the _Default sink drops them; the API's and the JWKS function's request logs stay
# (a tenant's calls, status and latency per request are worth their bytes). No log-based metric
# or alert reads a request log: every filter in monitoring.tf matches jsonPayload.message.
#
# An exclusion only keeps entries out of the _Default bucket (they are then not billed); a sink
# of your own that routes these logs elsewhere still receives them.
locals {
  push_functions = ["Dispatch", "Deliver", "DeadLetter"]
  push_services  = [for k in local.push_functions : "${var.name_prefix}jobhooks-${local.functions[k].name}"]
}

resource "google_logging_project_exclusion" "push_request_logs" {
  name        = "${var.name_prefix}jobhooks-push-request-logs"
  description = "Cloud Run request logs of the push-fed Jobhooks functions (Dispatch, Deliver, DeadLetter): every request is a Pub/Sub push whose outcome the function logs itself."
  filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "log_id(\"run.googleapis.com/requests\")",
    "resource.labels.service_name=(${join(" OR ", [for s in local.push_services : "\"${s}\""])})",
  ])

  depends_on = [google_project_service.enabled]
}

# The attempt line of a delivered attempt is most of what a healthy deployment logs (one per
# delivery, about 1 KB), and what it says is in the delivery's record too. User-defined
# log-based metrics are computed from every log the Logging API receives for the project,
# whatever the exclusions (Cloud Logging, "Log-based metrics overview"): the attempt counts and
# latencies of monitoring.tf, and so the alerts and the dashboard, see every line. So the
# _Default sink stores only delivered_attempt_logs_kept of them, sampled by insertId; the lines of
# every other outcome are all kept. The metrics are project-scoped (no bucket_name): a
# bucket-scoped metric would count only what its bucket stores.
resource "google_logging_project_exclusion" "delivered_attempt_logs" {
  count       = var.delivered_attempt_logs_kept < 1 ? 1 : 0
  name        = "${var.name_prefix}jobhooks-delivered-attempt-logs"
  description = "Attempt lines of delivered Jobhooks attempts beyond the kept share (delivered_attempt_logs_kept); the log-based metrics count them all."
  filter = join(" AND ", concat([
    local.attempt_logs,
    "jsonPayload.outcome=\"delivered\"",
    ], var.delivered_attempt_logs_kept > 0 ? ["sample(insertId, ${1 - var.delivered_attempt_logs_kept})"] : [],
  ))

  depends_on = [google_project_service.enabled]
}
