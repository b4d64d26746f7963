// A webhook's deliveries: the filtered, paged list, the replay form and one delivery with every
// attempt, followed until it is final.
"use strict";

const DELIVERY_STATES = ["PENDING", "DELIVERED", "FAILED", "EXHAUSTED", "CANCELLED"];
const PAGE = 25;
// WAITING says what a pending delivery waits for without an attempt (its `waiting`).
const WAITING = { THROTTLED: "waiting for a slot", PAUSED: "endpoint paused" };
const WAITING_WHY = {
  THROTTLED: "The endpoint's throttle has no free place now; waiting records no failed attempt, and the delivery goes once one frees up, within its retry window.",
  PAUSED: "The endpoint asked for a pause (Retry-After) or its circuit is open; nothing is sent to it before then, and waiting records no failed attempt.",
};

function waitingNote(d) {
  return d.waiting ? el("span", { class: "waiting", "data-waiting": d.waiting }, WAITING[d.waiting] || d.waiting.toLowerCase()) : null;
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
      cell("State", "", deliveryBadge(d.state), waitingNote(d)),
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
  const attempts = (d.attempts || []).slice().reverse().map((a) => el("li", { class: "attempt", "data-attempt": a.number },
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
      d.waiting ? [el("dt", {}, "Waiting"), el("dd", { id: "waiting" }, waitingNote(d), el("div", { class: "hint" }, WAITING_WHY[d.waiting] || ""))] : null,
      d.next_attempt_time ? [el("dt", {}, "Next attempt"), el("dd", {}, when(d.next_attempt_time))] : null,
      d.reason ? [el("dt", {}, "Reason"), el("dd", {}, d.reason)] : null)),
    d.request ? sentSection(d.request) : null,
    el("section", { class: "card" }, el("h2", {}, "Attempts (" + attempts.length + ")"),
      attempts.length ? el("ol", { class: "attempts", id: "attempts" }, attempts) : el("p", { class: "muted" }, "No attempt yet.")));
}

// sentSection shows what the delivery sent, as the API describes it (shared/restapi/README.md,
// What a delivery sent): the headers, redacted values marked, and the body, pretty-printed.
function sentSection(req) {
  const rows = req.headers.map((h) => el("tr", { "data-header": h.name.toLowerCase() },
    el("th", { scope: "row", class: "mono" }, h.name),
    el("td", { class: "mono wrap" + (h.redacted ? " redacted" : "") }, h.value,
      h.redacted ? el("span", { class: "muted note" }, redactedWhy(h)) : null)));
  let body = req.body || "";
  try { body = JSON.stringify(JSON.parse(body), null, 2); } catch { /* shown as it is */ }
  return el("section", { class: "card", id: "sent" }, el("h2", {}, "Request"),
    el("table", { class: "headers", id: "sent-headers" }, el("tbody", {}, rows)),
    req.body_expired
      ? el("p", { class: "muted", id: "sent-body-expired" }, "The body is no longer stored: the event's record has expired.")
      : el("details", { open: true }, el("summary", {}, "Body"), el("pre", { class: "excerpt", id: "sent-body" }, body)));
}

function redactedWhy(h) {
  const n = h.name.toLowerCase();
  if (n === "webhook-signature") {
    const k = h.value.split(" ").length;
    return k === 1 ? "one signature; Jobhooks keeps none to show. Verify it with your secret."
      : k + " signatures, one per active secret; Jobhooks keeps none to show. Verify with either secret.";
  }
  if (n === "traceparent") return "the attempt's trace context; not stored";
  return "value hidden: the webhook's own header, which may carry a token";
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
