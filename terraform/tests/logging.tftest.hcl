# What Cloud Logging keeps (terraform/logging.tf): the push-fed functions' Cloud Run request logs
# are excluded, the API's and JWKS's are not, and no log-based metric reads a request log.
mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
  # As after scripts/secrets-init (secrets.tf warns until then).
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

run "push_request_logs_excluded_api_kept" {
  command = plan

  assert {
    condition     = google_logging_project_exclusion.push_request_logs.filter == "resource.type=\"cloud_run_revision\" AND log_id(\"run.googleapis.com/requests\") AND resource.labels.service_name=(\"jobhooks-dispatch\" OR \"jobhooks-deliver\" OR \"jobhooks-deadletter\")"
    error_message = "the exclusion must match exactly the request logs of Dispatch, Deliver and DeadLetter: ${google_logging_project_exclusion.push_request_logs.filter}"
  }
  assert {
    condition     = !strcontains(google_logging_project_exclusion.push_request_logs.filter, "jobhooks-api") && !strcontains(google_logging_project_exclusion.push_request_logs.filter, "jobhooks-jwks")
    error_message = "the API's and JWKS's request logs must stay"
  }
  assert {
    condition     = google_logging_project_exclusion.push_request_logs.disabled != true
    error_message = "the exclusion must be on"
  }
  # The exclusion drops request logs only; every log-based metric reads the functions' own lines.
  assert {
    condition = alltrue([for f in [
      google_logging_metric.attempts.filter,
      google_logging_metric.held_back.filter,
      google_logging_metric.attempt_latency.filter,
      google_logging_metric.e2e_latency.filter,
      google_logging_metric.dead_letters.filter,
    ] : strcontains(f, "jsonPayload.message=") && !strcontains(f, "run.googleapis.com/requests")])
    error_message = "a log-based metric reads something the exclusion may drop"
  }
}

run "prefixed_deployment_excludes_its_own_services" {
  command = plan
  variables {
    name_prefix = "staging-"
  }

  assert {
    condition     = strcontains(google_logging_project_exclusion.push_request_logs.filter, "\"staging-jobhooks-dispatch\" OR \"staging-jobhooks-deliver\" OR \"staging-jobhooks-deadletter\"")
    error_message = "a prefixed deployment must exclude its own push services: ${google_logging_project_exclusion.push_request_logs.filter}"
  }
  assert {
    condition     = google_logging_project_exclusion.push_request_logs.name == "staging-jobhooks-push-request-logs"
    error_message = "two deployments in one project need two exclusions"
  }
}

# A delivered attempt's line is stored at 1 % by default, every other outcome's always, and the
# metrics that count attempts stay project-scoped, so they count the excluded lines too.
run "delivered_attempt_lines_are_sampled_and_still_counted" {
  command = plan

  assert {
    condition     = google_logging_project_exclusion.delivered_attempt_logs[0].filter == "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=~\"^jobhooks-\" AND jsonPayload.message=\"delivery attempt\" AND jsonPayload.outcome=\"delivered\" AND sample(insertId, 0.99)"
    error_message = "the exclusion must drop 99 % of delivered attempts' lines and nothing else: ${google_logging_project_exclusion.delivered_attempt_logs[0].filter}"
  }
  assert {
    condition = alltrue([for m in [
      google_logging_metric.attempts,
      google_logging_metric.attempt_latency,
      google_logging_metric.e2e_latency,
    ] : m.bucket_name == null])
    error_message = "a bucket-scoped metric counts only what its bucket stores: the attempt metrics must be project-scoped"
  }
}

run "every_delivered_attempt_line_can_be_kept_or_none" {
  command = plan
  variables {
    delivered_attempt_logs_kept = 1
  }

  assert {
    condition     = length(google_logging_project_exclusion.delivered_attempt_logs) == 0
    error_message = "keeping every line needs no exclusion"
  }
}

run "no_delivered_attempt_line_is_stored_at_zero" {
  command = plan
  variables {
    delivered_attempt_logs_kept = 0
  }

  assert {
    condition     = !strcontains(google_logging_project_exclusion.delivered_attempt_logs[0].filter, "sample(")
    error_message = "at 0 every delivered attempt's line is excluded: ${google_logging_project_exclusion.delivered_attempt_logs[0].filter}"
  }
}

run "a_share_above_one_is_refused" {
  command = plan
  variables {
    delivered_attempt_logs_kept = 1.5
  }
  expect_failures = [var.delivered_attempt_logs_kept]
}
