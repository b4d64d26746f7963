# Firestore (native mode, one database): records of shared/delivery/README.md, Guarantees and the API keys.
#
#   projects/{p}/webhooks/{id}                    (and /slots/{i}, a throttle's in-flight slots)
#   projects/{p}/events/{hash of the event id}    e: the record
#   projects/{p}/deliveries/{deliveryId}          shard, webhook, state, create_time, last_attempt_time; d: the record
#   projects/{p}/deliveries/{d}/attempts/{n}      number; a: the attempt
#   projects/{p}/limits/{action}
#   apikeys/{sha256hex}
#   deadletters/{hash of the message id}          shard, project, kind, time, lookup; d: the dead letter
#
# The layout is shared/store/README.md, Data model: a query's fields at the top of a record,
# everything else in one map exempt from indexing whole, and a shard leading every index that
# ends in a time.
#
# If the project already has a (default) database, import it (terraform/README.md, Prerequisites) or set
# firestore_database to a new database id.
#
# The database sits in the functions' region unless firestore_location says otherwise: every
# delivery reads and writes it, so a regional database is both the nearest and, per operation,
# half the price of a multi-region one (terraform/README.md, What was decided, and why).
locals {
  # coalesce skips null and "" alike.
  firestore_location = coalesce(var.firestore_location, var.region)
}

resource "google_firestore_database" "main" {
  name        = var.firestore_database
  location_id = local.firestore_location
  type        = "FIRESTORE_NATIVE"

  # Deleting the module leaves the data in place (the provider's default, said explicitly).
  deletion_policy = "ABANDON"

  depends_on = [terraform_data.apis_propagated]
}

# ---- composite indexes: one per query of the API that needs one ----
# Every delivery query runs inside one project's deliveries collection (projects/{p}/deliveries),
# so those indexes are collection-scoped on "deliveries"; dead letters live in the top-level
# "deadletters" collection and are listed by project. Single-field queries use the automatic
# indexes. Each index below ends in a time and starts with the shard (0-7, from the record's
# id): a time index written in one range holds about 500 writes/s, eight ranges 4,000/s, and a
# listing reads the eight and merges them.

# GET /v1/projects/{p}/webhooks/{w}/deliveries — newest first:
#   deliveries where shard == k and webhook == W order by create_time desc   (k = 0..7, merged)
resource "google_firestore_index" "deliveries_by_webhook" {
  database   = google_firestore_database.main.name
  collection = "deliveries"

  fields {
    field_path = "shard"
    order      = "ASCENDING"
  }
  fields {
    field_path = "webhook"
    order      = "ASCENDING"
  }
  fields {
    field_path = "create_time"
    order      = "DESCENDING"
  }
}

# GET /v1/projects/{p}/webhooks/{w}/deliveries?state=S — newest first:
#   deliveries where shard == k and webhook == W and state == S order by create_time desc
resource "google_firestore_index" "deliveries_by_webhook_state" {
  database   = google_firestore_database.main.name
  collection = "deliveries"

  fields {
    field_path = "shard"
    order      = "ASCENDING"
  }
  fields {
    field_path = "webhook"
    order      = "ASCENDING"
  }
  fields {
    field_path = "state"
    order      = "ASCENDING"
  }
  fields {
    field_path = "create_time"
    order      = "DESCENDING"
  }
}

# POST /v1/projects/{p}/webhooks/{w}:replay {start_time, end_time}:
#   deliveries where shard == k and webhook == W and state in [failed, exhausted]
#              and create_time >= start and create_time < end   (ordered by create_time)
resource "google_firestore_index" "deliveries_replay_range" {
  database   = google_firestore_database.main.name
  collection = "deliveries"

  fields {
    field_path = "shard"
    order      = "ASCENDING"
  }
  fields {
    field_path = "webhook"
    order      = "ASCENDING"
  }
  fields {
    field_path = "state"
    order      = "ASCENDING"
  }
  fields {
    field_path = "create_time"
    order      = "ASCENDING"
  }
}

