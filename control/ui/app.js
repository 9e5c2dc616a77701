// hadhcpd status page: plain JavaScript over the box's own HTTP API
// (/v1/status, /v1/pools, /v1/leases, /v1/events). No build step, no
// library. The bearer token, when the API has one, is kept in this tab
// (sessionStorage); "#token=…" in the address sets it (then is removed).
"use strict";

const TOKEN_KEY = "hadhcpd-token";
const REFRESH_MS = 1000;
const MAX_EVENTS = 50;

const $ = (sel) => document.querySelector(sel);

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function takeTokenFromHash() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

class Unauthorized extends Error {}

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (token()) headers["Authorization"] = "Bearer " + token();
  const resp = await fetch(path, Object.assign({}, opts, { headers, cache: "no-store" }));
  if (resp.status === 401) throw new Unauthorized("token refused");
  return resp;
}

async function apiJSON(path) {
  const resp = await api(path);
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}

function showLogin(msg) {
  $("#main").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = msg || "";
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

function stateSpan(s) { return el("span", { class: "st " + s }, s); }

function ago(iso) {
  const t = Date.parse(iso);
  if (!t || t < 0 || iso.startsWith("0001-")) return "";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 120) return s + " s ago";
  if (s < 7200) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}

function fill(id, ...kids) {
  const e = $(id);
  e.replaceChildren(...kids);
  return e;
}

// The partner's VRRP state as this box sees it: the master this box
// hears is the partner when this box is backup; when this box is master
// the partner is its backup while the sync link shows it alive.
function partnerVRRP(v, linkUp) {
  if (v.state === "MASTER") return linkUp ? "BACKUP" : "UNKNOWN";
  if (v.state === "BACKUP" && v.master) return "MASTER";
  return "UNKNOWN";
}

function renderStatus(st) {
  $("#node").textContent = st.node + " · " + st.version;
  document.title = "hadhcpd " + st.node;
  const fo = st.failover;
  fill("#self-name", st.node);
  const selfMaster = st.vrrp.some((v) => v.state === "MASTER");
  $("#self").classList.toggle("master", selfMaster);
  fill("#self-vrrp", ...(st.vrrp.length ? st.vrrp.map((v) => el("div", {},
    v.instance + " (VRID " + v.vrid + "): ", stateSpan(v.state), " priority " + v.priority,
    v.state !== "MASTER" && v.master ? " · master " + v.master : ""))
    : ["no VRRP instance"]));
  if (!fo) {
    fill("#self-failover", "single server (no failover section)");
    fill("#self-role", "—");
    $("#partner").hidden = true;
    fill("#link", "");
    return;
  }
  $("#partner").hidden = false;
  fill("#self-failover", stateSpan(fo.state));
  fill("#self-role", fo.role + ", " + fo.mode);
  fill("#partner-name", fo.partner_name || "partner");
  const pv = st.vrrp.map((v) => partnerVRRP(v, fo.link_up));
  $("#partner").classList.toggle("master", pv.includes("MASTER"));
  fill("#partner-vrrp", ...(st.vrrp.length ? st.vrrp.map((v, i) => el("div", {},
    v.instance + ": ", stateSpan(pv[i]), pv[i] === "MASTER" ? " · " + v.master : "")) : ["—"]));
  const pf = [stateSpan(fo.partner_state)];
  if (!fo.link_up && fo.partner_last_state && fo.partner_last_state !== "UNKNOWN") {
    pf.push(" · last said " + fo.partner_last_state + (ago(fo.partner_last_seen) ? ", link lost " + ago(fo.partner_last_seen) : ""));
  }
  fill("#partner-failover", ...pf);
  fill("#partner-role", fo.role === "primary" ? "secondary" : "primary");
  if (fo.link_up) {
    fill("#link", "Sync link: ", stateSpan("up"), " · replication lag " + fo.unacked_updates +
      " update" + (fo.unacked_updates === 1 ? "" : "s") + " unacknowledged · clock skew " + fo.skew_seconds.toFixed(3) + " s");
  } else {
    fill("#link", "Sync link: ", el("span", { class: "st down" }, "down"),
      ago(fo.partner_last_seen) ? " since " + ago(fo.partner_last_seen) : "",
      " · " + fo.unacked_updates + " updates waiting for the partner");
  }
}

function renderPools(pools) {
  const rows = pools.map((p) => {
    const pct = (100 * p.utilization);
    const backupPct = p.total ? 100 * p.backup / p.total : 0;
    const bar = el("div", { class: "bar" + (pct >= 90 ? " high" : ""), role: "meter", "aria-valuemin": "0",
      "aria-valuemax": String(p.total), "aria-valuenow": String(p.active), "aria-label": "utilisation of " + p.pool });
    const f = el("div", { class: "fill" });
    f.style.width = pct.toFixed(1) + "%";
    const b = el("div", { class: "backup", title: "the secondary's BACKUP share" });
    b.style.width = backupPct.toFixed(1) + "%";
    bar.append(f, b);
    const other = p.expired + p.released + p.abandoned;
    return el("tr", { "data-pool": p.pool },
      el("td", {}, p.pool),
      el("td", {}, el("div", { class: "util" }, bar, el("span", { class: "pct" }, pct.toFixed(1) + " % (" + p.active + " / " + p.total + ")"))),
      el("td", {}, p.active), el("td", {}, p.free), el("td", {}, p.backup), el("td", {}, other));
  });
  fill("#pools tbody", ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "6" }, "no pools"))]));
}

