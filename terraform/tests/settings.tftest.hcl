# Settings that depend on each other (terraform/settings.tf) are refused at plan time.
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
  project_id = "demo-project"
  # An empty zip stands in for the upload scripts/package builds: a plan only hashes it.
  source_archive = "tests/empty-source.zip"
}

run "defaults_plan" {
  command = plan
}

run "attempt_timeout_too_close_to_the_function_timeout" {
  command = plan
  variables {
    attempt_timeout          = "45s"
    function_timeout_seconds = 50
  }
  expect_failures = [terraform_data.settings]
}

run "record_ttl_shorter_than_the_window_plus_a_day" {
  command = plan
  variables {
    retry_window = "36h"
    record_ttl   = "48h"
  }
  expect_failures = [terraform_data.settings]
}

run "first_attempt_budget_above_the_attempt_timeout" {
  command = plan
  variables {
    attempt_timeout      = "5s"
    first_attempt_budget = "10s"
  }
  expect_failures = [terraform_data.settings]
}
