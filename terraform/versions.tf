terraform {
  # optional() object attributes with defaults need 1.3; OpenTofu 1.6+ works as well.
  required_version = ">= 1.5"

  required_providers {
    # The only provider: the source archive is built by scripts/package, not by the archive
    # provider, and nothing here needs random, null or google-beta.
    google = {
      source = "hashicorp/google"
      # 7.21 or later: Direct VPC egress of gen2 functions (egress.tf) needs it.
      # 7.x only: a major version may change resources under us.
      version = "~> 7.21"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  # Resources that support it carry these labels, so the Console's billing reports can be
  # filtered to Jobhooks.
  default_labels = merge({ app = "jobhooks" }, var.labels)
}
