# Cloud Console observability (terraform/README.md, Watching it in the Console): log-based metrics from the per-attempt log lines,
# alert policies, and one dashboard.
#
# The functions log one JSON object per line; Cloud Logging files the fields under
# jsonPayload.<field>. Every attempt logs message "delivery attempt" with event_id, delivery_id,
# project, webhook, target_host, attempt, status_code, latency_ms, outcome (delivered, retry,
# failed, exhausted, skipped, cancelled) and, when delivered, e2e_latency_ms (event timestamp to
# delivered). A receipt that waited without an attempt logs "delivery waits" with reason throttled
# or paused; a probe of an open circuit logs "circuit open: probing the endpoint" (reason probing). Dead-letter records log at ERROR with message "dead letter", kind and reason.

locals {
  metric_prefix = "${var.name_prefix}jobhooks"

  # Logs of the five functions: gen2 functions run as Cloud Run services named like the function.
  function_logs = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=~\"^${var.name_prefix}jobhooks-\"",
  ])
  attempt_logs = "${local.function_logs} AND jsonPayload.message=\"delivery attempt\""

  # Monitoring filters of the log-based metrics.
  attempts_metric    = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.attempts.name}\" AND resource.type=\"cloud_run_revision\""
  latency_metric     = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.attempt_latency.name}\" AND resource.type=\"cloud_run_revision\""
  e2e_metric         = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.e2e_latency.name}\" AND resource.type=\"cloud_run_revision\""
  dead_letter_metric = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.dead_letters.name}\" AND resource.type=\"cloud_run_revision\""

  # Attempts that reached an endpoint's verdict: the failure ratio's denominator.
  judged_outcomes = "metric.label.outcome=one_of(\"delivered\", \"retry\", \"failed\", \"exhausted\")"
  failed_outcomes = "metric.label.outcome=one_of(\"retry\", \"failed\", \"exhausted\")"

  subscription_metric = {
    for name, s in google_pubsub_subscription.push : name => "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${s.name}\""
  }
  all_subscriptions = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=one_of(${join(", ", [for s in google_pubsub_subscription.push : "\"${s.name}\""])})"
}

# ---- log-based metrics ----

resource "google_logging_metric" "attempts" {
  name        = "${local.metric_prefix}/delivery_attempts"
  description = "Delivery attempts by outcome and tenant project."
  filter      = local.attempt_logs

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Jobhooks delivery attempts"

    labels {
      key         = "outcome"
      description = "delivered, retry, failed, exhausted, skipped or cancelled"
    }
    labels {
      key         = "project"
      description = "Tenant project of the webhook"
    }
  }

  label_extractors = {
    outcome = "EXTRACT(jsonPayload.outcome)"
    project = "EXTRACT(jsonPayload.project)"
  }

  depends_on = [terraform_data.apis_propagated]
}

# Deliveries an endpoint holds back without an attempt (shared/delivery/README.md, Load): a receipt
# that waited for a slot (throttled) or for a pause (paused), and each probe of an open circuit.
resource "google_logging_metric" "held_back" {
  name        = "${local.metric_prefix}/held_back"
  description = "Deliveries held back by their endpoint without an attempt (throttled, paused), and probes of open circuits."
  filter      = "${local.function_logs} AND (jsonPayload.message=\"delivery waits\" OR jsonPayload.message=\"circuit open: probing the endpoint\")"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Jobhooks deliveries held back"

    labels {
      key         = "reason"
      description = "throttled, paused or probing"
    }
    labels {
      key         = "project"
      description = "Tenant project of the webhook"
    }
  }

  label_extractors = {
    reason  = "EXTRACT(jsonPayload.reason)"
    project = "EXTRACT(jsonPayload.project)"
  }
}

resource "google_logging_metric" "attempt_latency" {
  name        = "${local.metric_prefix}/attempt_latency"
  description = "Latency of one POST to an endpoint, by outcome."
  filter      = "${local.attempt_logs} AND jsonPayload.latency_ms>=0"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "ms"
    display_name = "Jobhooks attempt latency"

    labels {
      key         = "outcome"
      description = "Outcome of the attempt"
    }
  }

  value_extractor = "EXTRACT(jsonPayload.latency_ms)"
  label_extractors = {
    outcome = "EXTRACT(jsonPayload.outcome)"
  }

  # 1 ms to ~65 s: an attempt is cut at the attempt timeout (15 s by default).
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 2
      scale              = 1
    }
  }

  depends_on = [terraform_data.apis_propagated]
}

