// The dead letters page: what Jobhooks gave up on in the project (poison job events, deliveries
// whose retry window closed), newest first, filtered by kind and paged with the API's tokens.
"use strict";

const DEAD_LETTER_KINDS = { job_event: "poison job event", delivery: "delivery", request: "refused request" };

// deadLettersAllowed: a portal link limited to some webhooks cannot list them (the API says 403).
const deadLettersAllowed = () => !(session.get().webhooks || []).length;

async function deadLettersPage(live, opts) {
  opts = opts || { kind: "", tokens: [""] };
  const filter = el("select", { id: "kind-filter", "aria-label": "Filter by kind" },
    el("option", { value: "" }, "All kinds"),
    Object.entries(DEAD_LETTER_KINDS).map(([k, label]) => el("option", { value: k, selected: k === opts.kind }, label)));
  filter.addEventListener("change", () => deadLettersPage(live, { kind: filter.value, tokens: [""] }));
  const intro = el("p", { class: "muted" }, "What Jobhooks gave up on: job events that broke a rule (never retried, nothing delivered) and deliveries whose 24-hour retry window closed. Newest first.");
  render(el("div", { class: "page-head" }, el("h1", {}, "Dead letters"), filter), intro, loading());
  const token = opts.tokens[opts.tokens.length - 1];
  const q = "?page_size=" + PAGE + (opts.kind ? "&kind=" + opts.kind : "") + (token ? "&page_token=" + encodeURIComponent(token) : "");
  const data = await api("GET", "/v1/projects/" + project() + "/deadLetters" + q);
  if (!live()) return;
  const rows = data.dead_letters.map((d) => el("tr", { "data-dead-letter": idOf(d.name) },
    cell("Kind", "", el("span", { class: "badge " + (d.kind === "delivery" ? "d-exhausted" : "d-failed") }, DEAD_LETTER_KINDS[d.kind] || d.kind)),
    cell("Reason", "reason", d.reason),
    cell("Event", "", deadLetterSubject(d)),
    cell("When", "nowrap", el("span", { title: when(d.time) }, ago(d.time)))));
  const pager = el("div", { class: "pager" },
    opts.tokens.length > 1 ? el("button", { type: "button", class: "secondary", id: "newer",
      onclick: () => deadLettersPage(live, { kind: opts.kind, tokens: opts.tokens.slice(0, -1) }) }, "← Newer") : null,
    data.next_page_token ? el("button", { type: "button", class: "secondary", id: "older",
      onclick: () => deadLettersPage(live, { kind: opts.kind, tokens: opts.tokens.concat(data.next_page_token) }) }, "Older →") : null);
  main().lastChild.replaceWith(rows.length
    ? el("div", {}, el("table", { class: "list", id: "dead-letters" },
      el("thead", {}, el("tr", {}, ["Kind", "Reason", "Event", "When"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)), pager)
    : el("div", { class: "card empty", id: "dead-letters-empty" }, el("p", {}, "No dead letters. Nothing was given up on.")));
}

// deadLetterSubject is what a dead letter is about: a poison event's id and the start of its
// message (text, as it arrived), or the exhausted delivery with a link to its attempts.
function deadLetterSubject(d) {
  const id = d.event_id ? el("div", { class: "mono" }, d.event_id) : el("div", { class: "muted" }, "no readable id");
  if (d.kind === "delivery" && d.webhook && d.delivery_id) {
    const w = idOf(d.webhook);
    return [id, el("a", { class: "mono", href: "#/webhooks/" + encodeURIComponent(w) + "/deliveries/" + encodeURIComponent(d.delivery_id) },
      w + " / " + d.delivery_id)];
  }
  return [id, d.data ? el("details", {}, el("summary", {}, "Message as it arrived"), el("pre", { class: "excerpt" }, d.data)) : null];
}
