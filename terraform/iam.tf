# Identities and least privilege. Each function runs as its own service account with only what
# its code path needs; nothing is granted to the default compute account. Firestore has no
# per-collection IAM, so tenancy (shared/delivery/README.md, Security) is enforced in code; the Firestore grant below
# is datastore.user with an IAM condition naming this module's database, for the functions that
# touch records. terraform/tests/deployment.tftest.hcl asserts every account's exact grants.

locals {
  # Service account ids are limited to 30 characters, hence "jh-".
  function_account_ids = {
    Dispatch   = "jh-dispatch"
    Deliver    = "jh-deliver"
    DeadLetter = "jh-deadletter"
    API        = "jh-api"
    JWKS       = "jh-jwks"
  }

  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # Functions that read or write Firestore records. JWKS reads only the public key set.
  firestore_users = toset(["Dispatch", "Deliver", "DeadLetter", "API"])

  # Functions that export spans: those that handle a job event, its attempts and its dead letters.
  tracing_functions = toset(["Dispatch", "Deliver", "DeadLetter"])

  # Who publishes where, and why.
  publishers = {
    # Dispatch publishes a delivery task for each target whose first attempt needs a retry, and
    # dead-letters poison events.
    "Dispatch/deliveries"  = { function = "Dispatch", topic = "webhook-deliveries" }
    "Dispatch/dead_letter" = { function = "Dispatch", topic = "webhook-dead-letter" }
    # Both queue a task whose endpoint holds it back on the waiting topic (shared/delivery/README.md, Isolation).
    "Dispatch/waiting" = { function = "Dispatch", topic = "webhook-waiting" }
    "Deliver/waiting"  = { function = "Deliver", topic = "webhook-waiting" }
    # Deliver re-publishes a task as its next generation before Pub/Sub's 100-attempt limit, and
    # dead-letters an exhausted delivery.
    "Deliver/deliveries"  = { function = "Deliver", topic = "webhook-deliveries" }
    "Deliver/dead_letter" = { function = "Deliver", topic = "webhook-dead-letter" }
    # The API publishes requests only (a ping, a retry, a replay): never a job event nor a
    # delivery task. Dispatch checks each request against the store and builds what it sends
    # itself (shared/delivery/README.md, Security), so the internet-facing function cannot
    # have anything it made up delivered.
    "API/requests" = { function = "API", topic = "webhook-requests" }
    # Dispatch re-publishes a job event before the subscription's retention would drop it.
    "Dispatch/job_events" = { function = "Dispatch", topic = "job-events" }
  }

  # Who reads which secret. accessor = payload of a named version; viewer = list versions (find
  # the newest enabled one, or all enabled ones), never a payload.
  secret_grants = {
    # Dispatch makes every first attempt (shared/delivery/README.md, One hop on the happy path), so it signs as
    # Deliver does: webhook secrets opened with the KEK, dynamic webhooks with the signing keys.
    "Dispatch/kek/accessor"     = { function = "Dispatch", secret = "kek", role = "roles/secretmanager.secretAccessor" }
    "Dispatch/signing/accessor" = { function = "Dispatch", secret = "signing", role = "roles/secretmanager.secretAccessor" }
    "Dispatch/signing/viewer"   = { function = "Dispatch", secret = "signing", role = "roles/secretmanager.viewer" }
    # Deliver opens webhook secrets with the KEK version each ciphertext names.
    "Deliver/kek/accessor" = { function = "Deliver", secret = "kek", role = "roles/secretmanager.secretAccessor" }
    # Deliver signs dynamic webhooks with every enabled signing key during a rotation.
    "Deliver/signing/accessor" = { function = "Deliver", secret = "signing", role = "roles/secretmanager.secretAccessor" }
    "Deliver/signing/viewer"   = { function = "Deliver", secret = "signing", role = "roles/secretmanager.viewer" }
    # The API seals new signing secrets with the newest enabled KEK version and opens them on rotation.
    "API/kek/accessor" = { function = "API", secret = "kek", role = "roles/secretmanager.secretAccessor" }
    "API/kek/viewer"   = { function = "API", secret = "kek", role = "roles/secretmanager.viewer" }
    # The API signs portal links with the newest enabled portal key and checks each with the
    # version it names.
    "API/portal/accessor" = { function = "API", secret = "portal", role = "roles/secretmanager.secretAccessor" }
    "API/portal/viewer"   = { function = "API", secret = "portal", role = "roles/secretmanager.viewer" }
    # JWKS serves the public key set that scripts/signing-key publishes beside the private keys
    # at every change; it reads the newest version ("latest") and can never read a private key:
    # a flaw in this public, unauthenticated function cannot leak one.
    "JWKS/signing_public/accessor" = { function = "JWKS", secret = "signing_public", role = "roles/secretmanager.secretAccessor" }
  }
}

