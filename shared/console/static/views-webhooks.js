// The webhooks pages: the list, the create and edit form, one webhook with its actions (ping,
// enable/disable, rotate, delete) and a new secret shown once.
"use strict";

const EVENT_TYPES = [
  "batch.succeeded", "batch.failed", "batch.cancelled", "batch.expired",
  "interaction.completed", "interaction.failed", "interaction.cancelled", "interaction.requires_action",
  "video.generated",
];

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
        : el("span", { class: "good" }, "healthy"),
        w.endpoint_state && w.endpoint_state !== "OK" ? el("div", { class: "endpoint" }, endpointState(w, true)) : null),
      cell("Last delivery", "", last
        ? [deliveryBadge(last.state), " ", lastTime(last)]
        : el("span", { class: "muted" }, "none yet")));
  });
  render(head, el("table", { class: "list", id: "webhooks" },
    el("thead", {}, el("tr", {}, ["Webhook", "State", "URL", "Events", "Health", "Last delivery"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows)));
}

// lastTime is when a delivery was last tried (created, if not tried yet), as "2 min ago".
function lastTime(d) {
  const at = d.last_attempt_time || d.create_time;
  return el("time", { class: "muted", datetime: at }, ago(at));
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
  const throttle = throttleInputs(w);
  const out = el("div");
  const form = el("form", { class: "card", id: "webhook-form" },
    el("h1", {}, w ? "Edit " + (w.display_name || id) : "New webhook"),
    el("label", { for: "display-name" }, "Display name"), name,
    el("label", { for: "url" }, "Endpoint URL"), url,
    el("p", { class: "hint" }, "Jobhooks POSTs each event here, signed the Standard Webhooks way, and retries for 24 hours."),
    el("fieldset", {}, el("legend", {}, "Events"), el("div", { class: "checks" }, boxes),
      el("label", { for: "custom-events" }, "Other event types (comma separated)"), custom),
    el("fieldset", { id: "throttle" }, el("legend", {}, "Throttle"),
      el("p", { class: "hint" }, "Protect a small endpoint from a burst of finished jobs. Each is 0 to 500; 0 means none of its own (the deployment's limit per host still holds)."),
      el("div", { class: "row" }, throttle.fields)),
    el("div", { class: "actions" },
      el("a", { class: "button secondary", href: w ? "#/webhooks/" + encodeURIComponent(id) : "#/" }, "Cancel"),
      el("button", { type: "submit", class: "primary" }, w ? "Save" : "Create webhook")),
    out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const events = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value)
      .concat(custom.value.split(",").map((s) => s.trim()).filter(Boolean));
    const body = { display_name: name.value.trim(), url: url.value.trim(), subscribed_events: events };
    const mask = ["display_name", "url", "subscribed_events"];
    for (const [field, value] of throttle.changed()) {
      body[field] = value;
      mask.push(field);
    }
    fieldErrors.clear();
    out.replaceChildren(loading("Saving…"));
    try {
      if (w) {
        await api("PATCH", hookPath(id) + "?update_mask=" + mask.join(","), body);
        go("#/webhooks/" + encodeURIComponent(id));
      } else {
        const created = await api("POST", "/v1/projects/" + project() + "/webhooks", body);
        showSecret("Webhook created", created.new_signing_secret,
          "This is the webhook's signing secret. Your endpoint verifies each request with it. It is shown only now: copy it into your endpoint's configuration.",
          "#/webhooks/" + encodeURIComponent(idOf(created.name)));
      }
    } catch (err) {
      out.replaceChildren(fieldErrors.show(err) ? el("div", { class: "error", role: "alert" }, "Not saved: see the field marked above.") : errorBox(err));
    }
  });
  const fieldErrors = formErrors({ max_in_flight: throttle.inputs.max_in_flight, rate_limit: throttle.inputs.rate_limit,
    url: url, display_name: name, subscribed_events: custom });
  render(form);
}

// THROTTLE are the webhook's throttle fields: what each bounds, as the form explains it.
const THROTTLE = [
  { field: "max_in_flight", id: "max-in-flight", label: "Max in flight",
    hint: "At most this many requests to the endpoint at once, across every instance." },
  { field: "rate_limit", id: "rate-limit", label: "Rate limit (per second)",
    hint: "At most this many deliveries started per second." },
];

// throttleInputs are the number inputs of the throttle, and changed(): the [field, value] pairs
// that differ from what the webhook has (for a new one, from 0), so that an update's mask names
// only what the user changed. The inputs set no max: the API is the one judge of the range, and
// its error is shown beside the field.
function throttleInputs(w) {
  const inputs = {};
  const fields = THROTTLE.map((t) => {
    const input = el("input", { id: t.id, type: "number", min: 0, step: 1, inputmode: "numeric",
      value: String(w ? w[t.field] || 0 : 0), "aria-describedby": t.id + "-hint" });
    inputs[t.field] = input;
    return el("div", {}, el("label", { for: t.id }, t.label), input,
      el("p", { class: "hint", id: t.id + "-hint" }, t.hint, " 0: none of its own."));
  });
  const changed = () => THROTTLE.map((t) => [t.field, Number(inputs[t.field].value || 0)])
    .filter(([field, v]) => v !== (w ? w[field] || 0 : 0));
  return { inputs, fields, changed };
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
    el("dt", {}, "Endpoint"), el("dd", { id: "endpoint-state" }, endpointState(w)),
    el("dt", {}, "Pending"), el("dd", { id: "pending" }, pendingText(w.pending_deliveries)),
    el("dt", {}, "Throttle"), el("dd", { id: "throttle-facts" }, throttleText(w)),
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

// endpointState is what holds deliveries to w's endpoint back (shared/restapi/README.md,
// Console): a badge, and the time or the number that goes with it; brief leaves out the why.
function endpointState(w, brief) {
  const at = (iso) => el("time", { datetime: iso, title: when(iso) }, when(iso));
  const badge = (state, text) => el("span", { class: "badge ep-" + state.toLowerCase(), "data-endpoint-state": state }, text);
  switch (w.endpoint_state) {
    case "THROTTLED":
      return [badge("THROTTLED", "throttled"), " ", el("span", {}, "its 429s lowered it to " + w.allowed_in_flight + " in flight")];
    case "PAUSED":
      return [badge("PAUSED", "paused"), " until ", w.paused_until ? at(w.paused_until) : "its Retry-After ends"];
    case "CIRCUIT_OPEN":
      return [badge("CIRCUIT_OPEN", "circuit open"), " failing since ", w.failing_since ? at(w.failing_since) : "—",
        brief ? null : el("div", { class: "hint" }, "Jobhooks sends one probe per interval instead of every delivery; the first success closes it.")];
    default:
      return badge("OK", "ok");
  }
}

// pendingText is how many deliveries wait for the endpoint (the API counts up to 10,000).
function pendingText(n) {
  if (n === undefined || n === null) return "—";
  if (n === 0) return el("span", { class: "muted" }, "no pending deliveries");
  return (n >= 10000 ? "10,000 or more" : n.toLocaleString("en")) + (n === 1 ? " pending delivery" : " pending deliveries");
}

// throttleText is a webhook's own throttle in words.
function throttleText(w) {
  const parts = [];
  if (w.max_in_flight) parts.push(w.max_in_flight + " at once");
  if (w.rate_limit) parts.push(w.rate_limit + " per second");
  return parts.length ? parts.join(" · ") : el("span", { class: "muted" }, "none of its own");
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
