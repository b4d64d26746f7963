# Firestore (native mode, one database): records of shared/delivery/README.md, Guarantees and the API keys.
#
#   projects/{p}/webhooks/{id}
#   projects/{p}/events/{eventId}
#   projects/{p}/deliveries/{deliveryId}          webhook, state, create_time, first_attempt_time, ...
#   projects/{p}/deliveries/{d}/attempts/{n}
#   apikeys/{sha256hex}
#   deadletters/{id}                              project, kind, reason, ...
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

  depends_on = [google_project_service.enabled]
}

# ---- composite indexes: one per query of the API that needs one ----
# Every delivery query runs inside one project's deliveries collection (projects/{p}/deliveries),
# so those indexes are collection-scoped on "deliveries"; dead letters live in the top-level
# "deadletters" collection and are listed by project. Single-field queries use the automatic
# indexes.

# GET /v1/projects/{p}/webhooks/{w}/deliveries — newest first:
#   deliveries where webhook == W order by create_time desc
resource "google_firestore_index" "deliveries_by_webhook" {
  database   = google_firestore_database.main.name
  collection = "deliveries"

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
#   deliveries where webhook == W and state == S order by create_time desc
resource "google_firestore_index" "deliveries_by_webhook_state" {
  database   = google_firestore_database.main.name
  collection = "deliveries"

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
#   deliveries where webhook == W and state in [failed, exhausted]
#              and create_time >= start and create_time < end   (ordered by create_time)
resource "google_firestore_index" "deliveries_replay_range" {
  database   = google_firestore_database.main.name
  collection = "deliveries"

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
#   deliveries where webhook == W and state == delivered and last_attempt_time > T
#   order by last_attempt_time desc limit 1
resource "google_firestore_index" "deliveries_last_success" {
  database   = google_firestore_database.main.name
  collection = "deliveries"

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

# GET /v1/projects/{p}/deadLetters — newest first (the project leads: no timestamp hotspot):
#   deadletters where project == P order by time desc
resource "google_firestore_index" "deadletters_by_project" {
  database   = google_firestore_database.main.name
  collection = "deadletters"

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
#   deadletters where project == P and kind == K order by time desc
resource "google_firestore_index" "deadletters_by_project_kind" {
  database   = google_firestore_database.main.name
  collection = "deadletters"

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
  for_each = toset(["events", "deliveries", "attempts", "deadletters"])

  database   = google_firestore_database.main.name
  collection = each.value
  field      = "expire_time"

  ttl_config {}

  index_config {}
}

# ---- fields exempt from single-field indexing ----
# The timestamps are set to "now" (or a little after) on almost every write, so their automatic
# index is a write hotspot at scale, and no query filters or orders on one alone:
# last_attempt_time is queried only through the composite index deliveries_last_success, which
# an exemption from single-field indexing leaves in place. A record's traceparent
# (shared/tracing/README.md, Spans) is random, so no hotspot, but it is only ever read with its
# record: indexing it would be storage and write work for nothing. A dead letter's time is
# listed only through the deadletters_by_project indexes, and its data (up to 4 KiB of the
# message as it arrived) is only ever read with it.
locals {
  unindexed_fields = {
    "deliveries/first_attempt_time" = { collection = "deliveries", field = "first_attempt_time" }
    "deliveries/last_attempt_time"  = { collection = "deliveries", field = "last_attempt_time" }
    "deliveries/next_not_before"    = { collection = "deliveries", field = "next_not_before" }
    "deliveries/traceparent"        = { collection = "deliveries", field = "traceparent" }
    "attempts/time"                 = { collection = "attempts", field = "time" }
    "deadletters/time"              = { collection = "deadletters", field = "time" }
    "deadletters/data"              = { collection = "deadletters", field = "data" }
  }
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
