// The minik8s dashboard: plain JavaScript, no framework. Every call goes to
// the dashboard's own /api, which makes it against the apiserver with the
// logged-in user's token; a 401 means the session ended.
"use strict";

const page = document.getElementById("page");
const message = document.getElementById("message");
const nsInput = document.getElementById("namespace");
let cleanup = []; // what the current page must stop when it is left
let generation = 0; // bumped on every render: late answers of a left page are dropped

// el builds an element: el("td", {class: "x"}, "text", child, ...).
// Text always goes in as text, never as HTML.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function showMessage(text, kind) {
  message.textContent = text;
  message.className = kind || "info";
  message.hidden = !text;
}

class APIError extends Error {
  constructor(body, status) {
    super(body.error || ("HTTP " + status));
    this.reason = body.reason;
    this.code = body.code || status;
  }
}

async function api(path, opts) {
  const resp = await fetch(path, Object.assign({credentials: "same-origin"}, opts));
  if (resp.status === 401) {
    location.assign("/");
    throw new APIError({error: "session ended"}, 401);
  }
  const body = await resp.json().catch(() => ({error: "bad answer from the dashboard"}));
  if (!resp.ok) throw new APIError(body, resp.status);
  return body;
}

// age is kubectl's short age of an RFC 3339 time.
function age(ts) {
  if (!ts) return "<unknown>";
  let s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
  if (s < 120) return s + "s";
  let m = Math.floor(s / 60);
  if (m < 10) return m + "m" + (s % 60 ? (s % 60) + "s" : "");
  if (m < 180) return m + "m";
  let h = Math.floor(m / 60);
  if (h < 8) return h + "h" + (m % 60 ? (m % 60) + "m" : "");
  if (h < 48) return h + "h";
  let d = Math.floor(h / 24);
  if (d < 8) return d + "d" + (h % 24 ? (h % 24) + "h" : "");
  return d + "d";
}

function ageCell(ts) {
  return el("td", {class: "age", dataset: {created: ts || ""}}, age(ts));
}

function table(id, headers, rows) {
  return el("table", {id},
    el("thead", {}, el("tr", {}, headers.map(h => el("th", {}, h)))),
    el("tbody", {}, rows));
}

function errorBox(err) {
  return el("p", {class: "error", role: "alert"}, err.error || err.message || String(err));
}

