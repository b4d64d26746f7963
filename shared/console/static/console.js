// The Jobhooks console (README, Console). It talks only to the management API beside it.
// Every string that comes from the API is inserted as text (el() and textContent), never as
// markup: display names, URLs, errors and response excerpts are written by other people.
"use strict";

const API = new URL("..", location.href).pathname.replace(/\/$/, "");
const EVENT_TYPES = [
  "batch.succeeded", "batch.failed", "batch.cancelled", "batch.expired",
  "interaction.completed", "interaction.failed", "interaction.cancelled", "interaction.requires_action",
  "video.generated",
];
const DELIVERY_STATES = ["PENDING", "DELIVERED", "FAILED", "EXHAUSTED", "CANCELLED"];
const STATE_LABEL = { ENABLED: "Enabled", DISABLED: "Disabled", DISABLED_DUE_TO_FAILED_DELIVERIES: "Disabled after failures" };
const PAGE = 25;

// ---- session -------------------------------------------------------------------------------

const session = {
  get() {
    try { return JSON.parse(sessionStorage.getItem("jobhooks") || "null"); } catch { return null; }
  },
  set(s) { sessionStorage.setItem("jobhooks", JSON.stringify(s)); },
  clear() { sessionStorage.removeItem("jobhooks"); },
};

// takeLinkFromFragment moves a portal link's token out of the address bar into session storage.
function takeLinkFromFragment() {
  const m = /^#token=([A-Za-z0-9_.-]+)$/.exec(location.hash);
  if (!m) return;
  const claims = decodeClaims(m[1]);
  history.replaceState(null, "", location.pathname + "#/");
  if (!claims) { flash = "That portal link is malformed. Ask for a new one."; return; }
  session.set({ token: m[1], project: claims.sub, readOnly: !!claims.read_only,
    webhooks: claims.webhooks || [], expire: claims.exp * 1000 });
}

// decodeClaims reads a token's claims for display only; the API checks the signature.
function decodeClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch { return null; }
}

let flash = "";

// ---- DOM helpers ---------------------------------------------------------------------------

// el builds an element; string and number children become text nodes, never markup.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return e;
}

const main = () => document.getElementById("main");

function render(...nodes) {
  main().replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
  window.scrollTo(0, 0);
}

function errorBox(err) {
  return el("div", { class: "error", role: "alert" }, err.message || String(err));
}

// cell is a table cell whose content sits in one box, so at phone width it stacks under its label.
function cell(label, cls, ...children) {
  return el("td", { "data-label": label, class: cls || undefined }, el("div", {}, ...children));
}

function loading(text) { return el("p", { class: "loading" }, text || "Loading…"); }

// button runs an async action with a busy state and shows its error beside it.
function actionButton(label, cls, action, opts) {
  const status = el("span", { class: "status" });
  const b = el("button", { type: "button", class: cls, id: opts && opts.id });
  b.textContent = label;
  b.addEventListener("click", async () => {
    b.disabled = true;
    status.textContent = "";
    status.className = "status";
    try {
      await action(status);
    } catch (err) {
      status.textContent = err.message;
      status.className = "status bad";
    } finally {
      b.disabled = false;
    }
  });
  return [b, status];
}

function confirmModal(title, text, okLabel) {
  const modal = document.getElementById("modal");
  document.getElementById("modal-title").textContent = title;
  document.getElementById("modal-text").textContent = text;
  const ok = document.getElementById("modal-ok");
  const cancel = document.getElementById("modal-cancel");
  ok.textContent = okLabel || "Confirm";
  modal.hidden = false;
  cancel.focus();
  return new Promise((resolve) => {
    const done = (v) => () => {
      modal.hidden = true;
      ok.replaceWith(ok.cloneNode(true));
      cancel.replaceWith(cancel.cloneNode(true));
      resolve(v);
    };
    ok.addEventListener("click", done(true), { once: true });
    cancel.addEventListener("click", done(false), { once: true });
  });
}