resource "google_service_account" "function" {
  for_each = local.function_account_ids

  account_id   = "${var.name_prefix}${each.value}"
  display_name = "Jobhooks ${each.key} function"
  description  = "Runtime identity of the ${each.key} function."

  depends_on = [terraform_data.apis_propagated]
}

# The identity Pub/Sub puts in the OIDC token of every push.
resource "google_service_account" "push" {
  account_id   = "${var.name_prefix}jh-push"
  display_name = "Jobhooks Pub/Sub push"
  description  = "Signs Pub/Sub pushes to Dispatch, Deliver and DeadLetter; may invoke only those."

  depends_on = [terraform_data.apis_propagated]
}

# Cloud Build runs the buildpack as this account instead of the default compute account.
resource "google_service_account" "build" {
  account_id   = "${var.name_prefix}jh-build"
  display_name = "Jobhooks function builds"
  description  = "Cloud Build identity that builds the Jobhooks functions from the uploaded source."

  depends_on = [terraform_data.apis_propagated]
}

# ---- runtime grants ----

resource "google_project_iam_member" "firestore_user" {
  for_each = local.firestore_users

  project = var.project_id
  # Read and write documents (no index or database administration), in this database only:
  # Firestore evaluates IAM conditions on the database's resource name.
  role   = "roles/datastore.user"
  member = google_service_account.function[each.value].member

  condition {
    title       = "jobhooks-database-only"
    description = "Only the Jobhooks Firestore database."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${google_firestore_database.main.name}\""
  }
}

# Dispatch, Deliver and DeadLetter send the spans of each job event's trace to Cloud Trace through
# the Telemetry API (shared/tracing/README.md, Export): writing spans (cloudtrace.agent includes the Telemetry
# API's telemetry.traces.write) is all it allows, never reading a trace.
resource "google_project_iam_member" "trace_agent" {
  for_each = local.tracing_functions

  project = var.project_id
  role    = "roles/cloudtrace.agent"
  member  = google_service_account.function[each.value].member
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.publishers

  topic  = google_pubsub_topic.topic[each.value.topic].id
  role   = "roles/pubsub.publisher"
  member = google_service_account.function[each.value.function].member
}

resource "google_secret_manager_secret_iam_member" "reader" {
  for_each = local.secret_grants

  secret_id = google_secret_manager_secret.secret[each.value.secret].id
  role      = each.value.role
  member    = google_service_account.function[each.value.function].member
}

# ---- who may call the functions ----

# Pub/Sub's push identity may invoke the three push-fed functions and nothing else.
resource "google_cloud_run_v2_service_iam_member" "push_invokes" {
  for_each = toset(["Dispatch", "Deliver", "DeadLetter"])

  location = var.region
  name     = local.fn[each.value].service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.push.member
}

# API and JWKS are public: the API authenticates every request with an API key, and the JWKS
# is public by design. An organisation policy restricting allUsers (domain-restricted sharing)
# blocks this grant; see terraform/README.md, Prerequisites.
resource "google_cloud_run_v2_service_iam_member" "public_invokes" {
  for_each = toset(["API", "JWKS"])

  location = var.region
  name     = local.fn[each.value].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# ---- the Pub/Sub service agent ----

# Mints the OIDC tokens of pushes as the push account (needed in projects created before
# April 2021; granted on that one account, not on the project).
resource "google_service_account_iam_member" "pubsub_agent_mints_push_tokens" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent

  depends_on = [terraform_data.pubsub_agent]
}

# Forwards messages that exceed a subscription's max delivery attempts to the dead-letter topic.
resource "google_pubsub_topic_iam_member" "pubsub_agent_publishes_dead_letters" {
  topic  = google_pubsub_topic.topic[local.topic_ids.dead_letter].id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent

  depends_on = [terraform_data.pubsub_agent]
}