resource "google_logging_metric" "e2e_latency" {
  name        = "${local.metric_prefix}/e2e_latency"
  description = "From the job event's timestamp to the successful POST, retries included."
  filter      = "${local.attempt_logs} AND jsonPayload.outcome=\"delivered\" AND jsonPayload.e2e_latency_ms>=0"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "ms"
    display_name = "Jobhooks end-to-end latency"

    labels {
      key         = "project"
      description = "Tenant project of the webhook"
    }
  }

  value_extractor = "EXTRACT(jsonPayload.e2e_latency_ms)"
  label_extractors = {
    project = "EXTRACT(jsonPayload.project)"
  }

  # 10 ms to ~46 h: a delivery may succeed on its last retry, 24 h (retry_window) after the first.
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 24
      growth_factor      = 2
      scale              = 10
    }
  }

  depends_on = [terraform_data.apis_propagated]
}

resource "google_logging_metric" "dead_letters" {
  name        = "${local.metric_prefix}/dead_letters"
  description = "Dead-letter records: poison events, exhausted deliveries, messages Pub/Sub gave up on."
  filter      = "${local.function_logs} AND severity=ERROR AND jsonPayload.message=\"dead letter\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Jobhooks dead letters"

    labels {
      key         = "kind"
      description = "job_event, delivery, ..."
    }
    labels {
      key         = "reason"
      description = "Why it was dead-lettered, e.g. window_exhausted"
    }
  }

  label_extractors = {
    kind   = "EXTRACT(jsonPayload.kind)"
    reason = "EXTRACT(jsonPayload.reason)"
  }

  depends_on = [terraform_data.apis_propagated]
}

# A new log-based metric takes minutes to become visible to Cloud Monitoring, which meanwhile
# refuses an alert policy on it with 404 "Cannot find metric(s) ... could take up to 10 minutes"
# (a long-standing google provider issue). depends_on only orders, so wait; the wait re-runs only
# when a metric is replaced.
resource "terraform_data" "log_metrics_visible" {
  triggers_replace = [
    google_logging_metric.attempts.id,
    google_logging_metric.attempt_latency.id,
    google_logging_metric.e2e_latency.id,
    google_logging_metric.dead_letters.id,
  ]

  provisioner "local-exec" {
    command = "sleep ${2 * var.propagation_wait_seconds}"
  }
}

# ---- alert policies ----

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "Jobhooks: messages dead-lettered"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "DeadLetter recorded a dead letter"
    condition_threshold {
      filter          = local.dead_letter_metric
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.kind", "metric.label.reason"]
      }
    }
  }

  # Covers a DeadLetter function that cannot record: Pub/Sub's own forwarding still counts.
  conditions {
    display_name = "Pub/Sub forwarded messages to the dead-letter topic"
    condition_threshold {
      filter          = "${local.all_subscriptions} AND metric.type=\"pubsub.googleapis.com/subscription/dead_letter_message_count\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.subscription_id"]
      }
    }
  }

  conditions {
    display_name = "Dead letters wait unrecorded for 10 minutes"
    condition_threshold {
      filter          = "${local.subscription_metric["webhook-dead-letter-record"]} AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "600s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MIN"
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      A job event or a delivery reached the dead-letter topic. In Logs Explorer run
      `${local.function_logs} AND jsonPayload.message="dead letter"`: `kind` says what it was
      (a poison job event, an exhausted delivery), `reason` why. Exhausted deliveries can be
      re-sent with the API's `:retry` or `:replay` once the endpoint is fixed.
    EOT
  }

  depends_on = [terraform_data.log_metrics_visible]
}

resource "google_monitoring_alert_policy" "failure_ratio" {
  display_name          = "Jobhooks: delivery failure ratio above ${var.failure_ratio_threshold}"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "Failed attempts / judged attempts > ${var.failure_ratio_threshold} for 10 min"
    condition_threshold {
      filter             = "${local.attempts_metric} AND ${local.failed_outcomes}"
      denominator_filter = "${local.attempts_metric} AND ${local.judged_outcomes}"
      comparison         = "COMPARISON_GT"
      threshold_value    = var.failure_ratio_threshold
      duration           = "600s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  alert_strategy {
    auto_close = "3600s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      More than ${var.failure_ratio_threshold * 100}% of delivery attempts failed over 10 minutes.
      The dashboard's "Attempts by outcome" and the attempt logs
      (`${local.attempt_logs}`) grouped by `jsonPayload.target_host` and `jsonPayload.status_code`
      show whether one endpoint or everything is failing.
    EOT
  }

  depends_on = [terraform_data.log_metrics_visible]
}

resource "google_monitoring_alert_policy" "oldest_unacked_delivery" {
  display_name          = "Jobhooks: oldest pending delivery older than ${var.oldest_unacked_alert_seconds / 60} min"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "Oldest unacked message on the deliveries subscription"
    condition_threshold {
      filter          = "${local.subscription_metric["webhook-deliveries-deliver"]} AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.oldest_unacked_alert_seconds
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  alert_strategy {
    auto_close = "3600s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      A delivery task has waited longer than ${var.oldest_unacked_alert_seconds} s. Either an
      endpoint has been failing that long (its deliveries keep retrying: see the attempt logs with
      outcome "retry") or Deliver cannot keep up (see the backlog chart and the function's
      instance count and errors).
    EOT
  }
}