function route() {
  const h = location.hash.replace(/^#\/?/, "");
  const [path, query] = h.split("?");
  const params = new URLSearchParams(query || "");
  return {parts: path.split("/").filter(Boolean).map(decodeURIComponent), ns: params.get("namespace") || ""};
}

function go(path) {
  const ns = nsInput.value.trim();
  location.hash = "#/" + path + (ns ? "?namespace=" + encodeURIComponent(ns) : "");
}

function nsQuery(ns) {
  return ns ? "?namespace=" + encodeURIComponent(ns) : "";
}

// ---- usage charts
//
// The metrics API (metrics.k8s.io) has no watch: while a chart is on
// screen the app asks for the current usage every sampleEvery ms and keeps
// the last historyLength samples of each series in sessionStorage, so the
// history survives moving between pages (and ends with the tab).

const sampleEvery = 10000;
const historyLength = 60;
const svgNS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs) {
  const e = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

// remember adds the sample [t, v] to a series and returns its history.
function remember(key, t, v) {
  let h = [];
  try { h = JSON.parse(sessionStorage.getItem("usage:" + key)) || []; } catch (err) { h = []; }
  h = h.filter(p => p[0] < t);
  h.push([t, v]);
  while (h.length > historyLength) h.shift();
  try { sessionStorage.setItem("usage:" + key, JSON.stringify(h)); } catch (err) { /* full: keep drawing */ }
  return h;
}

// quantity parses a Kubernetes quantity ("1500m", "2", "8Gi") to a number
// of units (cores, bytes); NaN when it cannot.
function quantity(q) {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(String(q || ""));
  if (!m) return NaN;
  const mult = {"": 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4}[m[2]];
  return mult === undefined ? NaN : Number(m[1]) * mult;
}

function formatCPU(milli) {
  return milli >= 1000 ? (milli / 1000).toFixed(2) + " cores" : milli + "m";
}

function formatBytes(b) {
  if (b >= 1024 ** 3) return (b / 1024 ** 3).toFixed(2) + "Gi";
  if (b >= 1024 ** 2) return (b / 1024 ** 2).toFixed(1) + "Mi";
  return Math.round(b / 1024) + "Ki";
}

// chart draws a series' history as a line in a small SVG: time runs left
// to right over the history's slots, the y axis goes from 0 to a little
// over the largest value (or to the limit, when it is known).
function chart(series, label, hist, format, limit) {
  const w = 240, h = 56, pad = 3;
  const last = hist[hist.length - 1][1];
  const top = Math.max(1, limit || 0, ...hist.map(p => p[1])) * (limit ? 1 : 1.15);
  const x = i => pad + (w - 2 * pad) * (historyLength - hist.length + i) / (historyLength - 1);
  const y = v => h - pad - (h - 2 * pad) * v / top;
  const svg = svgEl("svg", {class: "chart", viewBox: "0 0 " + w + " " + h, width: w, height: h, role: "img",
    "aria-label": label + " " + format(last), "data-series": series, "data-value": String(last), "data-samples": String(hist.length)});
  svg.append(svgEl("line", {class: "axis", x1: pad, y1: h - pad, x2: w - pad, y2: h - pad}));
  svg.append(svgEl("polyline", {class: "line", points: hist.map((p, i) => x(i).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" ")}));
  svg.append(svgEl("circle", {class: "dot", cx: x(hist.length - 1).toFixed(1), cy: y(last).toFixed(1), r: 2.5}));
  let value = format(last);
  if (limit) value += " of " + format(limit) + " (" + Math.round(100 * last / limit) + "%)";
  return el("figure", {class: "usage"}, el("figcaption", {}, label + " ", el("span", {class: "value"}, value)), svg);
}

// sampler calls fetch now and every sampleEvery ms until the page is left.
function sampler(fetchOnce) {
  let timer = null;
  const gen = generation;
  const tick = async () => {
    await fetchOnce();
    if (gen === generation) timer = setTimeout(tick, sampleEvery);
  };
  cleanup.push(() => clearTimeout(timer));
  tick();
}

function sampleTime(u) {
  return u.timestamp ? Date.parse(u.timestamp) : Date.now();
}

// nodeUsage fills box with a CPU and a memory chart per node; allocatable
// (by node name, from the overview) gives the charts their limits.
function nodeUsage(box, allocatable) {
  const gen = generation;
  sampler(async () => {
    try {
      const d = await api("/api/metrics/nodes");
      if (gen !== generation) return;
      if (!d.items.length) { box.replaceChildren(el("p", {class: "hint"}, "No node metrics yet (the kubelets have not been sampled).")); return; }
      box.replaceChildren(...d.items.map(u => {
        const t = sampleTime(u), a = allocatable[u.name] || {};
        return el("div", {class: "usage-row", dataset: {node: u.name}}, el("h3", {}, u.name),
          chart("node/" + u.name + "/cpu", "CPU", remember("node/" + u.name + "/cpu", t, u.cpuMilli), formatCPU, quantity(a.cpu) * 1000 || 0),
          chart("node/" + u.name + "/memory", "Memory", remember("node/" + u.name + "/memory", t, u.memoryBytes), formatBytes, quantity(a.memory) || 0));
      }));
    } catch (err) {
      if (gen === generation && err.code !== 401) box.replaceChildren(errorBox(err));
    }
  });
}

// podUsage fills box with the pod's CPU and memory charts.
function podUsage(box, ns, name) {
  const gen = generation;
  sampler(async () => {
    try {
      const d = await api("/api/metrics/pods?namespace=" + encodeURIComponent(ns) + "&name=" + encodeURIComponent(name));
      if (gen !== generation) return;
      const u = d.items[0];
      if (!u) { box.replaceChildren(el("p", {class: "hint"}, "No metrics for this pod yet (it is not running, or not sampled yet).")); return; }
      const key = "pod/" + ns + "/" + name, t = sampleTime(u);
      box.replaceChildren(el("div", {class: "usage-row"},
        chart(key + "/cpu", "CPU", remember(key + "/cpu", t, u.cpuMilli), formatCPU),
        chart(key + "/memory", "Memory", remember(key + "/memory", t, u.memoryBytes), formatBytes),
        el("p", {class: "hint"}, u.containers.map(c => c.name + ": " + formatCPU(c.cpuMilli) + ", " + formatBytes(c.memoryBytes)).join("; "))));
    } catch (err) {
      if (gen === generation && err.code !== 401) box.replaceChildren(errorBox(err));
    }
  });
}

// ---- pages

async function overview() {
  const gen = generation;
  const o = await api("/api/overview");
  if (gen !== generation) return;
  const nodes = o.nodes.error ? errorBox(o.nodes.error) : table("nodes",
    ["Name", "Status", "Roles", "Internal IP", "Version", "CPU (alloc/cap)", "Memory (alloc/cap)", "Pods (running/max)", "Age"],
    o.nodes.items.map(n => el("tr", {dataset: {name: n.name}},
      el("td", {}, n.name),
      el("td", {class: "status " + (n.status.startsWith("Ready") ? "ok" : "bad")}, n.status),
      el("td", {}, n.roles),
      el("td", {}, n.internalIP),
      el("td", {}, n.version),
      el("td", {}, (n.allocatable.cpu || "?") + " / " + (n.capacity.cpu || "?")),
      el("td", {}, (n.allocatable.memory || "?") + " / " + (n.capacity.memory || "?")),
      el("td", {}, n.pods + " / " + (n.allocatable.pods || "?")),
      ageCell(n.created))));
  const nss = o.namespaces.error ? errorBox(o.namespaces.error) : table("namespace-list", ["Name", "Status", "Age"],
    o.namespaces.items.map(n => el("tr", {},
      el("td", {}, el("a", {href: "#/pods?namespace=" + encodeURIComponent(n.name)}, n.name)),
      el("td", {}, n.status), ageCell(n.created))));
  const comps = o.components.error ? errorBox(o.components.error) : table("components", ["Component", "Healthy", "Message"],
    o.components.items.map(c => el("tr", {},
      el("td", {}, c.name), el("td", {class: c.healthy ? "ok" : "bad"}, c.healthy ? "Healthy" : "Unhealthy"), el("td", {}, c.message))));
  const usage = el("div", {id: "node-usage", class: "usage-box"}, el("p", {class: "hint"}, "Reading the metrics API..."));
  const allocatable = {};
  for (const n of (o.nodes.items || [])) allocatable[n.name] = n.allocatable || {};
  page.replaceChildren(
    el("h1", {}, "Overview"),
    el("p", {}, o.podsError ? "Pods: " + o.podsError.error : o.podCount + " pods in the cluster"),
    el("h2", {}, "Nodes"), nodes,
    el("h2", {}, "Node usage"), usage,
    el("h2", {}, "Control plane"), comps,
    el("h2", {}, "Namespaces"), nss);
  nodeUsage(usage, allocatable);
}

function podRowEl(p, showNs) {
  const cls = /Running|Completed|Succeeded/.test(p.status) ? "ok" : /Err|BackOff|Fail|Unknown/.test(p.status) ? "bad" : "warn";
  return el("tr", {dataset: {key: p.namespace + "/" + p.name, name: p.name, status: p.status}},
    showNs ? el("td", {}, p.namespace) : null,
    el("td", {}, el("a", {href: "#/pod/" + encodeURIComponent(p.namespace) + "/" + encodeURIComponent(p.name)}, p.name)),
    el("td", {}, p.ready),
    el("td", {class: "status " + cls}, p.status),
    el("td", {}, p.restarts),
    el("td", {}, p.node || "<none>"),
    el("td", {}, p.ip || "<none>"),
    ageCell(p.created));
}

function pods(ns) {
  const showNs = !ns;
  const live = el("span", {id: "live", class: "live off"}, "connecting");
  const body = el("tbody");
  const tbl = el("table", {id: "pods"},
    el("thead", {}, el("tr", {}, (showNs ? ["Namespace"] : []).concat(["Name", "Ready", "Status", "Restarts", "Node", "IP", "Age"]).map(h => el("th", {}, h)))),
    body);
  const count = el("span", {id: "pod-count"}, "");
  page.replaceChildren(el("h1", {}, "Pods ", live), el("p", {}, ns ? "Namespace " + ns + ": " : "All namespaces: ", count), tbl);

  const rows = new Map(); // key -> {rv, tr}
  const recount = () => { count.textContent = rows.size + " pods"; };
  const put = p => {
    const key = p.namespace + "/" + p.name;
    const have = rows.get(key);
    if (have && Number(have.rv) > Number(p.resourceVersion)) return;
    const tr = podRowEl(p, showNs);
    if (have) have.tr.replaceWith(tr);
    else {
      // keep the rows sorted by key
      const next = [...rows.keys()].filter(k => k > key).sort()[0];
      body.insertBefore(tr, next ? rows.get(next).tr : null);
    }
    rows.set(key, {rv: p.resourceVersion, tr});
    recount();
  };
  let opened = false;
  const src = new EventSource("/api/pods/watch" + nsQuery(ns));
  src.addEventListener("reset", e => {
    opened = true;
    rows.clear();
    body.replaceChildren();
    JSON.parse(e.data).items.forEach(put);
    recount();
    live.textContent = "live";
    live.className = "live on";
  });
  src.addEventListener("upsert", e => put(JSON.parse(e.data)));
  src.addEventListener("delete", e => {
    const p = JSON.parse(e.data);
    const key = p.namespace + "/" + p.name;
    const have = rows.get(key);
    if (have) { have.tr.remove(); rows.delete(key); recount(); }
  });
  src.addEventListener("failure", e => {
    // The server gave up (the watch was refused or failed): stop, or the
    // browser would reconnect to the same refusal forever.
    src.close();
    live.textContent = "stopped";
    live.className = "live off";
    showMessage(JSON.parse(e.data).error + " (reload to try again)", "error");
  });
  src.onerror = async () => {
    live.textContent = "reconnecting";
    live.className = "live off";
    if (!opened) {
      // The stream was refused: ask once more as JSON to learn why.
      src.close();
      const gen = generation;
      try { await api("/api/pods" + nsQuery(ns)); } catch (err) {
        if (gen !== generation) return; // the user has moved on
        live.textContent = "refused";
        page.append(errorBox(err));
      }
    }
  };
  cleanup.push(() => src.close());
}

async function podDetail(ns, name) {
  const gen = generation;
  const d = await api("/api/namespaces/" + encodeURIComponent(ns) + "/pods/" + encodeURIComponent(name));
  if (gen !== generation) return;
  const p = d.pod;
  const logPre = el("pre", {id: "log"}, "");
  const container = el("select", {id: "container"}, d.containers.map(c => el("option", {value: c.name}, c.name)));
  const follow = el("input", {type: "checkbox", id: "follow"});
  let abort = null;
  const loadLog = async () => {
    if (abort) abort.abort();
    abort = new AbortController();
    logPre.textContent = "";
    const q = "?container=" + encodeURIComponent(container.value) + (follow.checked ? "&follow=1" : "");
    try {
      const resp = await fetch("/api/namespaces/" + encodeURIComponent(ns) + "/pods/" + encodeURIComponent(name) + "/log" + q, {signal: abort.signal});
      if (!resp.ok) {
        const body = await resp.json().catch(() => ({}));
        logPre.textContent = "(" + (body.error || resp.status) + ")";
        return;
      }
      const reader = resp.body.getReader();
      const dec = new TextDecoder();
      for (;;) {
        const {done, value} = await reader.read();
        if (done) break;
        logPre.textContent += dec.decode(value, {stream: true});
        if (follow.checked) logPre.scrollTop = logPre.scrollHeight;
      }
    } catch (err) {
      if (err.name !== "AbortError") logPre.textContent += "\n(" + err.message + ")";
    }
  };
  container.addEventListener("change", loadLog);
  follow.addEventListener("change", loadLog);
  cleanup.push(() => abort && abort.abort());
  const usageBox = el("div", {id: "pod-usage", class: "usage-box"}, el("p", {class: "hint"}, "Reading the metrics API..."));
  // The pod's events, live: the list above and then the events stream
  // selected as kubectl describe selects them (kind, name, namespace, uid).
  const evLive = el("span", {id: "events-live", class: "live off"}, d.events.error ? "refused" : "connecting");
  const evBody = el("tbody");
  const evTable = el("table", {id: "events"}, el("thead", {}, el("tr", {}, eventHeaders(false).map(h => el("th", {}, h)))), evBody);
  const evFeed = eventFeed(evBody, false);
  d.events.items.forEach(evFeed.put);
  page.replaceChildren(
    el("h1", {}, "Pod " + p.namespace + "/" + p.name),
    el("dl", {class: "facts"},
      el("dt", {}, "Status"), el("dd", {id: "pod-status"}, p.status),
      el("dt", {}, "Ready"), el("dd", {}, p.ready),
      el("dt", {}, "Restarts"), el("dd", {}, p.restarts),
      el("dt", {}, "Node"), el("dd", {}, p.node || "<none>"),
      el("dt", {}, "IP"), el("dd", {}, p.ip || "<none>"),
      el("dt", {}, "Service account"), el("dd", {}, d.serviceAccount || "default"),
      el("dt", {}, "Labels"), el("dd", {}, Object.entries(d.labels || {}).map(([k, v]) => k + "=" + v).join(", ") || "<none>"),
      el("dt", {}, "Age"), el("dd", {}, age(p.created))),
    el("h2", {}, "Usage"), usageBox,
    el("h2", {}, "Containers"),
    table("containers", ["Name", "Image", "Ready", "State", "Restarts"], d.containers.map(c =>
      el("tr", {}, el("td", {}, c.name), el("td", {}, c.image), el("td", {}, c.ready ? "yes" : "no"), el("td", {}, c.state), el("td", {}, c.restarts)))),
    el("h2", {}, "Conditions"),
    table("conditions", ["Type", "Status", "Reason", "Message"], (d.conditions || []).map(c =>
      el("tr", {}, el("td", {}, c.type), el("td", {}, c.status), el("td", {}, c.reason), el("td", {}, c.message)))),
    el("h2", {}, "Events ", evLive),
    d.events.error ? errorBox(d.events.error) : evTable,
    el("h2", {}, "Logs ", container, el("label", {class: "follow"}, follow, " follow")),
    logPre);
  loadLog();
  podUsage(usageBox, ns, name);
  if (!d.events.error) {
    followEvents("?namespace=" + encodeURIComponent(ns) + "&fieldSelector=" + encodeURIComponent(d.eventSelector), evFeed, evLive, null);
  }
}

function eventHeaders(showNs) {
  return (showNs ? ["Namespace"] : []).concat(["Last seen", "Type", "Reason", "Object", "Source", "Message"]);
}

function eventRowEl(e, showNs) {
  return el("tr", {class: e.type === "Warning" ? "warn" : "", dataset: {key: e.namespace + "/" + e.name, name: e.name, reason: e.reason}},
    showNs ? el("td", {}, e.namespace) : null,
    ageCell(e.last), el("td", {}, e.type), el("td", {}, e.reason), el("td", {}, e.object),
    el("td", {}, e.source), el("td", {}, e.count > 1 ? e.message + " (x" + e.count + ")" : e.message));
}

// maxEventRows bounds a live events table; the oldest rows go first.
const maxEventRows = 500;

// eventFeed keeps the rows of a live events table in body, newest on
// top: put shows an event (a repeat moves it up; an older version than
// the one shown is ignored), drop removes one, reset empties the table.
function eventFeed(body, showNs, onCount) {
  const rows = new Map(); // key -> {rv, tr}
  const recount = () => { if (onCount) onCount(rows.size); };
  const drop = key => {
    const have = rows.get(key);
    if (have) { have.tr.remove(); rows.delete(key); }
  };
  return {
    put(e) {
      const key = e.namespace + "/" + e.name;
      const have = rows.get(key);
      if (have && Number(have.rv) > Number(e.resourceVersion)) return;
      drop(key);
      body.prepend(eventRowEl(e, showNs));
      rows.set(key, {rv: e.resourceVersion, tr: body.firstChild});
      while (rows.size > maxEventRows) drop(rows.keys().next().value);
      recount();
    },
    drop(e) { drop(e.namespace + "/" + e.name); recount(); },
    reset() { rows.clear(); body.replaceChildren(); recount(); },
  };
}

// followEvents feeds feed from GET /api/events/watch + query (a list and
// then a watch as the user, over server-sent events) and shows the
// stream's state in live; refused, when set, shows why a stream that
// never opened was refused.
function followEvents(query, feed, live, refused) {
  let opened = false;
  const src = new EventSource("/api/events/watch" + query);
  src.addEventListener("reset", m => {
    opened = true;
    feed.reset();
    JSON.parse(m.data).items.forEach(feed.put); // oldest first: the newest ends on top
    live.textContent = "live";
    live.className = "live on";
  });
  src.addEventListener("upsert", m => feed.put(JSON.parse(m.data)));
  src.addEventListener("delete", m => feed.drop(JSON.parse(m.data)));
  src.addEventListener("failure", m => {
    // The server gave up: stop, or the browser would reconnect to the
    // same refusal forever.
    src.close();
    live.textContent = "stopped";
    live.className = "live off";
    showMessage(JSON.parse(m.data).error + " (reload to try again)", "error");
  });
  src.onerror = async () => {
    live.textContent = "reconnecting";
    live.className = "live off";
    if (!opened) {
      src.close();
      live.textContent = "refused";
      if (refused) refused();
    }
  };
  cleanup.push(() => src.close());
}

// events is the live events stream of a namespace (or all): the newest on top.
function events(ns) {
  const showNs = !ns;
  const live = el("span", {id: "live", class: "live off"}, "connecting");
  const body = el("tbody");
  const tbl = el("table", {id: "events"},
    el("thead", {}, el("tr", {}, eventHeaders(showNs).map(h => el("th", {}, h)))),
    body);
  const count = el("span", {id: "event-count"}, "");
  page.replaceChildren(el("h1", {}, "Events ", live), el("p", {}, ns ? "Namespace " + ns + ": " : "All namespaces: ", count), tbl);
  const feed = eventFeed(body, showNs, n => { count.textContent = n + " events"; });
  followEvents(nsQuery(ns), feed, live, async () => {
    // The stream was refused: ask once more as JSON to learn why.
    const gen = generation;
    try { await api("/api/events" + nsQuery(ns)); } catch (err) {
      if (gen !== generation) return; // the user has moved on
      page.append(errorBox(err));
    }
  });
}

async function deployments(ns) {
  const gen = generation;
  const d = await api("/api/deployments" + nsQuery(ns));
  if (gen !== generation) return;
  const showNs = !ns;
  page.replaceChildren(el("h1", {}, "Deployments"),
    table("deployments", (showNs ? ["Namespace"] : []).concat(["Name", "Ready", "Up-to-date", "Available", "Rollout", "Images", "Age", "Scale"]),
      d.items.map(x => {
        const input = el("input", {type: "number", min: "0", max: "1000", value: x.desired, class: "replicas", "aria-label": "replicas of " + x.name});
        const btn = el("button", {class: "scale", type: "button", onclick: () => scale(x, input)}, "Scale");
        return el("tr", {dataset: {name: x.name, desired: x.desired}},
          showNs ? el("td", {}, x.namespace) : null,
          el("td", {}, x.name),
          el("td", {class: "ready"}, x.ready + "/" + x.desired),
          el("td", {}, x.updated), el("td", {}, x.available),
          el("td", {class: x.rollout === "complete" ? "ok" : "warn"}, x.rollout),
          el("td", {}, x.images), ageCell(x.created),
          el("td", {class: "scale-cell"}, input, btn));
      })));
}

async function scale(d, input) {
  const n = Number(input.value);
  try {
    const out = await api("/api/namespaces/" + encodeURIComponent(d.namespace) + "/deployments/" + encodeURIComponent(d.name) + "/scale", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({replicas: n})});
    showMessage("Scaled deployment " + d.namespace + "/" + d.name + " to " + out.desired + " replicas.", "ok");
    render();
  } catch (err) {
    showMessage("Scale refused: " + err.message, "error");
  }
}