function ago(iso) {
  if (!iso) return "";
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 0) return "in " + span(-s);
  return span(s) + " ago";
}

function span(s) {
  if (s < 60) return s + " s";
  if (s < 3600) return Math.round(s / 60) + " min";
  if (s < 172800) return Math.round(s / 3600) + " h";
  return Math.round(s / 86400) + " days";
}

function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

function stateBadge(state) {
  return el("span", { class: "badge state-" + state.toLowerCase() }, STATE_LABEL[state] || state.toLowerCase());
}

function deliveryBadge(state) {
  return el("span", { class: "badge d-" + state.toLowerCase() }, state.toLowerCase());
}

// ---- API -----------------------------------------------------------------------------------

class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const s = session.get();
  const headers = {};
  if (s && s.token) headers["Authorization"] = "Bearer " + s.token;
  else if (s && s.key) headers["x-goog-api-key"] = s.key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit" });
  } catch {
    throw new APIError(0, "The API did not answer. Check your connection and try again.");
  }
  let data = null;
  try { data = await resp.json(); } catch { /* not JSON */ }
  if (!resp.ok) {
    const msg = data && data.error && data.error.message ? data.error.message : "The API answered " + resp.status + ".";
    if (resp.status === 401) {
      session.clear();
      flash = msg;
      setTimeout(route, 0);
    }
    throw new APIError(resp.status, msg);
  }
  return data;
}

const project = () => encodeURIComponent(session.get().project);
const hookPath = (id) => "/v1/projects/" + project() + "/webhooks/" + encodeURIComponent(id);
const idOf = (name) => name.slice(name.lastIndexOf("/") + 1);
const canChange = () => !session.get().readOnly;
const canCreate = () => canChange() && !(session.get().webhooks || []).length;

// go shows a route, also the one already in the address bar (after a page that did not change it).
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// ---- router --------------------------------------------------------------------------------

let generation = 0; // a page rendered by an older navigation must not draw over a newer one

async function route() {
  takeLinkFromFragment();
  const gen = ++generation;
  const s = session.get();
  updateHeader(s);
  if (!s) return signIn();
  if (s.expire && Date.now() > s.expire) {
    session.clear();
    flash = "This portal link has expired. Ask for a new one.";
    return route();
  }
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const live = () => gen === generation;
  try {
    if (parts[0] === "verify") return await verifyPage();
    if (parts[0] === "new") return await editPage(null, live);
    if (parts[0] === "webhooks" && parts[1] && parts[2] === "edit") return await editPage(parts[1], live);
    if (parts[0] === "webhooks" && parts[1] && parts[2] === "deliveries" && parts[3]) return await deliveryPage(parts[1], parts[3], live);
    if (parts[0] === "webhooks" && parts[1]) return await webhookPage(parts[1], live);
    return await listPage(live);
  } catch (err) {
    if (live()) render(el("h1", {}, "Something went wrong"), errorBox(err), el("p", {}, el("a", { href: "#/" }, "Back to webhooks")));
  }
}

function updateHeader(s) {
  document.getElementById("nav").hidden = !s;
  document.getElementById("who").hidden = !s;
  const page = location.hash.startsWith("#/verify") ? "verify" : "webhooks";
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("current", a.dataset.nav === page);
  if (!s) return;
  document.getElementById("who-project").textContent = s.project;
  const badge = document.getElementById("who-badge");
  badge.textContent = s.token ? (s.readOnly ? "read-only link" : "portal link") + " · expires " + ago(new Date(s.expire).toISOString()) : "API key";
  badge.className = "badge " + (s.readOnly ? "readonly" : "");
}

// ---- sign in -------------------------------------------------------------------------------

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

// ---- webhooks ------------------------------------------------------------------------------

