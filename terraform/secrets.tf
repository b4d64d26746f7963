# Secret Manager secrets. Terraform creates the secrets and their IAM, never a version: a value
# created here would sit in plain text in the Terraform state. scripts/secrets-init adds the
# first versions from the operator's machine.
locals {
  secrets = {
    # AES-256 key-encryption key versions (32 raw bytes each) that seal webhook signing secrets;
    # a ciphertext records the version that sealed it, so old versions stay enabled after rotation.
    kek = "jobhooks-kek"
    # The deployment's asymmetric signing key versions (dynamic webhooks, v1a / jwt; shared/jobevents/README.md, Per-request (dynamic) webhooks).
    signing = "jobhooks-signing-key"
    # The public half of every enabled signing key, as one JWKS document per version, newest
    # first. scripts/signing-key publishes it at every init, rotate and retire; the JWKS
    # function reads only this secret, never the private keys.
    signing_public = "jobhooks-signing-jwks"
    # HMAC keys (32 raw bytes per version) that sign the console's portal links (shared/restapi/README.md, Portal links);
    # a link names its version, so a new version keeps older links working until they expire,
    # and disabling a version revokes every link it signed.
    portal = "jobhooks-portal-key"
  }
}

resource "google_secret_manager_secret" "secret" {
  for_each = local.secrets

  secret_id = "${var.name_prefix}${each.value}"

  replication {
    auto {}
  }

  depends_on = [terraform_data.apis_propagated]
}

locals {
  # What gives the secrets their first versions (terraform/README.md, Commands, step 3).
  secrets_init_command = join(" ", compact([
    "scripts/secrets-init --project ${var.project_id}",
    var.name_prefix != "" ? "--name-prefix ${var.name_prefix}" : "",
    var.signing_mode == "jwt" ? "--signing-alg ${var.jwt_algorithm}" : "",
  ]))
}

# Until scripts/secrets-init has run, the secrets have no version: nothing can be signed (the
# functions log "... has no enabled version (run scripts/signing-key init)"), webhooks cannot be
# created and the JWKS answers 503. Every plan and apply says so, as a warning, until the public
# key set that secrets-init publishes exists. Its payload is public keys only, so reading it here
# puts nothing secret in a plan.
check "secrets_initialised" {
  data "google_secret_manager_secret_version" "published_keys" {
    # The name, not the resource: read at plan time, so a plan already says it (on a fresh
    # project, as "secret not found").
    secret = "${var.name_prefix}${local.secrets.signing_public}"
  }

  assert {
    condition     = data.google_secret_manager_secret_version.published_keys.enabled
    error_message = "The secrets have no version yet: Jobhooks cannot sign or seal anything until you run: ${local.secrets_init_command}"
  }
}