async function refresh() {
  try {
    const [st, pools] = await Promise.all([apiJSON("/v1/status"), apiJSON("/v1/pools")]);
    $("#login").hidden = true;
    $("#main").hidden = false;
    $("#error").hidden = true;
    renderStatus(st);
    renderPools(pools.pools);
    $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    if (e instanceof Unauthorized) { showLogin(token() ? "The token was refused." : ""); return; }
    $("#error").hidden = false;
    $("#error").textContent = "This box does not answer: " + e.message;
  }
}

// Lease search: an address or network goes to ip=, a MAC (six bytes) to
// hw_address=, other colon hex to client_id=.
function searchQuery(q, state) {
  const p = new URLSearchParams({ limit: "100" });
  q = q.trim();
  if (/^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(q)) p.set("ip", q);
  else if (/^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i.test(q)) p.set("hw_address", q.replace(/-/g, ":"));
  else if (/^([0-9a-f]{2}:)+[0-9a-f]{2}$/i.test(q)) p.set("client_id", q);
  else if (q !== "") return null;
  if (state) p.set("state", state);
  return "/v1/leases?" + p.toString();
}

async function search(ev) {
  ev.preventDefault();
  const url = searchQuery($("#q").value, $("#state").value);
  if (!url) { $("#search-note").textContent = "Not an address, a network, a MAC or a client id."; return; }
  try {
    const page = await apiJSON(url);
    const rows = page.leases.map((l) => el("tr", {},
      el("td", {}, l.ip), el("td", {}, l.state), el("td", {}, l.hw_address || ""), el("td", {}, l.client_id || ""),
      el("td", {}, l.hostname || ""), el("td", {}, l.expiry && !l.expiry.startsWith("0001-") ? new Date(l.expiry).toLocaleString() : "")));
    fill("#leases tbody", ...rows);
    $("#leases").hidden = rows.length === 0;
    $("#search-note").textContent = rows.length ? rows.length + " lease" + (rows.length === 1 ? "" : "s") +
      (page.next ? " (more: narrow the search)" : "") : "No lease matches.";
  } catch (e) {
    if (e instanceof Unauthorized) { showLogin("The token was refused."); return; }
    $("#search-note").textContent = e.message;
  }
}

function describe(ev) {
  switch (ev.type) {
    case "lease":
      return ev.action + " " + ev.ip + (ev.hw_address ? " to " + ev.hw_address : "") +
        (ev.hostname ? " (" + ev.hostname + ")" : "") + (ev.relay ? " via relay " + ev.relay : "") + (ev.by ? " by " + ev.by : "");
    case "vrrp":
      return "VRRP " + ev.instance + ": " + ev.from + " → " + ev.to + (ev.reason ? " (" + ev.reason + ")" : "");
    case "failover":
      return "failover" + (ev.relationship ? " " + ev.relationship : "") + ": " + ev.from + " → " + ev.to + (ev.reason ? " (" + ev.reason + ")" : "");
  }
  return JSON.stringify(ev);
}

function addEvent(ev) {
  const list = $("#events");
  const li = el("li", { "data-type": ev.type }, el("time", { datetime: ev.time }, new Date(ev.time).toLocaleTimeString()),
    "[" + ev.box + "] " + describe(ev));
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}

// The event stream with fetch (EventSource cannot send the token): parse
// the server-sent events as they arrive; reconnect after the last seen.
async function followEvents() {
  let since = 0;
  for (;;) {
    try {
      const resp = await api("/v1/events?" + (since ? "since=" + since : "recent=20"));
      if (!resp.ok) throw new Error(resp.statusText);
      $("#events-state").textContent = "(live)";
      const rd = resp.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await rd.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          const name = (frame.split("\n").find((l) => l.startsWith("event: ")) || "").slice(7);
          if (!data || name === "dropped") continue;
          const ev = JSON.parse(data);
          since = ev.seq;
          addEvent(ev);
        }
      }
    } catch (e) {
      if (e instanceof Unauthorized) return;
    }
    $("#events-state").textContent = "(reconnecting)";
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function start() {
  takeTokenFromHash();
  $("#login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("#token").value.trim());
    $("#token").value = "";
    refresh().then(() => { if (!$("#main").hidden) followEvents(); });
  });
  $("#search").addEventListener("submit", search);
  refresh().then(() => { if (!$("#main").hidden) followEvents(); });
  setInterval(() => { if (!$("#main").hidden) refresh(); }, REFRESH_MS);
}

start();