async function services(ns) {
  const gen = generation;
  const d = await api("/api/services" + nsQuery(ns));
  if (gen !== generation) return;
  const showNs = !ns;
  const items = [el("h1", {}, "Services")];
  if (d.endpointsError) items.push(errorBox(d.endpointsError));
  items.push(table("services", (showNs ? ["Namespace"] : []).concat(["Name", "Type", "Cluster IP", "Ports", "Selector", "Endpoints", "Age"]),
    d.items.map(s => el("tr", {dataset: {name: s.name}},
      showNs ? el("td", {}, s.namespace) : null,
      el("td", {}, s.name), el("td", {}, s.type), el("td", {}, s.clusterIP || "None"),
      el("td", {}, s.ports.join(", ")), el("td", {}, s.selector),
      el("td", {class: "endpoints"}, s.endpoints.join(", ") || "<none>", s.notReady.length ? el("span", {class: "warn"}, " (not ready: " + s.notReady.join(", ") + ")") : null),
      ageCell(s.created)))));
  page.replaceChildren(...items);
}

async function replicasets(ns) {
  const gen = generation;
  const d = await api("/api/replicasets" + nsQuery(ns));
  if (gen !== generation) return;
  page.replaceChildren(el("h1", {}, "Replica sets"),
    table("replicasets", (!ns ? ["Namespace"] : []).concat(["Name", "Owner", "Desired", "Current", "Ready", "Images", "Age"]),
      d.items.map(r => el("tr", {dataset: {name: r.name}},
        !ns ? el("td", {}, r.namespace) : null,
        el("td", {}, r.name), el("td", {}, r.owner || "<none>"), el("td", {}, r.desired), el("td", {}, r.current),
        el("td", {class: r.ready === r.desired ? "ok" : "warn"}, r.ready), el("td", {}, r.images), ageCell(r.created)))));
}