async function listPage(live) {
  render(el("h1", {}, "Webhooks"), loading());
  const data = await api("GET", "/v1/projects/" + project() + "/webhooks?page_size=100");
  const hooks = data.webhooks;
  const lasts = await Promise.all(hooks.map((w) =>
    api("GET", hookPath(idOf(w.name)) + "/deliveries?page_size=1").then((d) => d.deliveries[0], () => null)));
  if (!live()) return;
  const head = el("div", { class: "page-head" }, el("h1", {}, "Webhooks"),
    canCreate() ? el("a", { class: "button primary", href: "#/new", id: "new-webhook" }, "New webhook") : null);
  if (!hooks.length) {
    return render(head, el("div", { class: "card empty" },
      el("p", {}, "No webhooks yet."),
      canCreate() ? el("p", {}, "Create one and Jobhooks will POST a signed request to it whenever a job it subscribes to finishes.") : null));
  }
  const rows = hooks.map((w, i) => {
    const id = idOf(w.name);
    const last = lasts[i];
    return el("tr", { "data-webhook": id },
      cell("Webhook", "", el("a", { href: "#/webhooks/" + encodeURIComponent(id), class: "strong" }, w.display_name || id),
        w.display_name ? el("div", { class: "muted mono" }, id) : null),
      cell("State", "", stateBadge(w.state)),
      cell("URL", "mono wrap", w.url),
      cell("Events", "", el("div", { class: "chips" }, w.subscribed_events.map((t) => el("span", { class: "chip" }, t)))),
      cell("Health", "", w.failing_since
        ? el("span", { class: "bad" }, "failing for " + ago(w.failing_since).replace(" ago", ""))
        : el("span", { class: "good" }, "healthy")),
      cell("Last delivery", "", last
        ? [deliveryBadge(last.state), " ", el("span", { class: "muted" }, ago(last.create_time))]
        : el("span", { class: "muted" }, "none yet")));
  });
  render(head, el("table", { class: "list", id: "webhooks" },
    el("thead", {}, el("tr", {}, ["Webhook", "State", "URL", "Events", "Health", "Last delivery"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows)));
}

async function editPage(id, live) {
  const w = id ? await api("GET", hookPath(id)) : null;
  if (!live()) return;
  const name = el("input", { id: "display-name", value: w ? w.display_name || "" : "", maxlength: 256, placeholder: "Orders service" });
  const url = el("input", { id: "url", type: "url", required: true, value: w ? w.url : "", placeholder: "https://example.com/hooks" });
  const chosen = new Set(w ? w.subscribed_events : ["batch.succeeded", "batch.failed"]);
  const boxes = EVENT_TYPES.map((t) => el("label", { class: "check" },
    el("input", { type: "checkbox", value: t, checked: chosen.has(t) }), t));
  const custom = el("input", { id: "custom-events", placeholder: "my.custom.event, other.event",
    value: w ? w.subscribed_events.filter((t) => !EVENT_TYPES.includes(t)).join(", ") : "" });
  const out = el("div");
  const form = el("form", { class: "card", id: "webhook-form" },
    el("h1", {}, w ? "Edit " + (w.display_name || id) : "New webhook"),
    el("label", { for: "display-name" }, "Display name"), name,
    el("label", { for: "url" }, "Endpoint URL"), url,
    el("p", { class: "hint" }, "Jobhooks POSTs each event here, signed the Standard Webhooks way, and retries for 24 hours."),
    el("fieldset", {}, el("legend", {}, "Events"), el("div", { class: "checks" }, boxes),
      el("label", { for: "custom-events" }, "Other event types (comma separated)"), custom),
    el("div", { class: "actions" },
      el("a", { class: "button secondary", href: w ? "#/webhooks/" + encodeURIComponent(id) : "#/" }, "Cancel"),
      el("button", { type: "submit", class: "primary" }, w ? "Save" : "Create webhook")),
    out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const events = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value)
      .concat(custom.value.split(",").map((s) => s.trim()).filter(Boolean));
    const body = { display_name: name.value.trim(), url: url.value.trim(), subscribed_events: events };
    out.replaceChildren(loading("Saving…"));
    try {
      if (w) {
        await api("PATCH", hookPath(id) + "?update_mask=display_name,url,subscribed_events", body);
          go("#/webhooks/" + encodeURIComponent(id));
      } else {
        const created = await api("POST", "/v1/projects/" + project() + "/webhooks", body);
        showSecret("Webhook created", created.new_signing_secret,
          "This is the webhook's signing secret. Your endpoint verifies each request with it. It is shown only now: copy it into your endpoint's configuration.",
          "#/webhooks/" + encodeURIComponent(idOf(created.name)));
      }
    } catch (err) {
      out.replaceChildren(errorBox(err));
    }
  });
  render(form);
}

