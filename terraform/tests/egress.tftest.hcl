# Static egress IPs (terraform/egress.tf; terraform/README.md, Static egress IPs): off by default;
# with egress_ip_count > 0, Dispatch and Deliver alone send everything through a VPC of their own
# and leave it through a Cloud NAT that uses exactly the reserved addresses.
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

run "egress_is_off_by_default" {
  command = plan

  assert {
    condition = (length(google_compute_network.egress) == 0 && length(google_compute_subnetwork.egress) == 0
      && length(google_compute_router.egress) == 0 && length(google_compute_router_nat.egress) == 0
    && length(google_compute_address.egress) == 0)
    error_message = "With egress_ip_count = 0 no network, subnetwork, router, NAT or address is planned."
  }
  assert {
    condition     = length(output.egress_ips) == 0
    error_message = "With egress off, the egress_ips output is an empty list."
  }
  assert {
    condition     = alltrue([for f in local.fn : length(f.service_config[0].direct_vpc_network_interface) == 0])
    error_message = "With egress off, no function has a Direct VPC interface."
  }
  assert {
    condition     = !contains(keys(google_project_service.enabled), "compute.googleapis.com")
    error_message = "With egress off, the Compute Engine API is not enabled."
  }
}

run "two_addresses_send_dispatch_and_deliver_through_the_nat" {
  command = plan
  variables {
    egress_ip_count = 2
  }

  assert {
    condition     = length(google_compute_network.egress) == 1 && google_compute_network.egress[0].auto_create_subnetworks == false
    error_message = "One dedicated network, in custom mode (no subnetwork in every region)."
  }
  assert {
    condition = (length(google_compute_subnetwork.egress) == 1
      && google_compute_subnetwork.egress[0].region == "us-central1"
      && google_compute_subnetwork.egress[0].ip_cidr_range == "10.8.0.0/22"
    && google_compute_subnetwork.egress[0].private_ip_google_access == true)
    error_message = "One subnetwork in the functions' region, egress_subnet_cidr's default range, with Private Google Access."
  }
  assert {
    condition     = length(google_compute_router.egress) == 1 && google_compute_router.egress[0].region == "us-central1"
    error_message = "One Cloud Router, in the functions' region."
  }
  assert {
    condition = (length(google_compute_router_nat.egress) == 1
      && google_compute_router_nat.egress[0].nat_ip_allocate_option == "MANUAL_ONLY"
      && google_compute_router_nat.egress[0].region == "us-central1"
    && google_compute_router_nat.egress[0].source_subnetwork_ip_ranges_to_nat == "LIST_OF_SUBNETWORKS")
    error_message = "One Cloud NAT, MANUAL_ONLY (only the reserved addresses, never one Google picks), serving the listed subnetwork only."
  }
  assert {
    condition     = length(google_compute_address.egress) == 2 && alltrue([for a in google_compute_address.egress : a.address_type == "EXTERNAL" && a.region == "us-central1"])
    error_message = "Two reserved external addresses, in the functions' region."
  }
  assert {
    condition = alltrue([for k in ["Dispatch", "Deliver"] :
      google_cloudfunctions2_function.fn[k].service_config[0].direct_vpc_egress == "VPC_EGRESS_ALL_TRAFFIC"
      && length(google_cloudfunctions2_function.fn[k].service_config[0].direct_vpc_network_interface) == 1
      && google_cloudfunctions2_function.fn[k].service_config[0].direct_vpc_network_interface[0].network == "jobhooks-egress"
      && google_cloudfunctions2_function.fn[k].service_config[0].direct_vpc_network_interface[0].subnetwork == "jobhooks-egress"
    ])
    error_message = "Dispatch and Deliver send all their traffic (VPC_EGRESS_ALL_TRAFFIC) through the egress network and subnetwork."
  }
  assert {
    condition = alltrue([for k, f in local.fn :
      length(f.service_config[0].direct_vpc_network_interface) == 0 if !contains(["Dispatch", "Deliver"], k)
    ])
    error_message = "DeadLetter, API and JWKS have no Direct VPC interface: they never POST to a receiver."
  }
  assert {
    # The mock gives every address the same self link, so the set cannot show two members; it
    # shows that each reserved address is in it and nothing else is.
    condition = (alltrue([for a in google_compute_address.egress : contains(google_compute_router_nat.egress[0].nat_ips, a.self_link)])
    && google_compute_router_nat.egress[0].nat_ips == toset(google_compute_address.egress[*].self_link))
    error_message = "The NAT's addresses are the reserved ones."
  }
  assert {
    condition     = length(google_compute_router_nat.egress[0].subnetwork) == 1 && one(google_compute_router_nat.egress[0].subnetwork).name == google_compute_subnetwork.egress[0].id
    error_message = "The NAT serves the egress subnetwork and nothing else."
  }
  assert {
    condition     = length(output.egress_ips) == 2 && output.egress_ips == google_compute_address.egress[*].address
    error_message = "The egress_ips output lists the two reserved addresses, in order."
  }
  assert {
    condition     = contains(keys(google_project_service.enabled), "compute.googleapis.com") && length(terraform_data.apis_propagated.triggers_replace) == length(local.services)
    error_message = "With egress on, the Compute Engine API is enabled, and the wait after the APIs includes it."
  }
}

