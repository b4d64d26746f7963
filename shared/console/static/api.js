// The console's session and its one door to the management API (shared/restapi/README.md, Console): the credential
// (an API key, or a portal link's token taken from the URL fragment) lives in this tab's session
// storage and goes out only in api()'s requests, to the API beside the console.
"use strict";

const API = new URL("..", location.href).pathname.replace(/\/$/, "");

const session = {
  get() {
    try { return JSON.parse(sessionStorage.getItem("jobhooks") || "null"); } catch { return null; }
  },
  set(s) { sessionStorage.setItem("jobhooks", JSON.stringify(s)); },
  clear() { sessionStorage.removeItem("jobhooks"); },
};

// takeLinkFromFragment moves a portal link's token out of the address bar into session storage.
// A link never replaces a session unasked (login CSRF: anyone can send a link to their own
// project, and its user would then work there, e.g. paste a receiver's URL into it): when the
// tab is signed in with another credential, the page's own dialog asks first, naming both
// projects; until its user switches, the tab keeps its session, and the token is in memory only.
async function takeLinkFromFragment() {
  const m = /^#token=([A-Za-z0-9_.-]+)$/.exec(location.hash);
  if (!m) return;
  const claims = decodeClaims(m[1]);
  history.replaceState(null, "", location.pathname + "#/");
  if (!claims) { flash = "That portal link is malformed. Ask for a new one."; return; }
  const next = { token: m[1], project: String(claims.sub), readOnly: !!claims.read_only,
    webhooks: claims.webhooks || [], expire: claims.exp * 1000 };
  const current = session.get();
  const live = current && !(current.expire && Date.now() > current.expire);
  if (live && current.token !== next.token) {
    const how = current.token ? "a portal link" : "an API key";
    const switched = await confirmModal("Switch to project " + next.project + "?",
      "This tab is signed in to project " + current.project + " with " + how + ". The link you opened " +
      "signs in to project " + next.project + " instead. Switch only if you asked for this link: " +
      "a link someone else sent you would have you work in their project.",
      "Switch to " + next.project);
    if (!switched) return;
  }
  session.set(next);
}

// decodeClaims reads a token's claims for display only; the API checks the signature.
function decodeClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch { return null; }
}

// flash is what the next sign-in page says first: why the last session ended.
let flash = "";

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
