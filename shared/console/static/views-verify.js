// The verify page: the deployment's JWKS URL and copy-paste receiver snippets.
"use strict";

async function verifyPage() {
  const settings = await fetch("settings.json", { cache: "no-store" }).then((r) => r.json()).catch(() => ({}));
  const jwks = settings.jwks_url || "";
  const go = [
    "v, err := verify.New(verify.Options{",
    "\tSecrets: []string{os.Getenv(\"WEBHOOK_SECRET\")}, // whsec_…, from the console",
    "\tJWKSURL: " + JSON.stringify(jwks || "https://…/.well-known/jwks.json") + ", // per-request webhooks",
    "})",
    "if err != nil {",
    "\tlog.Fatal(err)",
    "}",
    "http.HandleFunc(\"/hooks\", func(w http.ResponseWriter, r *http.Request) {",
    "\tbody, err := v.Request(r) // signature, scheme and ±5 min timestamp",
    "\tif err != nil {",
    "\t\thttp.Error(w, err.Error(), verify.StatusCode(err))",
    "\t\treturn",
    "\t}",
    "\thandle(r.Header.Get(\"webhook-id\"), body) // deduplicate on webhook-id",
    "\tw.WriteHeader(http.StatusNoContent)",
    "})",
  ].join("\n");
  const node = [
    "// npm i standardwebhooks",
    "import { Webhook } from \"standardwebhooks\";",
    "const payload = new Webhook(process.env.WEBHOOK_SECRET).verify(rawBody, req.headers); // throws if not signed by us",
  ].join("\n");
  render(el("h1", {}, "Verify deliveries"),
    el("section", { class: "card" },
      el("h2", {}, "Public keys (JWKS)"),
      el("p", {}, "Per-request webhooks are signed with the deployment's key pair. Receivers fetch the public keys here (cacheable for 5 minutes):"),
      jwks ? copyRow("jwks-url", jwks) : el("p", { class: "muted" }, "This deployment's jwks_url Terraform output.")),
    el("section", { class: "card" },
      el("h2", {}, "Go"),
      el("p", {}, "With github.com/jobhooks/jobhooks/shared/verify:"),
      codeBlock("go-snippet", go)),
    el("section", { class: "card" },
      el("h2", {}, "Node.js"),
      el("p", {}, "Static webhooks sign with their secret (v1), which the official Standard Webhooks library verifies:"),
      codeBlock("node-snippet", node)));
}
