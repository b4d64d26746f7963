# Settings that depend on each other are checked together before anything is planned, as
# shared/config does when a function starts (config.Load's cross-checks, with the same margins):
#   attempt_timeout + 10 s (recording the attempt) < function_timeout_seconds < 90 s (the push
#   ack deadline, checked on each subscription in pubsub.tf), and record_ttl >= retry_window + 24 h
#   (a record outlives the retry window of its latest attempt series by a day), and
#   first_attempt_budget <= attempt_timeout (Dispatch's first attempts are attempts too).
# A function killed mid-POST by its own timeout records nothing, and Pub/Sub pushes it again.

locals {
  unit_seconds           = { h = 3600, m = 60, s = 1 }
  retry_window_seconds   = sum([for p in regexall("([0-9]+)([hms])", var.retry_window) : tonumber(p[0]) * local.unit_seconds[p[1]]])
  attempt_timeout_second = tonumber(trimsuffix(var.attempt_timeout, "s"))
  record_ttl_seconds     = tonumber(trimsuffix(var.record_ttl, "h")) * 3600
}

resource "terraform_data" "settings" {
  input = {
    attempt_timeout  = var.attempt_timeout
    first_attempt    = var.first_attempt_budget
    function_timeout = var.function_timeout_seconds
    retry_window     = var.retry_window
    record_ttl       = var.record_ttl
  }

  lifecycle {
    precondition {
      condition     = local.attempt_timeout_second + 10 < var.function_timeout_seconds
      error_message = "attempt_timeout (${var.attempt_timeout}) plus 10 s to record the attempt must stay below function_timeout_seconds (${var.function_timeout_seconds}): the platform would kill a request mid-POST, nothing would be recorded and the POST would repeat."
    }
    precondition {
      condition     = tonumber(trimsuffix(var.first_attempt_budget, "s")) <= local.attempt_timeout_second
      error_message = "first_attempt_budget (${var.first_attempt_budget}) must be at most attempt_timeout (${var.attempt_timeout})."
    }
    precondition {
      condition     = local.record_ttl_seconds >= local.retry_window_seconds + 86400
      error_message = "record_ttl (${var.record_ttl}) must be at least retry_window (${var.retry_window}) plus 24h: a retried delivery's record must outlive its retry window."
    }
    precondition {
      condition     = var.signing_mode != "jwt" || var.public_base_url != ""
      error_message = "signing_mode = \"jwt\" needs public_base_url: it is the issuer of every JWT."
    }
  }
}