// showSecret shows a new signing secret once, with a copy button.
function showSecret(title, secret, text, next) {
  const field = el("input", { id: "new-secret", class: "mono", readonly: true, value: secret });
  const copied = el("span", { class: "status" });
  const copy = el("button", { type: "button", class: "secondary", id: "copy-secret" }, "Copy");
  copy.addEventListener("click", async () => {
    field.select();
    try { await navigator.clipboard.writeText(secret); copied.textContent = "Copied."; } catch { copied.textContent = "Press Ctrl+C to copy."; }
  });
  render(el("div", { class: "card secret-card", id: "secret-shown" },
    el("h1", {}, title), el("p", {}, text),
    el("div", { class: "copy-row" }, field, copy), copied,
    el("p", { class: "hint" }, "Lost it? Rotate the secret from the webhook's page to get a new one."),
    el("button", { type: "button", class: "primary", id: "secret-done", onclick: () => go(next) }, "I have copied it")));
}

async function webhookPage(id, live, opts) {
  opts = opts || { state: "", tokens: [""] };
  const w = await api("GET", hookPath(id));
  if (!live()) return;
  const enabled = w.state === "ENABLED";
  const pingOut = el("div", { id: "ping-result" });
  const actions = canChange() ? el("div", { class: "toolbar" },
    actionButton("Send ping", "primary", async (status) => {
      status.textContent = "Sending…";
      const p = await api("POST", hookPath(id) + ":ping");
      status.textContent = "";
      watchPing(id, idOf(p.delivery), pingOut, live);
    }, { id: "ping" }),
    el("a", { class: "button secondary", href: "#/webhooks/" + encodeURIComponent(id) + "/edit", id: "edit" }, "Edit"),
    actionButton(enabled ? "Disable" : "Enable", "secondary", async () => {
      await api("PATCH", hookPath(id) + "?update_mask=state", { state: enabled ? "DISABLED" : "ENABLED" });
      route();
    }, { id: "toggle" }),
    actionButton("Rotate secret", "secondary", async () => rotate(id, w), { id: "rotate" }),
    actionButton("Delete", "danger", async () => {
      if (!await confirmModal("Delete " + (w.display_name || id) + "?",
        "Its pending deliveries are cancelled and its history goes with it. This cannot be undone.", "Delete")) return;
      await api("DELETE", hookPath(id));
      location.hash = "#/";
    }, { id: "delete" })) : null;

  const secrets = el("ul", { class: "plain" }, w.signing_secrets.map((s) => el("li", {},
    el("span", { class: "mono" }, s.truncated_secret), " ",
    el("span", { class: "muted" }, s.expire_time ? "stops signing " + ago(s.expire_time) : "current"))));

  const details = el("dl", { class: "facts" },
    el("dt", {}, "URL"), el("dd", { class: "mono wrap" }, w.url),
    el("dt", {}, "Events"), el("dd", {}, el("div", { class: "chips" }, w.subscribed_events.map((t) => el("span", { class: "chip" }, t)))),
    el("dt", {}, "Health"), el("dd", {}, w.failing_since ? el("span", { class: "bad" }, "failing since " + when(w.failing_since)) : el("span", { class: "good" }, "healthy")),
    el("dt", {}, "Signing secrets"), el("dd", {}, secrets),
    el("dt", {}, "Created"), el("dd", {}, when(w.create_time)));

  const chart = el("section", { class: "card", id: "chart" }, el("h2", {}, "Last 24 hours"), loading());
  const deliveries = el("section", { class: "card", id: "deliveries" });
  render(
    el("p", { class: "crumbs" }, el("a", { href: "#/" }, "Webhooks"), " / ", id),
    el("div", { class: "page-head" }, el("h1", { id: "webhook-title" }, w.display_name || id), stateBadge(w.state)),
    actions, pingOut,
    el("section", { class: "card" }, details),
    chart, deliveries,
    canChange() ? replayForm(id) : null);
  drawChart(id, chart, live);
  await deliveryList(id, deliveries, opts, live);
}