async function ingresses(ns) {
  const gen = generation;
  const d = await api("/api/ingresses" + nsQuery(ns));
  if (gen !== generation) return;
  page.replaceChildren(el("h1", {}, "Ingresses"),
    table("ingresses", (!ns ? ["Namespace"] : []).concat(["Name", "Class", "Rules", "TLS", "Address", "Age"]),
      d.items.map(i => el("tr", {dataset: {name: i.name}},
        !ns ? el("td", {}, i.namespace) : null,
        el("td", {}, i.name), el("td", {}, i.class || "<default>"),
        el("td", {}, i.rules.map(r => el("div", {}, r))),
        el("td", {}, i.tls.join(", ") || "<none>"), el("td", {}, i.address || "<pending>"), ageCell(i.created)))));
}

// ---- routing

async function render() {
  cleanup.forEach(f => f());
  cleanup = [];
  const gen = ++generation;
  const {parts, ns} = route();
  const name = parts[0] || "pods";
  if (document.activeElement !== nsInput) nsInput.value = ns;
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.page === name || (name === "pod" && a.dataset.page === "pods"));
    a.href = "#/" + a.dataset.page + nsQuery(ns);
  }
  try {
    switch (name) {
    case "overview": await overview(); break;
    case "deployments": await deployments(ns); break;
    case "services": await services(ns); break;
    case "replicasets": await replicasets(ns); break;
    case "ingresses": await ingresses(ns); break;
    case "events": events(ns); break;
    case "pod": await podDetail(parts[1], parts[2]); break;
    default: pods(ns);
    }
  } catch (err) {
    if (gen === generation && err.code !== 401) page.replaceChildren(el("h1", {}, name), errorBox(err));
  }
}

window.addEventListener("hashchange", () => { showMessage(""); render(); });
nsInput.addEventListener("change", () => {
  const {parts} = route();
  const name = parts[0] === "pod" ? "pods" : (parts[0] || "pods");
  go(name);
});
setInterval(() => {
  for (const td of document.querySelectorAll("td.age")) td.textContent = age(td.dataset.created);
}, 5000);

(async () => {
  try {
    const me = await api("/api/whoami");
    document.getElementById("user").textContent = me.username;
    document.getElementById("user").title = me.username + (me.groups && me.groups.length ? " (" + me.groups.join(", ") + ")" : "");
    // A service account usually may read only its own namespace: start there.
    const sa = /^system:serviceaccount:([^:]+):/.exec(me.username);
    if (sa && !location.hash) location.replace("#/pods?namespace=" + encodeURIComponent(sa[1]));
  } catch (err) { /* the 401 path navigates away */ }
  try {
    const nss = await api("/api/namespaces");
    document.getElementById("namespaces").replaceChildren(...nss.items.map(n => el("option", {value: n.name})));
  } catch (err) { /* a user who may not list namespaces types one */ }
  render();
})();
