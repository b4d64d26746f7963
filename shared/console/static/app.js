// The router: the address bar's fragment picks the page. Loaded last, it starts the console.
"use strict";

// go shows a route, also the one already in the address bar (after a page that did not change it).
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

let generation = 0; // a page rendered by an older navigation must not draw over a newer one

async function route() {
  const gen = ++generation;
  await takeLinkFromFragment(); // may ask before a link replaces the session
  if (gen !== generation) return;
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
    if (parts[0] === "dead-letters") return await deadLettersPage(live);
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
  const page = location.hash.startsWith("#/verify") ? "verify" : location.hash.startsWith("#/dead-letters") ? "dead-letters" : "webhooks";
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("current", a.dataset.nav === page);
  if (!s) return;
  document.getElementById("nav-dead-letters").hidden = !deadLettersAllowed();
  document.getElementById("who-project").textContent = s.project;
  const badge = document.getElementById("who-badge");
  badge.textContent = s.token ? (s.readOnly ? "read-only link" : "portal link") + " · expires " + ago(new Date(s.expire).toISOString()) : "API key";
  badge.className = "badge " + (s.readOnly ? "readonly" : "");
}

document.getElementById("sign-out").addEventListener("click", () => {
  session.clear();
  location.hash = "#/";
  route();
});
window.addEventListener("hashchange", route);
route();