async function rotate(id, w) {
  const keep = await confirmModal("Rotate the signing secret?",
    "A new secret starts signing at once. For the next 24 hours every request also carries a signature with the old secret, so your endpoint keeps verifying while you deploy the new one. Choose “Revoke now” only if the old secret leaked.",
    "Rotate, keep old for 24 h");
  if (!keep) return;
  const r = await api("POST", hookPath(id) + ":rotateSigningSecret", { revocation_behavior: "REVOKE_PREVIOUS_SECRETS_AFTER_H24" });
  showSecret("New signing secret for " + (w.display_name || id), r.secret,
    "Requests are now signed with this secret and, for 24 hours, also with the previous one. Deploy it to your endpoint within that time. It is shown only now.",
    "#/webhooks/" + encodeURIComponent(id));
}

// watchPing follows a ping's delivery until it is final.
async function watchPing(id, deliveryId, out, live) {
  const link = el("a", { href: "#/webhooks/" + encodeURIComponent(id) + "/deliveries/" + encodeURIComponent(deliveryId) }, "the delivery");
  const line = el("p", { class: "ping" }, "Ping sent: waiting for ", link, " to arrive…");
  out.replaceChildren(el("div", { class: "notice" }, line));
  const started = Date.now();
  while (live() && Date.now() - started < 120000) {
    await new Promise((r) => setTimeout(r, 700));
    let d;
    try { d = await api("GET", hookPath(id) + "/deliveries/" + encodeURIComponent(deliveryId)); } catch (err) {
      if (err.status === 404) continue; // not recorded yet
      throw err;
    }
    if (d.state === "PENDING" && d.attempt_count === 0) continue;
    line.replaceChildren("Ping ", deliveryBadge(d.state), " ",
      d.last_status_code ? "HTTP " + d.last_status_code + " " : "", d.last_error ? "(" + d.last_error + ") " : "",
      "in " + (d.last_latency_ms || 0) + " ms — see ", link, ".");
    if (d.state !== "PENDING") {
      const list = document.getElementById("deliveries");
      const chart = document.getElementById("chart");
      if (list && live()) deliveryList(id, list, { state: "", tokens: [""] }, live);
      if (chart && live()) {
        chart.lastChild.replaceWith(loading());
        if (chart.childNodes.length > 2) chart.lastChild.previousSibling.remove();
        drawChart(id, chart, live);
      }
      return;
    }
  }
}

