# What review checks in a plan (terraform/README.md, What was decided, and why): each account's exact grants, which
# functions the internet can reach, the subscription settings, the dashboard's stable JSON, and
# what a first apply needs. Offline, against a mocked google provider.
mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
  mock_data "google_client_openid_userinfo" {
    defaults = {
      email = "ci-deployer@demo-project.iam.gserviceaccount.com"
    }
  }
  mock_data "google_secret_manager_secret_version" {
    defaults = {
      enabled = true
    }
  }
  mock_resource "google_service_account" {
    defaults = {
      email  = "jobhooks-mock@demo-project.iam.gserviceaccount.com"
      member = "serviceAccount:jobhooks-mock@demo-project.iam.gserviceaccount.com"
      name   = "projects/demo-project/serviceAccounts/jobhooks-mock@demo-project.iam.gserviceaccount.com"
    }
  }
}

variables {
  project_id     = "demo-project"
  source_archive = "tests/empty-source.zip"
}

run "grants_are_exactly_what_each_function_needs" {
  command = plan

  assert {
    condition     = toset(keys(google_project_iam_member.firestore_user)) == toset(["Dispatch", "Deliver", "DeadLetter", "API"])
    error_message = "Firestore access: Dispatch, Deliver, DeadLetter and API only (never JWKS)."
  }
  assert {
    condition = alltrue([for m in google_project_iam_member.firestore_user :
      m.role == "roles/datastore.user" && m.condition[0].expression == "resource.name == \"projects/demo-project/databases/(default)\""
    ])
    error_message = "Firestore access must be datastore.user, conditioned on this module's database."
  }
  assert {
    condition = toset(keys(google_pubsub_topic_iam_member.publisher)) == toset([
      "Dispatch/job_events", "Dispatch/deliveries", "Dispatch/waiting", "Dispatch/dead_letter",
      "Deliver/deliveries", "Deliver/waiting", "Deliver/dead_letter",
      "API/requests",
    ])
    error_message = "Publishers: Dispatch to job events (its re-publication), deliveries, waiting and dead letters, Deliver to deliveries, waiting and dead letters, API to requests only; nothing else."
  }
  assert {
    # The internet-facing API may not publish anything Deliver or Dispatch would send as it is:
    # a task or a job event (shared/delivery/README.md, Security).
    condition     = [for k, p in local.publishers : p.topic if p.function == "API"] == ["webhook-requests"]
    error_message = "The API's service account may publish to the webhook-requests topic and nowhere else."
  }
  assert {
    condition = toset(keys(google_secret_manager_secret_iam_member.reader)) == toset([
      "Dispatch/kek/accessor", "Dispatch/signing/accessor", "Dispatch/signing/viewer",
      "Deliver/kek/accessor", "Deliver/signing/accessor", "Deliver/signing/viewer",
      "API/kek/accessor", "API/kek/viewer", "API/portal/accessor", "API/portal/viewer",
      "JWKS/signing_public/accessor",
    ])
    error_message = "Secret access: Dispatch and Deliver read the KEK and the signing keys, API the KEK and the portal key, JWKS the public key set only."
  }
  assert {
    condition = alltrue([for g in google_secret_manager_secret_iam_member.reader :
      g.secret_id != google_secret_manager_secret.secret["signing"].id || !strcontains(g.member, "jh-jwks")
    ]) && alltrue([for k, g in local.secret_grants : g.secret != "signing" if g.function == "JWKS"])
    error_message = "The public JWKS function must never be able to read the private signing key."
  }
  assert {
    condition     = google_cloudfunctions2_function.first["JWKS"].service_config[0].environment_variables["JOBHOOKS_SIGNING_JWKS_SECRET"] == "jobhooks-signing-jwks"
    error_message = "The JWKS function reads the published public key set."
  }
  assert {
    condition = (toset(keys(google_project_iam_member.trace_agent)) == toset(["Dispatch", "Deliver", "DeadLetter"])
    && alltrue([for k, m in google_project_iam_member.trace_agent : m.role == "roles/cloudtrace.agent" && m.member == google_service_account.function[k].member]))
    error_message = "Cloud Trace: Dispatch, Deliver and DeadLetter may write spans (cloudtrace.agent), on their own accounts; no other function."
  }
  assert {
    condition = alltrue([for k in ["Dispatch", "Deliver", "DeadLetter"] :
      google_cloudfunctions2_function.fn[k].service_config[0].environment_variables["JOBHOOKS_TRACE_SAMPLE_RATIO"] == "0.1"
      && google_cloudfunctions2_function.fn[k].service_config[0].environment_variables["JOBHOOKS_TRACE_EXPORTER"] == "cloudtrace"
    ])
    error_message = "Dispatch, Deliver and DeadLetter export to Cloud Trace, sampling 10 % of the traces that did not arrive sampled by default."
  }
  assert {
    condition     = toset(keys(google_project_iam_member.build)) == toset(["roles/logging.logWriter"])
    error_message = "The build account's only unconditional project role is the log writer (Artifact Registry is granted on the repository)."
  }
  assert {
    condition = (google_artifact_registry_repository_iam_member.build_pushes_images.role == "roles/artifactregistry.writer"
      && google_artifact_registry_repository_iam_member.build_pushes_images.repository == "jobhooks-functions"
      && google_artifact_registry_repository_iam_member.build_pushes_images.location == "us-central1"
    && google_artifact_registry_repository_iam_member.build_pushes_images.member == google_service_account.build.member)
    error_message = "The build account may push to this module's repository only."
  }
}

