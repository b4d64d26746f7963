// The webhook page's chart: the last 24 hours' deliveries per hour, stacked by outcome, drawn as
// SVG by hand (no library).
"use strict";

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