async function deliveryList(id, box, opts, live) {
  const filter = el("select", { id: "state-filter", "aria-label": "Filter by state" },
    el("option", { value: "" }, "All states"),
    DELIVERY_STATES.map((s) => el("option", { value: s, selected: s === opts.state }, s.toLowerCase())));
  filter.addEventListener("change", () => deliveryList(id, box, { state: filter.value, tokens: [""] }, live));
  box.replaceChildren(el("div", { class: "page-head" }, el("h2", {}, "Deliveries"), filter), loading());
  const token = opts.tokens[opts.tokens.length - 1];
  const q = "?page_size=" + PAGE + (opts.state ? "&state=" + opts.state : "") + (token ? "&page_token=" + encodeURIComponent(token) : "");
  let data;
  try { data = await api("GET", hookPath(id) + "/deliveries" + q); } catch (err) {
    box.lastChild.replaceWith(errorBox(err));
    return;
  }
  if (!live()) return;
  const rows = data.deliveries.map((d) => {
    const did = idOf(d.name);
    return el("tr", { "data-delivery": did },
      cell("Event", "", el("a", { href: "#/webhooks/" + encodeURIComponent(id) + "/deliveries/" + encodeURIComponent(did) }, d.event_type),
        el("div", { class: "muted mono" }, d.event_id)),
      cell("State", "", deliveryBadge(d.state)),
      cell("Attempts", "", String(d.attempt_count)),
      cell("Last answer", "", d.last_status_code ? "HTTP " + d.last_status_code : d.last_error || "—"),
      cell("Created", "", el("span", { title: when(d.create_time) }, ago(d.create_time))));
  });
  const pager = el("div", { class: "pager" },
    opts.tokens.length > 1 ? el("button", { type: "button", class: "secondary", id: "newer",
      onclick: () => deliveryList(id, box, { state: opts.state, tokens: opts.tokens.slice(0, -1) }, live) }, "← Newer") : null,
    data.next_page_token ? el("button", { type: "button", class: "secondary", id: "older",
      onclick: () => deliveryList(id, box, { state: opts.state, tokens: opts.tokens.concat(data.next_page_token) }, live) }, "Older →") : null);
  box.lastChild.replaceWith(rows.length
    ? el("div", {}, el("table", { class: "list", id: "delivery-list" },
      el("thead", {}, el("tr", {}, ["Event", "State", "Attempts", "Last answer", "Created"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)), pager)
    : el("p", { class: "muted" }, opts.state ? "No " + opts.state.toLowerCase() + " deliveries." : "No deliveries yet. Send a ping to see one arrive."));
}

function replayForm(id) {
  const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const now = new Date();
  const start = el("input", { id: "replay-start", type: "datetime-local", required: true, value: local(new Date(now - 86400000)) });
  // The inputs count in minutes: the end is the next minute, so what failed just now is in range.
  const end = el("input", { id: "replay-end", type: "datetime-local", required: true, value: local(new Date(now.getTime() + 60000)) });
  const out = el("div", { id: "replay-result" });
  const form = el("form", { class: "card", id: "replay" },
    el("h2", {}, "Replay"),
    el("p", {}, "Send every failed or exhausted delivery created in a time range again, with its original webhook-id so your endpoint can tell a repeat. One replay sends at most 1,000 deliveries; for a wider range the API names the time to split at."),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "replay-start" }, "From"), start),
      el("div", {}, el("label", { for: "replay-end" }, "To"), end)),
    el("button", { type: "submit", class: "secondary" }, "Replay failures"), out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.replaceChildren(loading("Queuing…"));
    try {
      const r = await api("POST", hookPath(id) + ":replay",
        { start_time: new Date(start.value).toISOString(), end_time: new Date(end.value).toISOString() });
      out.replaceChildren(el("p", { class: "good" }, r.queued_count === 1 ? "1 delivery queued again." : r.queued_count + " deliveries queued again."));
    } catch (err) {
      out.replaceChildren(errorBox(err));
    }
  });
  return form;
}

// ---- one delivery --------------------------------------------------------------------------

