"use strict";
// The Punchcard console: what every view shares. The API key (kept in this tab's
// sessionStorage), calls to /v1/ with it, the router (#view/arg in the address), and the
// builders of what is shown: el() makes DOM nodes and turns every string into a text node,
// never markup, so member ids, mechanic names and messages from anywhere are shown as
// typed. No innerHTML anywhere in the console.
const PC = (() => {
  const KEY = "punchcard.console.key";
  const SVGNS = "http://www.w3.org/2000/svg";
  const views = {};
  let key = null;

  // Appends kids (nodes, strings, numbers, arrays of them; null and false skipped) to node.
  function append(node, kids) {
    for (const k of kids) {
      if (k === null || k === undefined || k === false) continue;
      if (Array.isArray(k)) append(node, k);
      else if (k instanceof Node) node.appendChild(k);
      else node.appendChild(document.createTextNode(String(k)));
    }
    return node;
  }

  // el("td", {class: "num"}, "12"): attributes are set as attributes ("on..." refused).
  function make(node, attrs, kids) {
    for (const [name, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (/^on/i.test(name)) throw new Error("no inline handlers");
      node.setAttribute(name, v === true ? "" : String(v));
    }
    return append(node, kids);
  }
  const el = (tag, attrs, ...kids) => make(document.createElement(tag), attrs, kids);
  const svg = (tag, attrs, ...kids) => make(document.createElementNS(SVGNS, tag), attrs, kids);

  // "12,345"; "-" for null; numbers that are not integers with 2 decimals.
  function num(n) {
    if (n === null || n === undefined) return "-";
    if (typeof n !== "number") return String(n);
    return Number.isInteger(n) ? n.toLocaleString("en-US") : n.toLocaleString("en-US", { maximumFractionDigits: 2 });
  }
  const pct = (r) => (r === null || r === undefined ? "-" : (100 * r).toFixed(1) + "%");
  const signed = (n) => (n > 0 ? "+" + num(n) : num(n));

  // A table: cols [{title, key or get(row), num?: right-aligned}], one row per item.
  function table(cols, rows, attrs) {
    return el("table", attrs || {},
      el("thead", {}, el("tr", {}, cols.map((c) => el("th", c.num ? { class: "num" } : {}, c.title)))),
      el("tbody", {}, rows.map((r) => el("tr", {}, cols.map((c) => {
        const v = c.get ? c.get(r) : r[c.key];
        return el("td", c.num ? { class: "num" } : {}, v instanceof Node ? v : c.num ? num(v) : v ?? "-");
      })))));
  }

  // A definition list of [term, value] pairs.
  const facts = (pairs, attrs) =>
    el("dl", attrs || { class: "facts" }, pairs.map(([t, v]) => [el("dt", {}, t), el("dd", {}, v ?? "-")]));

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // GET /v1/PATH with the key; the JSON answer, or throws ApiError with punchd's error.
  async function api(path, k) {
    const headers = { Accept: "application/json" };
    const use = k === undefined ? key : k;
    if (use) headers.Authorization = "Bearer " + use;
    let res;
    try {
      res = await fetch("/v1" + path, { headers, cache: "no-store", credentials: "omit" });
    } catch (e) {
      throw new ApiError(0, "unreachable", "punchd did not answer: " + e.message);
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      throw new ApiError(res.status, "bad_answer", "punchd answered " + res.status + " with no JSON");
    }
    if (!res.ok) {
      const e = (body && body.error) || {};
      throw new ApiError(res.status, e.code || "error", e.message || "HTTP " + res.status);
    }
    return body;
  }
  const seg = (s) => encodeURIComponent(s);

  function showError(msg) {
    const p = document.getElementById("error");
    p.textContent = msg || "";
    p.hidden = !msg;
  }

  // A heading and a small form of named inputs; go(values) when sent.
  function askForm(fields, button, go) {
    const inputs = {};
    const form = el("form", { class: "ask" },
      fields.map((f) => {
        inputs[f.name] = el("input", { name: f.name, id: "ask-" + f.name, placeholder: f.placeholder || f.name, value: f.value ?? "", size: f.size || 24, type: f.type || "text" });
        return el("label", {}, f.label + " ", inputs[f.name]);
      }),
      el("button", { type: "submit" }, button));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = {};
      for (const [n, i] of Object.entries(inputs)) v[n] = i.value.trim();
      go(v);
    });
    return form;
  }

  function parseHash() {
    const h = location.hash.replace(/^#/, "");
    const [name, ...rest] = h.split("/");
    let arg = null;
    try {
      arg = rest.length ? decodeURIComponent(rest.join("/")) : null;
    } catch {
      arg = null;
    }
    return { name: views[name] ? name : "mechanics", arg };
  }
  const go = (name, arg) => {
    location.hash = "#" + name + (arg ? "/" + seg(arg) : "");
  };

  let rendering = 0;
  async function route() {
    const { name, arg } = parseHash();
    const root = document.getElementById("view");
    const mine = ++rendering;
    showError("");
    for (const a of document.querySelectorAll("#nav a"))
      a.classList.toggle("current", a.getAttribute("href") === "#" + name);
    root.replaceChildren(el("p", { class: "muted" }, "Loading…"));
    try {
      const node = await views[name](arg);
      if (mine === rendering) root.replaceChildren(node);
    } catch (e) {
      if (mine !== rendering) return;
      root.replaceChildren();
      if (e instanceof ApiError && e.status === 401) return signOut("The key was refused: " + e.message);
      showError(e instanceof ApiError ? `${e.code}: ${e.message}` : String(e && e.message ? e.message : e));
    }
  }

  function signOut(msg) {
    key = null;
    sessionStorage.removeItem(KEY);
    document.getElementById("nav").hidden = true;
    document.getElementById("view").replaceChildren();
    document.getElementById("login").hidden = false;
    const p = document.getElementById("login-error");
    p.textContent = msg || "";
    p.hidden = !msg;
    document.getElementById("key").focus();
  }

  // Tries k on GET /v1/mechanics; keeps it and opens the console when punchd takes it.
  async function signIn(k) {
    try {
      await api("/mechanics", k);
    } catch (e) {
      return signOut(e.status === 401 || e.status === 403
        ? `The key was refused (${e.status} ${e.code}): ${e.message}`
        : `${e.code}: ${e.message}`);
    }
    key = k;
    sessionStorage.setItem(KEY, k);
    document.getElementById("login").hidden = true;
    document.getElementById("login-error").hidden = true;
    document.getElementById("nav").hidden = false;
    route();
  }

  function start() {
    const report = document.getElementById("punch-report");
    if (report) return PC.standaloneReport(report); // a `punch simulate --html` file
    document.getElementById("login").addEventListener("submit", (ev) => {
      ev.preventDefault();
      signIn(document.getElementById("key").value.trim());
    });
    document.getElementById("signout").addEventListener("click", () => signOut(""));
    window.addEventListener("hashchange", () => key !== null && route());
    const kept = sessionStorage.getItem(KEY);
    if (kept === null) signOut("");
    else signIn(kept);
  }
  document.addEventListener("DOMContentLoaded", start);

  return { el, svg, num, pct, signed, table, facts, api, seg, askForm, go, views, showError, ApiError };
})();
