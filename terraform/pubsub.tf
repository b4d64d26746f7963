# Topics and push subscriptions (README.md, How the pieces fit). Push subscriptions are managed here rather than by
# Eventarc triggers because an Eventarc subscription cannot carry a dead-letter policy in Terraform.

# >>> subscription settings — the one source of these numbers in terraform/.
# They equal shared/topics/settings.go (topics.Subscriptions), from which the local stack creates
# the same topology; shared/topics/terraform_test.go parses this block and fails on any difference.
# Keep one `key = literal` per line: the test reads literals, not expressions.
locals {
  topic_ids = {
    job_events  = "job-events"
    requests    = "webhook-requests"
    deliveries  = "webhook-deliveries"
    waiting     = "webhook-waiting"
    dead_letter = "webhook-dead-letter"
  }

  subscriptions = {
    "job-events-dispatch" = {
      topic                 = "job-events"
      function              = "Dispatch"
      ack_deadline_seconds  = 90
      minimum_backoff       = "10s"
      maximum_backoff       = "600s"
      message_retention     = "86400s"
      max_delivery_attempts = 100
      dead_letter_topic     = "webhook-dead-letter"
    }
    # The management API's requests (a ping, a delivery sent again): Dispatch checks each against
    # the store before it sends anything (shared/request).
    "webhook-requests-dispatch" = {
      topic                 = "webhook-requests"
      function              = "Dispatch"
      ack_deadline_seconds  = 90
      minimum_backoff       = "10s"
      maximum_backoff       = "600s"
      message_retention     = "86400s"
      max_delivery_attempts = 100
      dead_letter_topic     = "webhook-dead-letter"
    }
    "webhook-deliveries-deliver" = {
      topic                 = "webhook-deliveries"
      function              = "Deliver"
      ack_deadline_seconds  = 90
      minimum_backoff       = "10s"
      maximum_backoff       = "600s"
      message_retention     = "86400s"
      max_delivery_attempts = 100
      dead_letter_topic     = "webhook-dead-letter"
    }
    # Delivery tasks whose endpoint holds them back (no free slot, a Retry-After, an open
    # circuit): their nacks slow only this subscription (shared/delivery/README.md, Isolation).
    "webhook-waiting-deliver" = {
      topic                 = "webhook-waiting"
      function              = "Deliver"
      ack_deadline_seconds  = 90
      minimum_backoff       = "10s"
      maximum_backoff       = "600s"
      message_retention     = "86400s"
      max_delivery_attempts = 100
      dead_letter_topic     = "webhook-dead-letter"
    }
    # The last stop has no dead-letter policy: DeadLetter only records, and a week of retention
    # covers an outage of the store.
    "webhook-dead-letter-record" = {
      topic                 = "webhook-dead-letter"
      function              = "DeadLetter"
      ack_deadline_seconds  = 90
      minimum_backoff       = "10s"
      maximum_backoff       = "600s"
      message_retention     = "604800s"
      max_delivery_attempts = 0
      dead_letter_topic     = ""
    }
  }
}
# <<< subscription settings

resource "google_pubsub_topic" "topic" {
  for_each = toset(values(local.topic_ids))

  name = "${var.name_prefix}${each.value}"

  depends_on = [terraform_data.apis_propagated]
}

resource "google_pubsub_subscription" "push" {
  for_each = local.subscriptions

  name                       = "${var.name_prefix}${each.key}"
  topic                      = google_pubsub_topic.topic[each.value.topic].id
  ack_deadline_seconds       = each.value.ack_deadline_seconds
  message_retention_duration = each.value.message_retention

  retry_policy {
    minimum_backoff = each.value.minimum_backoff
    maximum_backoff = each.value.maximum_backoff
  }

  dynamic "dead_letter_policy" {
    for_each = each.value.max_delivery_attempts > 0 ? [each.value] : []
    content {
      dead_letter_topic     = google_pubsub_topic.topic[dead_letter_policy.value.dead_letter_topic].id
      max_delivery_attempts = dead_letter_policy.value.max_delivery_attempts
    }
  }

  # A subscription without traffic for 31 days would otherwise be deleted, silently dropping
  # every event published after that.
  expiration_policy {
    ttl = ""
  }

  push_config {
    # The Cloud Run URL of the function; Pub/Sub signs each push with an OIDC token of the push
    # service account for that audience, and only that account may invoke the function.
    push_endpoint = local.fn[each.value.function].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.fn[each.value.function].service_config[0].uri
    }
  }

  lifecycle {
    precondition {
      # Pub/Sub would redeliver a message that is still being handled.
      condition     = each.value.ack_deadline_seconds > var.function_timeout_seconds
      error_message = "The ack deadline of ${each.key} must stay above function_timeout_seconds."
    }
  }

  # Push with OIDC needs the service agent's token grant, and dead-lettering its publisher grant.
  depends_on = [
    google_service_account_iam_member.pubsub_agent_mints_push_tokens,
    google_pubsub_topic_iam_member.pubsub_agent_publishes_dead_letters,
    google_cloud_run_v2_service_iam_member.push_invokes,
  ]
}