# Auto-disable, before it disables a webhook: the latest success since its failure streak began
#   deliveries where shard == k and webhook == W and state == delivered and last_attempt_time > T
#   order by last_attempt_time desc limit 1
resource "google_firestore_index" "deliveries_last_success" {
  database   = google_firestore_database.main.name
  collection = "deliveries"

  fields {
    field_path = "shard"
    order      = "ASCENDING"
  }
  fields {
    field_path = "webhook"
    order      = "ASCENDING"
  }
  fields {
    field_path = "state"
    order      = "ASCENDING"
  }
  fields {
    field_path = "last_attempt_time"
    order      = "DESCENDING"
  }
}

# GET /v1/projects/{p}/deadLetters — newest first:
#   deadletters where shard == k and project == P order by time desc
resource "google_firestore_index" "deadletters_by_project" {
  database   = google_firestore_database.main.name
  collection = "deadletters"

  fields {
    field_path = "shard"
    order      = "ASCENDING"
  }
  fields {
    field_path = "project"
    order      = "ASCENDING"
  }
  fields {
    field_path = "time"
    order      = "DESCENDING"
  }
}

# GET /v1/projects/{p}/deadLetters?kind=K — newest first:
#   deadletters where shard == k and project == P and kind == K order by time desc
resource "google_firestore_index" "deadletters_by_project_kind" {
  database   = google_firestore_database.main.name
  collection = "deadletters"

  fields {
    field_path = "shard"
    order      = "ASCENDING"
  }
  fields {
    field_path = "project"
    order      = "ASCENDING"
  }
  fields {
    field_path = "kind"
    order      = "ASCENDING"
  }
  fields {
    field_path = "time"
    order      = "DESCENDING"
  }
}

# ---- TTL: Firestore deletes a record once its expire_time has passed (record_ttl) ----
# The field is exempt from single-field indexing: a monotonically increasing timestamp indexed
# on every write is a hotspot, and nothing queries it.
resource "google_firestore_field" "expire_time" {
  for_each = toset(["events", "deliveries", "attempts", "deadletters", "slots"])

  database   = google_firestore_database.main.name
  collection = each.value
  field      = "expire_time"

  ttl_config {}

  index_config {}
}

# ---- fields exempt from single-field indexing ----
# Every field no query uses is exempt (shared/store/README.md, Data model): its index would be
# storage and write work for nothing, and a time's index is a hotspot at about 500 writes/s. A
# map is exempted whole, subfields included: d, e and a hold each record but the fields its
# queries use. The shard, create_time, last_attempt_time and a dead letter's project, kind and
# time are used only through the composite indexes above, which an exemption from single-field
# indexing leaves in place. A
# webhook's subscribed_events and create_time stay indexed (ListSubscribedWebhooks, the
# creation-ordered listing: webhooks are created by people, far below a hotspot's rate). A test
# of shared/store holds this list against the fields the store writes and the queries it runs.
locals {
  unindexed = {
    deliveries  = ["d", "shard", "create_time", "last_attempt_time", "traceparent"]
    attempts    = ["a"]
    events      = ["e"]
    deadletters = ["d", "shard", "project", "kind", "time"]
    webhooks = [
      "project", "id", "url", "display_name", "state", "request_headers", "status_codes_to_retry_on", "secrets",
      "update_time", "enable_time", "failing_since", "retrying_since", "paused_until", "max_in_flight", "rate_limit",
      "allowed_in_flight", "allowed_in_flight_time", "disabled_reason", "propagate_trace",
    ]
    slots    = ["holder", "busy_until"]
    limits   = ["window_start", "count"]
    apikeys  = ["hash", "project", "create_time"]
    projects = ["portal_link_generation"]
  }
  unindexed_fields = merge([
    for collection, fields in local.unindexed : {
      for field in fields : "${collection}/${field}" => { collection = collection, field = field }
    }
  ]...)
}

moved {
  from = google_firestore_field.unindexed_timestamp
  to   = google_firestore_field.unindexed
}

resource "google_firestore_field" "unindexed" {
  for_each = local.unindexed_fields

  database   = google_firestore_database.main.name
  collection = each.value.collection
  field      = each.value.field

  # An empty index_config removes every single-field index of the field.
  index_config {}

  # Firestore runs one field-configuration operation at a time per database.
  depends_on = [google_firestore_field.expire_time]
}
