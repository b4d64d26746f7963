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