run "a_prefixed_deployment_names_its_own_network" {
  command = plan
  variables {
    egress_ip_count = 1
    name_prefix     = "staging-"
  }

  assert {
    condition = (google_compute_network.egress[0].name == "staging-jobhooks-egress"
    && google_cloudfunctions2_function.fn["Deliver"].service_config[0].direct_vpc_network_interface[0].network == "staging-jobhooks-egress")
    error_message = "Two deployments in one project need two networks."
  }
}

run "a_negative_egress_ip_count_is_refused" {
  command = plan
  variables {
    egress_ip_count = -1
  }
  expect_failures = [var.egress_ip_count]
}

run "more_than_sixteen_egress_ips_is_refused" {
  command = plan
  variables {
    egress_ip_count = 17
  }
  expect_failures = [var.egress_ip_count]
}

run "a_fractional_egress_ip_count_is_refused" {
  command = plan
  variables {
    egress_ip_count = 1.5
  }
  expect_failures = [var.egress_ip_count]
}

# The SSRF guard refuses private ranges on the address dialled (shared/sender/guard.go): a
# subnetwork outside them would put VPC addresses within a webhook URL's reach.
run "a_subnetwork_range_the_ssrf_guard_allows_is_refused" {
  command = plan
  variables {
    egress_ip_count    = 1
    egress_subnet_cidr = "198.51.100.0/24"
  }
  expect_failures = [var.egress_subnet_cidr]
}

run "a_subnetwork_smaller_than_a_26_is_refused" {
  command = plan
  variables {
    egress_ip_count    = 1
    egress_subnet_cidr = "10.8.0.0/27"
  }
  expect_failures = [var.egress_subnet_cidr]
}

run "a_subnetwork_with_host_bits_is_refused" {
  command = plan
  variables {
    egress_ip_count    = 1
    egress_subnet_cidr = "10.8.0.1/22"
  }
  expect_failures = [var.egress_subnet_cidr]
}

# Cloud Run holds about two addresses per instance (Direct VPC egress, IP address allocation):
# the default 100 Dispatch and 100 Deliver instances need 400, more than a /24 has.
run "a_subnetwork_too_small_for_the_instances_is_refused" {
  command = plan
  variables {
    egress_ip_count    = 1
    egress_subnet_cidr = "100.64.0.0/24"
  }
  expect_failures = [google_compute_subnetwork.egress]
}

run "a_subnetwork_that_fits_the_instances_plans" {
  command = plan
  variables {
    egress_ip_count    = 1
    egress_subnet_cidr = "172.16.0.0/24"
    function_overrides = { Dispatch = { max_instances = 60 }, Deliver = { max_instances = 60 } }
  }

  assert {
    condition     = google_compute_subnetwork.egress[0].ip_cidr_range == "172.16.0.0/24"
    error_message = "A /24 holds 2 addresses for each of 120 instances."
  }
}