async function deliveryPage(id, did, live) {
  const d = await api("GET", hookPath(id) + "/deliveries/" + encodeURIComponent(did));
  if (!live()) return;
  const final = d.state !== "PENDING";
  const retry = canChange() && final ? el("div", { class: "toolbar" }, actionButton("Retry", "primary", async (status) => {
    await api("POST", hookPath(id) + "/deliveries/" + encodeURIComponent(did) + ":retry");
    status.textContent = "Queued again: it keeps its webhook-id.";
    status.className = "status good";
    setTimeout(() => { if (live()) route(); }, 1500);
  }, { id: "retry" })) : null;
  if (!final) followDelivery(id, did, d, live);
  const attempts = d.attempts.slice().reverse().map((a) => el("li", { class: "attempt", "data-attempt": a.number },
    el("div", { class: "attempt-head" },
      el("span", { class: "badge d-" + a.outcome.toLowerCase() }, a.outcome.toLowerCase()),
      el("strong", {}, a.status_code ? "HTTP " + a.status_code : "no answer"),
      el("span", { class: "muted" }, a.latency_ms + " ms"),
      el("span", { class: "muted" }, when(a.time)),
      a.series ? el("span", { class: "muted" }, "re-send " + a.series) : null),
    a.error ? el("p", { class: "bad attempt-error" }, a.error) : null,
    a.response_body ? el("details", { open: true }, el("summary", {}, "Response (first 4 KiB, as text)"),
      el("pre", { class: "excerpt" }, a.response_body)) : null));
  render(
    el("p", { class: "crumbs" }, el("a", { href: "#/" }, "Webhooks"), " / ",
      el("a", { href: "#/webhooks/" + encodeURIComponent(id) }, id), " / ", did),
    el("div", { class: "page-head" }, el("h1", {}, d.event_type), deliveryBadge(d.state)),
    retry,
    el("section", { class: "card" }, el("dl", { class: "facts" },
      el("dt", {}, "Event"), el("dd", { class: "mono" }, d.event_id),
      el("dt", {}, "webhook-id"), el("dd", { class: "mono" }, d.message_id),
      el("dt", {}, "Created"), el("dd", {}, when(d.create_time)),
      d.next_attempt_time ? [el("dt", {}, "Next attempt"), el("dd", {}, when(d.next_attempt_time))] : null,
      d.reason ? [el("dt", {}, "Reason"), el("dd", {}, d.reason)] : null)),
    el("section", { class: "card" }, el("h2", {}, "Attempts (" + d.attempts.length + ")"),
      attempts.length ? el("ol", { class: "attempts", id: "attempts" }, attempts) : el("p", { class: "muted" }, "No attempt yet.")));
}

// followDelivery re-renders a pending delivery's page when its state or attempts change.
async function followDelivery(id, did, d, live) {
  while (live()) {
    await new Promise((r) => setTimeout(r, 1500));
    if (!live()) return;
    const n = await api("GET", hookPath(id) + "/deliveries/" + encodeURIComponent(did)).catch(() => d);
    if (n.state !== d.state || n.attempt_count !== d.attempt_count) {
      if (live()) route();
      return;
    }
  }
}

// ---- chart ---------------------------------------------------------------------------------

const CHART_STATES = ["DELIVERED", "PENDING", "FAILED", "EXHAUSTED", "CANCELLED"];

// drawChart counts the last 24 hours' deliveries per hour by state and draws stacked bars.
async function drawChart(id, box, live) {
  const since = Date.now() - 86400000;
  const hours = Array.from({ length: 24 }, () => Object.fromEntries(CHART_STATES.map((s) => [s, 0])));
  let token = "", pages = 0, more = true;
  try {
    while (more && pages < 5) {
      const data = await api("GET", hookPath(id) + "/deliveries?page_size=1000" + (token ? "&page_token=" + encodeURIComponent(token) : ""));
      pages++;
      for (const d of data.deliveries) {
        const t = Date.parse(d.create_time);
        if (t < since) { more = false; break; }
        const h = Math.min(23, Math.floor((t - since) / 3600000));
        hours[h][d.state] = (hours[h][d.state] || 0) + 1;
      }
      token = data.next_page_token;
      more = more && !!token;
    }
  } catch (err) {
    box.lastChild.replaceWith(errorBox(err));
    return;
  }
  if (!live()) return;
  const total = hours.reduce((n, h) => n + CHART_STATES.reduce((m, s) => m + h[s], 0), 0);
  if (!total) {
    box.lastChild.replaceWith(el("p", { class: "muted" }, "No deliveries in the last 24 hours."));
    return;
  }
  const draw = () => barChart(hours, since, Math.max(300, box.clientWidth - 48));
  box.lastChild.replaceWith(draw(), legend(hours));
  redrawChart = () => { const c = box.querySelector("svg.chart"); if (c && box.isConnected) c.replaceWith(draw()); };
}

