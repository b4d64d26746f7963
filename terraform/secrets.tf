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

  depends_on = [google_project_service.enabled]
}
