# Static egress IPs (terraform/README.md, Static egress IPs): with egress_ip_count > 0, Dispatch and
# Deliver, the two functions that POST to receivers, send all their traffic into a VPC network of
# their own (Direct VPC egress) and reach the internet through a Cloud NAT that uses only the
# addresses reserved here, which receivers allowlist (the egress_ips output). Nothing here exists
# when the count is 0.
#
# The VPC makes private addresses routable from the two functions; the SSRF guard refuses every
# private range on the address actually dialled (shared/sender/guard.go), so a webhook URL still
# cannot reach the subnetwork or anything behind it, and egress_subnet_cidr must lie in one of them.
#
# No IAM grant: in the functions' own project, the Cloud Run service agent's default role
# (roles/run.serviceAgent) already holds what attaching instances to a subnetwork needs
# (Google's "Configure Direct VPC egress for 2nd gen functions"); compute.networkUser is for a
# subnetwork shared from another project.

locals {
  egress_on        = var.egress_ip_count > 0
  egress_functions = local.egress_on ? toset(["Dispatch", "Deliver"]) : toset([])
  egress_name      = "${var.name_prefix}jobhooks-egress"
}

resource "google_compute_network" "egress" {
  count = local.egress_on ? 1 : 0

  name                    = local.egress_name
  description             = "Jobhooks Dispatch and Deliver: Direct VPC egress through the Cloud NAT's reserved addresses."
  auto_create_subnetworks = false

  depends_on = [terraform_data.apis_propagated]
}

resource "google_compute_subnetwork" "egress" {
  count = local.egress_on ? 1 : 0

  name          = local.egress_name
  region        = var.region
  network       = google_compute_network.egress[0].id
  ip_cidr_range = var.egress_subnet_cidr
  # With all traffic sent into the VPC, the functions' calls to Firestore, Pub/Sub, Secret Manager
  # and the Telemetry API go to Google directly, not out through the NAT (Cloud Run's networking
  # best practices: all-traffic egress with Private Google Access).
  private_ip_google_access = true

  lifecycle {
    # Cloud Run holds about two addresses per instance (Direct VPC egress, IP address allocation);
    # an instance that finds none does not start. Google keeps four addresses of every subnetwork.
    precondition {
      condition     = pow(2, 32 - tonumber(split("/", var.egress_subnet_cidr)[1])) - 4 >= 2 * (local.sizing.Dispatch.max_instances + local.sizing.Deliver.max_instances)
      error_message = "egress_subnet_cidr (${var.egress_subnet_cidr}) holds fewer than two addresses for each of the ${local.sizing.Dispatch.max_instances + local.sizing.Deliver.max_instances} Dispatch and Deliver instances there may be: take a larger range."
    }
  }
}

resource "google_compute_router" "egress" {
  count = local.egress_on ? 1 : 0

  name    = local.egress_name
  region  = var.region
  network = google_compute_network.egress[0].id
}

# Reserved, so the addresses outlive any change to the NAT. Lowering the count releases the last
# ones: have receivers drop those from their allowlists first.
resource "google_compute_address" "egress" {
  count = var.egress_ip_count

  name         = "${local.egress_name}-${count.index + 1}"
  region       = var.region
  address_type = "EXTERNAL"
  description  = "Jobhooks deliveries leave from this address (Cloud NAT ${local.egress_name})."

  depends_on = [terraform_data.apis_propagated]
}

resource "google_compute_router_nat" "egress" {
  count = local.egress_on ? 1 : 0

  name   = local.egress_name
  router = google_compute_router.egress[0].name
  region = var.region
  # Only the reserved addresses: with AUTO_ONLY Google would pick (and change) them.
  nat_ip_allocate_option = "MANUAL_ONLY"
  nat_ips                = google_compute_address.egress[*].self_link

  source_subnetwork_ip_ranges_to_nat = "LIST_OF_SUBNETWORKS"
  subnetwork {
    name                    = google_compute_subnetwork.egress[0].id
    source_ip_ranges_to_nat = ["ALL_IP_RANGES"]
  }
}