run "only_api_and_jwks_are_public" {
  command = plan

  assert {
    condition     = toset(keys(google_cloud_run_v2_service_iam_member.public_invokes)) == toset(["API", "JWKS"])
    error_message = "Only API and JWKS may be invoked by allUsers."
  }
  assert {
    condition     = alltrue([for m in google_cloud_run_v2_service_iam_member.public_invokes : m.member == "allUsers" && m.role == "roles/run.invoker"])
    error_message = "The public grants are run.invoker to allUsers."
  }
  assert {
    condition = (toset(keys(google_cloud_run_v2_service_iam_member.push_invokes)) == toset(["Dispatch", "Deliver", "DeadLetter"])
    && alltrue([for m in google_cloud_run_v2_service_iam_member.push_invokes : m.member == google_service_account.push.member]))
    error_message = "Dispatch, Deliver and DeadLetter are invoked by the push account only."
  }
  assert {
    condition = alltrue([for k, f in local.fn :
      f.service_config[0].ingress_settings == (contains(["API", "JWKS"], k) ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY")
    ])
    error_message = "Push-fed functions take internal traffic only (Pub/Sub push of the same project counts as internal); API and JWKS take all."
  }
}

run "the_api_names_the_jwks_url_without_waiting_for_the_function" {
  command = plan

  variables {
    region      = "europe-west1"
    name_prefix = "staging-"
  }

  assert {
    condition     = google_cloudfunctions2_function.fn["API"].service_config[0].environment_variables["JOBHOOKS_JWKS_URL"] == "https://europe-west1-demo-project.cloudfunctions.net/staging-jobhooks-jwks/.well-known/jwks.json"
    error_message = "The API (the console's Verify page) gets the JWKS function's cloudfunctions.net address, with this deployment's region and prefix."
  }
  assert {
    condition     = google_cloudfunctions2_function.first["JWKS"].name == "staging-jobhooks-jwks" && output.jwks_url == google_cloudfunctions2_function.fn["API"].service_config[0].environment_variables["JOBHOOKS_JWKS_URL"]
    error_message = "The URL names the JWKS function as deployed, and the jwks_url output is the same address."
  }
}

run "subscriptions_retry_dead_letter_and_outlive_the_function" {
  command = plan

  assert {
    condition = alltrue([for s in google_pubsub_subscription.push :
      s.ack_deadline_seconds == 90 && s.retry_policy[0].minimum_backoff == "10s" && s.retry_policy[0].maximum_backoff == "600s"
      && s.expiration_policy[0].ttl == "" && s.push_config[0].oidc_token[0].service_account_email == google_service_account.push.email
    ])
    error_message = "Every push subscription: 90 s ack deadline, backoff 10 s to 600 s, never expires, pushes as the push account."
  }
  assert {
    condition = alltrue([for name in ["job-events-dispatch", "webhook-deliveries-deliver"] :
      google_pubsub_subscription.push[name].message_retention_duration == "86400s"
      && google_pubsub_subscription.push[name].dead_letter_policy[0].max_delivery_attempts == 100
    ])
    error_message = "Job events and deliveries: 24 h retention, dead-lettered after 100 attempts."
  }
  assert {
    condition     = length(google_pubsub_subscription.push["webhook-dead-letter-record"].dead_letter_policy) == 0
    error_message = "The dead-letter subscription is the last stop: no dead-letter policy of its own."
  }
}

run "dashboard_json_is_what_the_api_returns" {
  command = plan

  assert {
    condition = alltrue([for t in jsondecode(google_monitoring_dashboard.jobhooks.dashboard_json).mosaicLayout.tiles :
      try(t.xPos, 1) != 0 && try(t.yPos, 1) != 0
    ])
    error_message = "xPos/yPos of 0 are dropped by the API: writing them makes every plan show a diff."
  }
  assert {
    condition = alltrue(flatten([for t in jsondecode(google_monitoring_dashboard.jobhooks.dashboard_json).mosaicLayout.tiles : [
      for d in t.widget.xyChart.dataSets : length(try(d.timeSeriesQuery.timeSeriesFilter.aggregation.groupByFields, ["absent"])) > 0
    ]]))
    error_message = "An empty groupByFields is dropped by the API: writing it makes every plan show a diff."
  }
}

run "first_apply_enables_and_waits" {
  command = plan

  assert {
    condition     = contains(keys(google_project_service.enabled), "cloudresourcemanager.googleapis.com")
    error_message = "Cloud Resource Manager must be enabled: the project data source and project IAM use it."
  }
  assert {
    condition     = contains(keys(google_project_service.enabled), "telemetry.googleapis.com") && contains(keys(google_project_service.enabled), "cloudtrace.googleapis.com")
    error_message = "Spans are sent to the Telemetry API, which stores them in Cloud Trace and discards them while the Cloud Trace API is off: both must be enabled."
  }
  assert {
    condition     = length(terraform_data.log_metrics_visible.triggers_replace) == 4
    error_message = "The alert policies wait for all four log-based metrics to become visible."
  }
  assert {
    # log writer, repository writer, bucket access, and actAs on the seven accounts.
    condition     = length(terraform_data.build_grants_propagated.triggers_replace) == 10
    error_message = "The first build waits for the three build grants and the deployer's seven actAs grants to propagate."
  }
  assert {
    condition     = length(terraform_data.pubsub_agent.triggers_replace) == length(google_pubsub_topic.topic) && length(google_pubsub_topic.topic) == 5
    error_message = "The Pub/Sub service agent's grants wait after Pub/Sub's first use: the creation of every topic."
  }
  assert {
    condition     = length(terraform_data.apis_propagated.triggers_replace) == length(local.services)
    error_message = "Everything that calls an API waits after every API's enablement."
  }
  assert {
    condition = alltrue([for k in [
      "deliveries/d", "events/e", "attempts/a", "deadletters/d", "deliveries/create_time",
      "deliveries/last_attempt_time", "deadletters/time", "slots/busy_until",
    ] : contains(keys(google_firestore_field.unindexed), k)])
    error_message = "Each hot record's map of unqueried fields and every time used only through a composite index are exempt from single-field indexing (the store's test checks the whole list)."
  }
}

# ---- where the database lives (firestore.tf): the functions' region unless told otherwise ----

run "firestore_defaults_to_the_functions_region" {
  command = plan

  assert {
    condition     = google_firestore_database.main.location_id == "us-central1"
    error_message = "With firestore_location unset, the database is in the functions' region (default us-central1)."
  }
}

run "firestore_follows_another_region" {
  command = plan
  variables {
    region = "europe-west1"
  }

  assert {
    condition     = google_firestore_database.main.location_id == "europe-west1" && google_cloudfunctions2_function.fn["Deliver"].location == "europe-west1"
    error_message = "With firestore_location unset, the database follows var.region, wherever the functions go."
  }
}

run "firestore_empty_location_means_the_region" {
  command = plan
  variables {
    region             = "europe-west4"
    firestore_location = ""
  }

  assert {
    condition     = google_firestore_database.main.location_id == "europe-west4"
    error_message = "firestore_location = \"\" means the same as unset: the functions' region."
  }
}

run "firestore_multi_region_is_honoured" {
  command = plan
  variables {
    firestore_location = "nam5"
  }

  assert {
    condition     = google_firestore_database.main.location_id == "nam5"
    error_message = "An explicit firestore_location (a multi-region such as nam5) is used as given."
  }
}

run "firestore_location_that_is_no_location_is_refused" {
  command = plan
  variables {
    firestore_location = "US"
  }
  expect_failures = [var.firestore_location]
}

# ---- values config.Load would refuse at every function's start are refused at plan time ----

run "zero_retry_window_is_refused" {
  command = plan
  variables {
    retry_window = "0h"
  }
  expect_failures = [var.retry_window]
}

run "zero_auto_disable_is_refused" {
  command = plan
  variables {
    auto_disable_after = "0s"
  }
  expect_failures = [var.auto_disable_after]
}

run "zero_record_ttl_is_refused" {
  command = plan
  variables {
    record_ttl = "0h"
  }
  expect_failures = [var.record_ttl]
}

run "zero_attempt_timeout_is_refused" {
  command = plan
  variables {
    attempt_timeout = "0s"
  }
  expect_failures = [var.attempt_timeout]
}

run "override_with_an_unknown_cpu_size_is_refused" {
  command = plan
  variables {
    function_overrides = { Deliver = { cpu = "3" } }
  }
  expect_failures = [var.function_overrides]
}

run "override_with_zero_concurrency_is_refused" {
  command = plan
  variables {
    function_overrides = { Dispatch = { concurrency = 0 } }
  }
  expect_failures = [var.function_overrides]
}

run "override_for_an_unknown_function_is_refused" {
  command = plan
  variables {
    function_overrides = { Dispatcher = { memory = "1Gi" } }
  }
  expect_failures = [var.function_overrides]
}

run "override_with_min_above_max_instances_is_refused" {
  command = plan
  variables {
    function_overrides = { Deliver = { min_instances = 5, max_instances = 2 } }
  }
  expect_failures = [terraform_data.function_sizing]
}

run "valid_overrides_plan" {
  command = plan
  variables {
    function_overrides = { Deliver = { cpu = "2", concurrency = 200, max_instances = 300 }, JWKS = { memory = "256Mi", concurrency = 1, cpu = "0.5" } }
  }
}

# ---- the deployment's cap per origin (shared/delivery/README.md, Throttle) ----

run "each_instance_gets_its_share_of_the_cap_per_origin" {
  command = plan
  variables {
    endpoint_max_in_flight = 1000
    function_overrides     = { Deliver = { max_instances = 150 } }
  }
  assert {
    # 1000 over 100 Dispatch and 150 Deliver instances: no origin sees more than 1000.
    condition     = google_cloudfunctions2_function.fn["Deliver"].service_config[0].environment_variables["JOBHOOKS_ORIGIN_MAX_IN_FLIGHT"] == "4"
    error_message = "Deliver's share of the cap per origin is not the cap over the Dispatch and Deliver instances."
  }
  assert {
    condition     = google_cloudfunctions2_function.fn["Dispatch"].service_config[0].environment_variables["JOBHOOKS_ORIGIN_MAX_IN_FLIGHT"] == "4"
    error_message = "Dispatch's share of the cap per origin differs from Deliver's."
  }
}

run "a_cap_per_origin_below_one_request_per_instance_is_refused" {
  command = plan
  variables {
    endpoint_max_in_flight = 150
  }
  expect_failures = [terraform_data.function_sizing]
}

run "held_back_deliveries_are_a_log_based_metric_by_reason" {
  command = plan
  assert {
    condition     = strcontains(google_logging_metric.held_back.filter, "jsonPayload.message=\"delivery waits\"") && strcontains(google_logging_metric.held_back.filter, "circuit open: probing the endpoint") && google_logging_metric.held_back.label_extractors["reason"] == "EXTRACT(jsonPayload.reason)"
    error_message = "The held-back metric must count the wait and probe lines by their reason."
  }
}

# ---- the first apply in a fresh project (terraform/README.md, The first apply, step by step) ----

run "first_build_runs_alone_then_the_other_four" {
  command = plan

  assert {
    condition     = keys(google_cloudfunctions2_function.first) == ["JWKS"]
    error_message = "One function (JWKS) is built first, alone."
  }
  assert {
    condition     = toset(keys(google_cloudfunctions2_function.fn)) == toset(["Dispatch", "Deliver", "DeadLetter", "API"])
    error_message = "The other four functions are a second resource (which depends_on the first), not built with it."
  }
  assert {
    condition     = google_artifact_registry_repository.functions.format == "DOCKER" && google_artifact_registry_repository.functions.location == "us-central1"
    error_message = "The functions' images go to a DOCKER repository of the functions' region, created by this module."
  }
}

# Applied against the mock so that values a plan leaves unknown (the project number, the
# repository's id) are known; propagation_wait_seconds = 0 makes the waits' sleep instant.
run "builds_use_this_modules_repository_and_buckets_only" {
  command = apply
  variables {
    propagation_wait_seconds = 0
  }

  assert {
    condition     = alltrue([for f in local.fn : f.build_config[0].docker_repository == google_artifact_registry_repository.functions.id])
    error_message = "Every function is built into this module's repository (build_config.docker_repository), not into gcf-artifacts."
  }
  assert {
    condition = google_project_iam_member.build_storage.condition[0].expression == join(" || ", [
      "resource.name == \"projects/_/buckets/demo-project-jobhooks-source\"",
      "resource.name.startsWith(\"projects/_/buckets/demo-project-jobhooks-source/\")",
      "resource.name == \"projects/_/buckets/gcf-v2-sources-123456789012-us-central1\"",
      "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-123456789012-us-central1/\")",
      "resource.name == \"projects/_/buckets/gcf-v2-uploads-123456789012-us-central1\"",
      "resource.name.startsWith(\"projects/_/buckets/gcf-v2-uploads-123456789012-us-central1/\")",
      "resource.name == \"projects/_/buckets/gcf-v2-uploads-123456789012.us-central1.cloudfunctions.appspot.com\"",
      "resource.name.startsWith(\"projects/_/buckets/gcf-v2-uploads-123456789012.us-central1.cloudfunctions.appspot.com/\")",
    ])
    error_message = "The build account's storage access names exactly the source bucket and this project's and region's gcf-v2 staging buckets."
  }
}

run "the_deployer_may_act_as_the_accounts_it_attaches" {
  command = plan

  assert {
    condition     = toset(keys(google_service_account_iam_member.deployer_acts_as)) == toset(["Dispatch", "Deliver", "DeadLetter", "API", "JWKS", "push", "build"])
    error_message = "The deploying principal gets actAs on the five function accounts, the push account and the build account, and nothing else."
  }
  assert {
    condition = alltrue([for m in google_service_account_iam_member.deployer_acts_as :
      m.role == "roles/iam.serviceAccountUser" && m.member == "serviceAccount:ci-deployer@demo-project.iam.gserviceaccount.com"
    ])
    error_message = "The grant is Service Account User, to the service account the provider's credentials belong to."
  }
}

run "a_person_deploying_is_granted_as_a_user" {
  command = plan
  override_data {
    target = data.google_client_openid_userinfo.deployer
    values = {
      email = "alice@example.com"
    }
  }

  assert {
    condition     = alltrue([for m in google_service_account_iam_member.deployer_acts_as : m.member == "user:alice@example.com"])
    error_message = "A person's credentials are granted as user:EMAIL."
  }
}

run "a_federated_deployer_is_named_by_the_variable" {
  command = plan
  variables {
    deployer_member = "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/ci/subject/repo:acme/jobhooks:ref:refs/heads/main"
  }
  override_data {
    target = data.google_client_openid_userinfo.deployer
    values = {
      email = ""
    }
  }

  assert {
    condition     = alltrue([for m in google_service_account_iam_member.deployer_acts_as : startswith(m.member, "principal://iam.googleapis.com/")])
    error_message = "deployer_member, when set, is the principal granted."
  }
}

run "a_deployer_without_email_or_variable_is_refused" {
  command = plan
  override_data {
    target = data.google_client_openid_userinfo.deployer
    values = {
      email = ""
    }
  }
  expect_failures = [google_service_account_iam_member.deployer_acts_as]
}

run "secrets_without_versions_are_a_visible_warning" {
  command = plan
  override_data {
    target = data.google_secret_manager_secret_version.published_keys
    values = {
      enabled = false
    }
  }
  expect_failures = [check.secrets_initialised]

  assert {
    condition     = output.secrets_init_command == "scripts/secrets-init --project demo-project"
    error_message = "The output names the command that gives the secrets their first versions."
  }
}

run "the_secrets_init_command_follows_prefix_and_jwt_mode" {
  command = plan
  variables {
    name_prefix     = "staging-"
    signing_mode    = "jwt"
    public_base_url = "https://hooks.example.com"
  }

  assert {
    condition     = output.secrets_init_command == "scripts/secrets-init --project demo-project --name-prefix staging- --signing-alg RS256"
    error_message = "With a prefix and jwt mode, the command names both."
  }
}

# ---- webhooks per project: a variable up to 10,000 (shared/store/README.md, Data model) ----

run "the_webhooks_cap_reaches_the_api" {
  command = plan
  variables {
    max_webhooks_per_project = 10000
  }
  assert {
    condition     = google_cloudfunctions2_function.fn["API"].service_config[0].environment_variables["JOBHOOKS_MAX_WEBHOOKS_PER_PROJECT"] == "10000"
    error_message = "The API does not get max_webhooks_per_project."
  }
}

run "more_than_ten_thousand_webhooks_per_project_is_refused" {
  command = plan
  variables {
    max_webhooks_per_project = 10001
  }
  expect_failures = [var.max_webhooks_per_project]
}