# Acknowledges the forwarded messages on each subscription that has a dead-letter policy.
resource "google_pubsub_subscription_iam_member" "pubsub_agent_acks_dead_letters" {
  for_each = { for name, s in local.subscriptions : name => s if s.max_delivery_attempts > 0 }

  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent

  depends_on = [terraform_data.pubsub_agent]
}

# ---- the build identity: the roles Google documents for a custom Cloud Run functions build account ----

# Build logs: log writing cannot be granted below the project.
resource "google_project_iam_member" "build" {
  for_each = toset(["roles/logging.logWriter"])

  project = var.project_id
  role    = each.value
  member  = google_service_account.build.member
}

# Push the built image (and the buildpack's cache image) to this module's repository only
# (functions.tf), not to every repository of the project.
resource "google_artifact_registry_repository_iam_member" "build_pushes_images" {
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.repository_id
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}

locals {
  # The buckets a gen2 build reads and writes: this module's source bucket, and the staging
  # buckets Cloud Functions creates per project and region — gcf-v2-sources-NUMBER-REGION and
  # the uploads bucket, named gcf-v2-uploads-NUMBER-REGION or, in older projects,
  # gcf-v2-uploads-NUMBER.REGION.cloudfunctions.appspot.com.
  build_buckets = [
    google_storage_bucket.source.name,
    "gcf-v2-sources-${data.google_project.this.number}-${var.region}",
    "gcf-v2-uploads-${data.google_project.this.number}-${var.region}",
    "gcf-v2-uploads-${data.google_project.this.number}.${var.region}.cloudfunctions.appspot.com",
  ]
}

# Read the staged source and write build artefacts in exactly those buckets, not in any other
# bucket of the project (not even another region's gcf-v2-* buckets). Cloud Storage evaluates the
# condition on the bucket's or the object's resource name (projects/_/buckets/B[/objects/O]).
resource "google_project_iam_member" "build_storage" {
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = google_service_account.build.member

  condition {
    title       = "jobhooks-build-buckets-only"
    description = "The Jobhooks source bucket and this region's gcf-v2 staging buckets."
    expression = join(" || ", flatten([for b in local.build_buckets : [
      "resource.name == \"projects/_/buckets/${b}\"",
      "resource.name.startsWith(\"projects/_/buckets/${b}/\")",
    ]]))
  }
}

# ---- the deploying principal may act as the accounts it attaches ----

# Creating a push subscription whose OIDC token names jh-push, and a function that runs as (or
# builds as) one of this module's accounts, needs iam.serviceAccounts.actAs on that account.
# Service Account User on the project would give the deployer every account of the project (the
# default compute account included); granted here, it covers exactly the seven accounts this
# module creates, which cannot be granted before they exist. The deployer can grant it because
# it creates the accounts (Service Account Admin; terraform/README.md, Prerequisites).
data "google_client_openid_userinfo" "deployer" {}

locals {
  deployer_email = data.google_client_openid_userinfo.deployer.email
  deployer_member = var.deployer_member != "" ? var.deployer_member : (
    endswith(local.deployer_email, ".gserviceaccount.com") ? "serviceAccount:${local.deployer_email}" : "user:${local.deployer_email}"
  )

  attached_accounts = merge(
    { for k, sa in google_service_account.function : k => sa.name },
    { push = google_service_account.push.name, build = google_service_account.build.name },
  )
}

resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each = local.attached_accounts

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = local.deployer_member

  lifecycle {
    precondition {
      condition     = var.deployer_member != "" || local.deployer_email != ""
      error_message = "The credentials name no email (a federated principal without service account impersonation): set deployer_member to the principal that applies, e.g. \"principal://iam.googleapis.com/...\"."
    }
  }
}

# IAM grants take minutes to reach Cloud Build and the services that check actAs; depends_on
# orders but does not wait, and a build started too early fails on a permission it was just
# given (Google's own custom build account example sleeps 60 s). Re-runs only when one of these
# grants changes.
resource "terraform_data" "build_grants_propagated" {
  triggers_replace = concat(
    [for m in google_project_iam_member.build : m.id],
    [google_artifact_registry_repository_iam_member.build_pushes_images.id],
    [google_project_iam_member.build_storage.id],
    [for m in google_service_account_iam_member.deployer_acts_as : m.id],
  )

  provisioner "local-exec" {
    command = "sleep ${var.propagation_wait_seconds}"
  }
}
