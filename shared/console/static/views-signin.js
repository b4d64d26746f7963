// The sign-in page: a project and an API key. A portal link signs in by itself (api.js).
"use strict";

function signIn() {
  const projectIn = el("input", { id: "project", required: true, autocomplete: "username",
    pattern: "[a-z][a-z0-9\\-]{0,62}", placeholder: "acme" });
  const keyIn = el("input", { id: "api-key", type: "password", required: true,
    autocomplete: "current-password", placeholder: "jh_…" });
  const out = el("div");
  const form = el("form", { class: "card narrow", id: "sign-in" },
    el("h1", {}, "Sign in"),
    flash ? el("div", { class: "error", role: "alert" }, flash) : null,
    el("label", { for: "project" }, "Project"), projectIn,
    el("label", { for: "api-key" }, "API key"), keyIn,
    el("p", { class: "hint" }, "The key stays in this tab's session storage and is sent only to this API. Signing out forgets it."),
    el("button", { type: "submit", class: "primary" }, "Sign in"), out,
    el("p", { class: "hint" }, "Got a portal link? Open it: it signs you in by itself."));
  flash = "";
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    session.set({ key: keyIn.value.trim(), project: projectIn.value.trim() });
    out.replaceChildren(loading("Checking the key…"));
    try {
      await api("GET", "/v1/projects/" + project() + "/webhooks?page_size=1");
      location.hash = "#/";
      route();
    } catch (err) {
      session.clear();
      const msg = err.status === 404 ? "This key does not belong to project " + projectIn.value.trim() + "." : err.message;
      out.replaceChildren(el("div", { class: "error", role: "alert" }, msg));
    }
  });
  render(form);
  projectIn.focus();
}
