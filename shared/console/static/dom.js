// Building the page. Every string that comes from the API is inserted as text (el() and
// textContent), never as markup: display names, URLs, errors and response excerpts are written by
// other people.
"use strict";

const STATE_LABEL = { ENABLED: "Enabled", DISABLED: "Disabled", DISABLED_DUE_TO_FAILED_DELIVERIES: "Disabled after failures" };

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

// formErrors shows an API error beside the input of the field it names ("rate_limit: must be
// …"; the API's messages start with the field) and clear() removes them. show(err) is false
// when the error names no field of the form: the caller shows it in the form's general box.
function formErrors(inputs) {
  const shown = [];
  return {
    clear() {
      for (const [input, note] of shown.splice(0)) { input.removeAttribute("aria-invalid"); note.remove(); }
    },
    show(err) {
      const m = /^([a-z_]+)(?=[:.[ ])/.exec(err.message || "");
      const input = m && inputs[m[1]];
      if (!input) return false;
      const note = el("p", { class: "field-error", role: "alert", id: (input.id || m[1]) + "-error" }, err.message);
      input.setAttribute("aria-invalid", "true");
      input.after(note);
      shown.push([input, note]);
      input.focus();
      return true;
    },
  };
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