// redrawChart draws the chart on screen again at its box's new width (a phone turned, a window resized).
let redrawChart = () => {};
let resizeTimer = 0;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => redrawChart(), 100);
});

function svg(tag, attrs, ...children) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(typeof c === "string" ? document.createTextNode(c) : c);
  return e;
}

// barChart draws at the box's own width, so its labels keep their size on a phone.
function barChart(hours, since, W) {
  const H = W < 500 ? 160 : 200, left = 34, bottom = 22, top = 8;
  const every = W < 500 ? 6 : 4;
  const max = Math.max(1, ...hours.map((h) => CHART_STATES.reduce((m, s) => m + h[s], 0)));
  const step = niceStep(max);
  const ymax = Math.ceil(max / step) * step;
  const bw = (W - left) / 24;
  const y = (v) => top + (H - top - bottom) * (1 - v / ymax);
  const g = svg("svg", { viewBox: "0 0 " + W + " " + H, class: "chart", role: "img",
    "aria-label": "Deliveries per hour over the last 24 hours, by outcome" });
  for (let v = 0; v <= ymax; v += step) {
    g.append(svg("line", { x1: left, x2: W, y1: y(v), y2: y(v), class: "grid" }),
      svg("text", { x: left - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, String(v)));
  }
  hours.forEach((h, i) => {
    let acc = 0;
    const x = left + i * bw + 2;
    const hourStart = new Date(since + i * 3600000);
    for (const s of CHART_STATES) {
      if (!h[s]) continue;
      const rect = svg("rect", { x, width: bw - 4, y: y(acc + h[s]), height: y(acc) - y(acc + h[s]), class: "bar b-" + s.toLowerCase() },
        svg("title", {}, h[s] + " " + s.toLowerCase() + " · " + hourStart.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })));
      g.append(rect);
      acc += h[s];
    }
    if (i % every === 0) {
      g.append(svg("text", { x: x + (bw - 4) / 2, y: H - 6, class: "axis", "text-anchor": "middle" },
        hourStart.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })));
    }
  });
  return g;
}

function niceStep(max) {
  for (const s of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]) if (max / s <= 5) return s;
  return 10000;
}

function legend(hours) {
  return el("ul", { class: "legend" }, CHART_STATES.map((s) => {
    const n = hours.reduce((m, h) => m + h[s], 0);
    return n ? el("li", {}, el("span", { class: "swatch b-" + s.toLowerCase() }), s.toLowerCase() + " " + n) : null;
  }));
}

// ---- verify --------------------------------------------------------------------------------

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

function copyRow(id, text) {
  const field = el("input", { id, class: "mono", readonly: true, value: text });
  const b = el("button", { type: "button", class: "secondary" }, "Copy");
  b.addEventListener("click", () => { field.select(); navigator.clipboard.writeText(text).catch(() => {}); });
  return el("div", { class: "copy-row" }, field, b);
}

function codeBlock(id, text) {
  const pre = el("pre", { id, class: "code" }, text);
  const b = el("button", { type: "button", class: "secondary copy" }, "Copy");
  b.addEventListener("click", () => navigator.clipboard.writeText(text).then(() => { b.textContent = "Copied"; }, () => {}));
  return el("div", { class: "code-wrap" }, b, pre);
}

// ---- start ---------------------------------------------------------------------------------

document.getElementById("sign-out").addEventListener("click", () => {
  session.clear();
  location.hash = "#/";
  route();
});
window.addEventListener("hashchange", route);
route();
