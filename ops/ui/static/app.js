// Porta's console: one document, its pages drawn from the management API (/api/v1) on hash routes.
// Plain JavaScript, no framework, nothing fetched from another origin. Every text from the API
// goes into the page as text (textContent), never as markup.
"use strict";

(function () {
  const API = "/api/v1";
  const state = {
    lang: localStorage.getItem("porta.lang") === "en" ? "en" : "it",
    me: null,        // {name, role, csrf} once signed in
  };

  // ---- words ----------------------------------------------------------------------------------

  function t(key, vars) {
    const d = window.PORTA_I18N;
    let s = (d[state.lang] && d[state.lang][key]) || d.it[key] || key;
    if (vars) {
      for (const k of Object.keys(vars)) s = s.split("{" + k + "}").join(String(vars[k]));
    }
    return s;
  }

  function egovMeaning(code) {
    const d = window.PORTA_EGOV;
    return (d[state.lang] && d[state.lang][code]) || d.it[code] || "";
  }

  function applyStatic() {
    document.documentElement.lang = state.lang;
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    const lang = document.getElementById("lang");
    lang.textContent = state.lang === "it" ? "EN" : "IT";
    lang.lang = state.lang === "it" ? "en" : "it";
    lang.setAttribute("aria-label", t("lang.switch"));
  }

  // ---- DOM ------------------------------------------------------------------------------------

  // h builds an element: h("a", {href: "#/x", class: "c", onclick: fn}, "text", child, ...).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    append(el, children);
    return el;
  }
  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const SVG = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  function main() { return document.getElementById("main"); }

  function page(title, ...children) {
    const m = main();
    m.replaceChildren(h("h1", {}, title));
    append(m, children);
    document.title = title + " · Porta";
    return m;
  }

  function toast(msg, bad) {
    const el = document.getElementById("toast");
    el.textContent = msg;
    el.className = bad ? "show bad" : "show";
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { el.className = ""; }, 5000);
  }

  function fmtTime(v) {
    if (!v) return "";
    const d = new Date(v);
    if (isNaN(d)) return String(v);
    return d.toLocaleString(state.lang === "it" ? "it-IT" : "en-GB", { dateStyle: "short", timeStyle: "medium" });
  }

  function outcomeBadge(o) {
    const bad = /error|expired|fail|reject|refused/i.test(o || "");
    return h("span", { class: "badge " + (bad ? "bad" : "ok") }, o || "");
  }

  // table draws rows as a table with a header row; cols are [label, cell(row)] pairs. On a phone
  // each cell shows its column's label (data-label), the table reads as a list of cards.
  function table(caption, cols, rows, opts) {
    const thead = h("thead", {}, h("tr", {}, cols.map(c => h("th", { scope: "col" }, c[0]))));
    const tbody = h("tbody", {}, rows.map(r => h("tr", (opts && opts.rowAttrs) ? opts.rowAttrs(r) : {},
      cols.map(c => h("td", { "data-label": c[0] }, c[1](r))))));
    return h("div", { class: "tablewrap" }, h("table", { class: "list" }, h("caption", { class: "sr" }, caption || ""), thead, tbody));
  }

  function dl(pairs) {
    return h("dl", { class: "fields" }, pairs.filter(p => p[1] !== undefined && p[1] !== null && p[1] !== "").map(p => [h("dt", {}, p[0]), h("dd", {}, p[1])]));
  }

  function mono(v) { return v ? h("span", { class: "mono" }, v) : ""; }

  function field(label, input) {
    const id = "f-" + (input.name || input.id);
    input.id = id;
    return h("div", { class: "field" }, h("label", { for: id }, label), input);
  }

  // ---- API ------------------------------------------------------------------------------------

  class APIError extends Error {
    constructor(status, msg) { super(msg); this.status = status; }
  }

  async function api(method, path, body, accept) {
    const headers = { "Accept": accept || "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && state.me && state.me.csrf) headers["X-CSRF-Token"] = state.me.csrf;
    const res = await fetch(API + path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401 && path !== "/session" && path !== "/login") {
      state.me = null;
      showUser();
      toast(t("error.session"), true);
      go("#/login?next=" + encodeURIComponent(location.hash));
      throw new APIError(401, t("error.session"));
    }
    const type = res.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await res.json().catch(() => null) : await res.text();
    if (!res.ok) {
      const msg = res.status === 403 ? t("error.forbidden") : ((data && (data.message || data.error)) || (typeof data === "string" && data) || res.statusText);
      throw new APIError(res.status, msg);
    }
    return data;
  }

  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") u.set(k, v);
    const s = u.toString();
    return s ? "?" + s : "";
  }

  function may(action) {
    const r = state.me && state.me.role;
    return action === "write" ? (r === "operator" || r === "admin") : !!r;
  }

  // ---- routing --------------------------------------------------------------------------------

  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  function parseHash() {
    const raw = location.hash.replace(/^#/, "") || "/transactions";
    const [path, query] = raw.split("?");
    return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query || "") };
  }

  const routes = {
    login: pageLogin,
    transactions: (p, params) => p[1] ? pageDetail(p[1]) : pageSearch(params),
    failures: (p, params) => pageFailures(p, params),
    outbox: (p, params) => pageOutbox(params),
    stats: (p, params) => pageStats(params),
    jobs: pageJobs,
    registry: pageRegistry,
  };

  // routing counts route() calls: a page's load that resolves after a newer route began is
  // stale, and must not draw over the newer page (a search submitted while the first list loads).
  let routing = 0;
  const stale = new Error("stale route");

  // load GETs a page's data for the route that asked, or throws stale once a newer route began.
  async function load(path) {
    const my = routing;
    const data = await api("GET", path);
    if (my !== routing) throw stale;
    return data;
  }

  async function route() {
    const my = ++routing;
    const { parts, params } = parseHash();
    const name = parts[0] || "transactions";
    if (!state.me && name !== "login") {
      if (!(await whoami())) { go("#/login?next=" + encodeURIComponent(location.hash || "#/transactions")); return; }
    }
    if (my !== routing) return;
    for (const a of document.querySelectorAll("#navlinks a")) {
      if (a.getAttribute("href") === "#/" + name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    closeMenu();
    const fn = routes[name] || routes.transactions;
    const hash = location.hash;
    delete main().dataset.drawn;
    main().replaceChildren(h("p", { class: "loading" }, t("loading")));
    try {
      await fn(parts, params);
      // data-drawn names the hash whose page is complete (for tests and assistive tools).
      if (my === routing) main().dataset.drawn = hash;
    } catch (e) {
      if (e.status === 401 || e === stale) return;
      for (const el of main().querySelectorAll(".loading")) el.remove();
      main().append(h("p", { class: "error", role: "alert" }, t("error.generic", { msg: e.message })));
    }
  }

  // session turns the API's Session into the console's {name, role, csrf}.
  function session(s) {
    return s ? { name: s.operator, role: s.role, csrf: s.csrf_token, node: s.node } : null;
  }

  async function whoami() {
    try {
      state.me = session(await api("GET", "/session"));
    } catch (e) {
      state.me = null;
    }
    showUser();
    return !!state.me;
  }

  function showUser() {
    const me = state.me;
    document.getElementById("nav").hidden = !me;
    document.getElementById("logout").hidden = !me;
    document.getElementById("user").textContent = me ? me.name + " (" + t("role." + me.role) + ")" : "";
  }

  function closeMenu() {
    document.getElementById("navlinks").classList.remove("open");
    document.getElementById("menu").setAttribute("aria-expanded", "false");
  }

  // ---- login ----------------------------------------------------------------------------------

  function pageLogin(parts, params) {
    const name = h("input", { name: "name", autocomplete: "username", required: true, autocapitalize: "none" });
    const pw = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
    const msg = h("p", { class: "error", role: "alert" });
    const form = h("form", { class: "login", onsubmit: async ev => {
      ev.preventDefault();
      msg.textContent = "";
      try {
        state.me = session(await api("POST", "/login", { name: name.value, password: pw.value }));
        showUser();
        const next = params.get("next");
        go(next && next.startsWith("#/") && !next.startsWith("#/login") ? next : "#/transactions");
      } catch (e) {
        msg.textContent = e.status === 401 ? t("login.failed") : t("error.generic", { msg: e.message });
        pw.value = "";
        pw.focus();
      }
    } },
      field(t("login.name"), name), field(t("login.password"), pw), msg,
      h("button", { type: "submit", class: "primary" }, t("login.submit")));
    page(t("login.title"), form);
    name.focus();
  }

  // ---- search ---------------------------------------------------------------------------------

  const OUTCOMES = ["sent", "received", "delivered", "acked", "queued", "duplicate", "error", "expired", "refused"];

  async function pageSearch(params) {
    const inputs = {
      cf: h("input", { name: "cf", value: params.get("cf") || "", autocapitalize: "characters", spellcheck: "false", maxlength: "16", inputmode: "text" }),
      id: h("input", { name: "id", value: params.get("id") || "", spellcheck: "false" }),
      party: h("input", { name: "party", value: params.get("party") || "" }),
      service: h("input", { name: "service", value: params.get("service") || "" }),
      action: h("input", { name: "action", value: params.get("action") || "" }),
      outcome: h("select", { name: "outcome" }, h("option", { value: "" }, t("any")),
        OUTCOMES.map(o => h("option", { value: o, selected: params.get("outcome") === o }, o))),
      from: h("input", { name: "from", type: "datetime-local", value: toLocalInput(params.get("from")) }),
      to: h("input", { name: "to", type: "datetime-local", value: toLocalInput(params.get("to")) }),
    };
    const form = h("form", { class: "filters", role: "search", onsubmit: ev => {
      ev.preventDefault();
      const q = {};
      for (const [k, el] of Object.entries(inputs)) {
        let v = el.value.trim();
        if (k === "cf") v = v.toUpperCase();
        if ((k === "from" || k === "to") && v) v = new Date(v).toISOString();
        if (v) q[k] = v;
      }
      go("#/transactions" + qs(q));
    } },
      field(t("search.cf"), inputs.cf), field(t("search.id"), inputs.id), field(t("search.party"), inputs.party),
      field(t("search.service"), inputs.service), field(t("search.action"), inputs.action),
      field(t("search.outcome"), inputs.outcome), field(t("search.from"), inputs.from), field(t("search.to"), inputs.to),
      h("div", { class: "buttons" },
        h("button", { type: "submit", class: "primary" }, t("search.submit")),
        h("button", { type: "button", onclick: () => go("#/transactions") }, t("search.reset"))));
    page(t("search.title"), form, h("p", { class: "loading" }, t("loading")));

    const q = {};
    for (const k of ["cf", "id", "party", "service", "action", "outcome", "from", "to", "cursor"]) if (params.get(k)) q[k] = params.get(k);
    const res = await load("/transactions" + qs(q));
    const items = res.items || [];
    const out = [];
    if (!items.length) out.push(h("p", { class: "empty" }, t("search.none")));
    else {
      out.push(h("p", { class: "count" }, t("search.count", { n: items.length })));
      out.push(table(t("search.title"), [
        [t("col.time"), r => h("time", { datetime: r.time }, fmtTime(r.time))],
        [t("col.id"), r => h("a", { href: "#/transactions/" + encodeURIComponent(r.key), class: "mono" }, r.id)],
        [t("col.direction"), r => t("dir." + r.direction)],
        [t("col.sender"), r => r.sender],
        [t("col.receiver"), r => r.receiver],
        [t("col.service"), r => r.service],
        [t("col.action"), r => r.action],
        [t("col.outcome"), r => outcomeBadge(r.outcome)],
      ], items));
    }
    const nav = h("div", { class: "pager" });
    if (params.get("cursor")) {
      const first = Object.assign({}, q); delete first.cursor;
      nav.append(h("a", { href: "#/transactions" + qs(first), class: "button" }, t("search.first")));
    }
    if (res.next_cursor) {
      const next = Object.assign({}, q, { cursor: res.next_cursor });
      nav.append(h("a", { href: "#/transactions" + qs(next), class: "button", rel: "next" }, t("search.more")));
    }
    out.push(nav);
    main().querySelector(".loading").replaceWith(...out);
  }

  function toLocalInput(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return "";
    const p = n => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes());
  }

  // ---- detail ---------------------------------------------------------------------------------

  async function pageDetail(id) {
    const d = await load("/transactions/" + encodeURIComponent(id));
    const r = d.record || {};
    const parts = [];
    parts.push(h("p", {}, h("a", { href: "#/transactions" }, "← " + t("detail.back"))));

    parts.push(h("section", { "aria-labelledby": "s-header" }, h("h2", { id: "s-header" }, t("detail.header")), dl([
      [t("col.id"), mono(r.id)],
      [t("col.sender"), r.sender],
      [t("col.receiver"), r.receiver],
      [t("col.service"), r.service],
      [t("col.action"), r.action],
      [t("detail.profile"), r.profile],
      [t("detail.relatesTo"), r.relates_to],
      [t("detail.conversation"), r.conversation],
      [t("col.time"), fmtTime(r.time)],
      [t("detail.recorded"), fmtTime(r.recorded)],
      [t("col.direction"), t("dir." + r.direction)],
      [t("col.function"), r.function],
      [t("col.outcome"), outcomeBadge(r.outcome)],
      [t("detail.transaction"), mono(r.transaction)],
      [t("detail.peer"), r.peer],
      [t("detail.httpStatus"), r.http_status],
      [t("detail.signer"), r.signer ? h("span", { class: "mono wrap" }, r.signer) : ""],
      [t("detail.detail"), r.detail],
      [t("detail.duration"), d.timings && d.exchange && d.exchange.length > 1 ? num(d.timings.total_ms) + " ms" : ""],
      [t("detail.chain"), chainText(d.chain)],
    ])));

    const exc = r.exceptions || [];
    parts.push(h("section", { "aria-labelledby": "s-exc" }, h("h2", { id: "s-exc" }, t("detail.exceptions")),
      exc.length ? table(t("detail.exceptions"), [
        ["codiceEccezione", e => h("span", { class: "mono" }, e.code)],
        [t("detail.meaning"), e => egovMeaning(e.code) || e.meaning || ""],
        [t("detail.severity"), e => e.severity],
        [t("detail.position"), e => e.position],
        [t("detail.context"), e => e.context],
      ], exc) : h("p", {}, t("detail.noExceptions"))));

    parts.push(payloadSection(r, d.header, d.body || {}));

    // The path: every record of this exchange at this node, oldest first: what the gateway sent
    // to the other and what came back (the other gateway's own records are in its console).
    const path = d.exchange || [];
    const offset = new Map(((d.timings && d.timings.steps) || []).map(st => [st.key, st.offset_ms]));
    parts.push(h("section", { "aria-labelledby": "s-path" }, h("h2", { id: "s-path" }, t("detail.path")),
      h("p", { class: "note" }, t("detail.pathNote", { node: r.node })),
      path.length ? h("ol", { class: "path" }, path.map(p => h("li", { class: p.key === r.key ? "here" : "", "aria-current": p.key === r.key ? "step" : false },
        h("span", { class: "offset" }, "+" + num(offset.get(p.key) || 0) + " ms"), " ",
        outcomeBadge(p.outcome), " ",
        h("strong", {}, p.sender + " → " + p.receiver), " · ",
        (p.function === "PortaDelegata" ? "PD" : p.function === "PortaApplicativa" ? "PA" : (p.function || "")) + " " + t("dir." + p.direction) + " · ",
        (p.service ? p.service + (p.action ? "/" + p.action : "") + " · " : ""),
        h("a", { href: "#/transactions/" + encodeURIComponent(p.key), class: "mono" }, p.id),
        p.relates_to && p.relates_to !== p.id ? [" ", h("span", { class: "note" }, t("detail.relatesTo") + ": "), mono(p.relates_to)] : "",
        p.detail ? h("div", { class: "note" }, p.detail) : ""))) : h("p", {}, t("detail.pathNone"))));

    page(t("detail.title", { id: r.id }), parts);
  }

  function chainText(c) {
    if (!c) return "";
    const v = { seq: c.seq, node: c.node };
    if (c.verifies === true) return h("span", { class: "badge ok" }, t("detail.chainOK", v));
    if (c.verifies === false) return h("span", { class: "badge bad" }, t("detail.chainBad", v) + (c.problem ? ": " + c.problem : ""));
    return t("detail.chainPos", v);
  }

  // payloadSection shows the stored envelope when the role may see it, else the busta's header
  // (kept in every body mode), pretty-printed, with a download of exactly what the API gave.
  function payloadSection(r, header, body) {
    const sec = h("section", { "aria-labelledby": "s-body" }, h("h2", { id: "s-body" }, t("detail.payload")));
    const text = body.visible && body.envelope ? body.envelope : "";
    if (!text) {
      sec.append(h("p", { class: "note" }, t("detail.noBody", { mode: body.mode || "none" }), body.reason ? h("span", { lang: "en" }, " — " + body.reason) : ""));
    }
    const shown = text || header || "";
    if (!shown) return sec;
    const blob = new Blob([shown], { type: "application/xml" });
    sec.append(h("p", {}, h("a", { class: "button", href: URL.createObjectURL(blob), download: (r.id || "busta") + (text ? ".xml" : "-intestazione.xml") }, t("detail.download"))),
      h("pre", { class: "payload", tabindex: "0", "aria-label": t("detail.payload") }, h("code", {}, prettyXML(shown))));
    return sec;
  }

  // prettyXML indents an XML document for reading; what does not parse is shown as it is.
  function prettyXML(src) {
    const doc = new DOMParser().parseFromString(src, "application/xml");
    if (doc.getElementsByTagName("parsererror").length) return src;
    const out = [];
    const esc = v => v.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");
    function walk(n, depth) {
      const pad = "  ".repeat(depth);
      if (n.nodeType === Node.TEXT_NODE || n.nodeType === Node.CDATA_SECTION_NODE) {
        const v = n.nodeValue.trim();
        if (v) out.push(pad + esc(v));
        return;
      }
      if (n.nodeType === Node.COMMENT_NODE) { out.push(pad + "<!--" + n.nodeValue + "-->"); return; }
      if (n.nodeType !== Node.ELEMENT_NODE) return;
      const attrs = Array.from(n.attributes).map(a => " " + a.name + '="' + esc(a.value) + '"').join("");
      const kids = Array.from(n.childNodes).filter(c => c.nodeType !== Node.TEXT_NODE || c.nodeValue.trim());
      if (!kids.length) { out.push(pad + "<" + n.nodeName + attrs + "/>"); return; }
      if (kids.length === 1 && kids[0].nodeType === Node.TEXT_NODE) {
        out.push(pad + "<" + n.nodeName + attrs + ">" + esc(kids[0].nodeValue.trim()) + "</" + n.nodeName + ">");
        return;
      }
      out.push(pad + "<" + n.nodeName + attrs + ">");
      for (const c of kids) walk(c, depth + 1);
      out.push(pad + "</" + n.nodeName + ">");
    }
    walk(doc.documentElement, 0);
    return out.join("\n");
  }

  // ---- failures -------------------------------------------------------------------------------

  async function pageFailures(parts, params) {
    const st = ["open", "resolved", "all"].includes(params.get("status")) ? params.get("status") : "open";
    const tabs = h("div", { class: "tabs", role: "group", "aria-label": t("failures.status") },
      ["open", "resolved", "all"].map(v => h("a", { href: "#/failures?status=" + v, class: "button" + (v === st ? " primary" : ""), "aria-current": v === st ? "true" : false }, t("failures." + v))));
    const res = await load("/failures" + qs({ status: st }));
    const items = res.items || [];
    page(t("failures.title"), tabs, items.length ? table(t("failures.title"), [
      [t("col.created"), f => fmtTime(f.at)],
      [t("col.source"), f => f.source],
      [t("col.kind"), f => f.kind],
      [t("col.record"), f => h("span", { class: "mono" }, f.record || "")],
      [t("col.field"), f => f.field],
      [t("col.rule"), f => f.rule],
      [t("col.reason"), f => f.reason],
      [t("col.state"), f => f.status],
    ], items) : h("p", { class: "empty" }, t("failures.none")));
  }

  // ---- outbox ---------------------------------------------------------------------------------

  async function pageOutbox(params) {
    const st = params.get("state") === "pending" ? "pending" : "failed";
    const tabs = h("div", { class: "tabs", role: "group", "aria-label": t("outbox.state") },
      ["failed", "pending"].map(v => h("a", { href: "#/outbox?state=" + v, class: "button" + (v === st ? " primary" : ""), "aria-current": v === st ? "true" : false }, t("outbox." + v))));
    const res = await load("/outbox" + qs({ state: st }));
    const items = res.items || [];
    const cols = [
      [t("col.created"), it => fmtTime(it.created)],
      [t("col.id"), it => h("a", { href: "#/transactions/" + encodeURIComponent(it.msg_id), class: "mono" }, it.msg_id)],
      [t("col.receiver"), it => it.party],
      [t("col.service"), it => it.service],
      [t("col.attempts"), it => String(it.attempts)],
      [t("col.lastError"), it => it.last_error],
    ];
    if (st === "failed" && may("write")) {
      cols.push([t("col.actions"), it => h("button", { type: "button", class: "primary requeue", "data-id": it.msg_id, onclick: async ev => {
        ev.target.disabled = true;
        try {
          await api("POST", "/outbox/" + encodeURIComponent(it.msg_id) + "/requeue");
          toast(t("outbox.requeued", { id: it.msg_id }));
          route();
        } catch (e) {
          ev.target.disabled = false;
          if (e.status !== 401) toast(e.message, true);
        }
      } }, t("outbox.requeue"))]);
    }
    page(t("outbox.title"), tabs,
      st === "failed" && !may("write") ? h("p", { class: "note" }, t("outbox.viewer")) : null,
      items.length ? table(t("outbox.title") + " · " + t("outbox." + st), cols, items, { rowAttrs: it => ({ "data-msg": it.msg_id }) }) : h("p", { class: "empty" }, t("outbox.none")));
  }

  // ---- stats ----------------------------------------------------------------------------------

  async function pageStats(params) {
    const by = ["service", "party", "outcome"].includes(params.get("by")) ? params.get("by") : "service";
    const interval = ["hour", "day", "month"].includes(params.get("interval")) ? params.get("interval") : "hour";
    const bySel = h("select", { name: "by" }, ["service", "party", "outcome"].map(v => h("option", { value: v, selected: v === by }, t("by." + v))));
    const ivSel = h("select", { name: "interval" }, ["hour", "day", "month"].map(v => h("option", { value: v, selected: v === interval }, t("interval." + v))));
    const day = /^\d{4}-\d{2}-\d{2}$/;
    const from = h("input", { name: "sfrom", type: "date", value: day.test(params.get("from") || "") ? params.get("from") : "" });
    const to = h("input", { name: "sto", type: "date", value: day.test(params.get("to") || "") ? params.get("to") : "" });
    const form = h("form", { class: "filters", onsubmit: ev => { ev.preventDefault(); go("#/stats" + qs({ by: bySel.value, interval: ivSel.value, from: from.value, to: to.value })); } },
      field(t("stats.by"), bySel), field(t("stats.interval"), ivSel), field(t("search.from"), from), field(t("search.to"), to),
      h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, t("stats.show"))));
    const q = { by, interval, from: params.get("from"), to: params.get("to") };
    const res = await load("/stats" + qs(q));
    const series = statSeries(res);
    const csv = h("button", { type: "button", onclick: async () => {
      try {
        const text = await api("GET", "/stats" + qs(q), undefined, "text/csv");
        const a = h("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: "porta-stats-" + by + "-" + interval + ".csv" });
        document.body.append(a); a.click(); a.remove();
      } catch (e) { if (e.status !== 401) toast(e.message, true); }
    } }, t("stats.csv"));
    if (!series.length) { page(t("stats.title"), form, h("p", { class: "empty" }, t("stats.none"))); return; }
    page(t("stats.title"), form, h("div", { class: "buttons" }, csv), h("div", { class: "charts" },
      chart(t("stats.volume"), series, p => p.count, interval),
      chart(t("stats.errors"), series, p => 100 * (p.error_rate !== undefined ? p.error_rate : (p.count ? (p.errors || 0) / p.count : 0)), interval),
      chart(t("stats.latency"), series, p => p.p95_ms || 0, interval)),
      h("details", {}, h("summary", {}, t("stats.table")), table(t("stats.table"), [
        [t("col.bucket"), r => fmtTime(r.bucket)],
        [t("by." + by), r => r.key || t("stats.nokey")],
        [t("col.count"), r => String(r.count)],
        [t("col.errors"), r => String(r.errors || 0)],
        [t("col.p50"), r => num(r.p50_ms)],
        [t("col.p95"), r => num(r.p95_ms)],
        [t("col.p99"), r => num(r.p99_ms)],
      ], series.flatMap(se => se.points.map(p => Object.assign({ key: se.key }, p))))));
  }

  function num(v) { return v === undefined || v === null ? "" : (Math.round(v * 10) / 10).toString(); }

  // statSeries groups the API's rows ({bucket, key, count, errors, p50_ms, p95_ms, p99_ms}) into
  // one series per key, each sorted by time.
  function statSeries(res) {
    const rows = (res.rows || []).map(r => Object.assign({ time: r.bucket }, r));
    const by = new Map();
    for (const r of rows) {
      if (!by.has(r.key)) by.set(r.key, []);
      by.get(r.key).push(r);
    }
    return Array.from(by, ([key, points]) => ({ key, points: points.sort((a, b) => new Date(a.time) - new Date(b.time)) }));
  }

  const PALETTE = ["#1b5e9b", "#c0392b", "#2e7d32", "#8e44ad", "#d35400", "#00838f", "#6d4c41", "#5d6d7e", "#ad1457", "#827717"];

  // chart draws one SVG chart of value(point) over time, one colour per series, with axes, a
  // legend and a <title> per mark for the exact value: lines when there are many buckets, grouped
  // bars when there are few (a day's demo fits in one hour).
  function chart(title, series, value, interval) {
    const W = 560, H = 220, L = 48, R = 10, T = 10, B = 30;
    const buckets = Array.from(new Set(series.flatMap(se => se.points.map(p => new Date(p.time).getTime())))).sort((a, b) => a - b);
    const vmax = Math.max(1e-9, ...series.flatMap(se => se.points.map(value)));
    const top = niceCeil(vmax);
    const y = v => T + (1 - v / top) * (H - T - B);
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, class: "chart", preserveAspectRatio: "xMidYMid meet" },
      s("title", {}, title));
    for (let i = 0; i <= 4; i++) {
      const v = top * i / 4;
      svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }),
        s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, fmtNum(v)));
    }
    const mark = (el, se, p) => { el.append(s("title", {}, (se.key || "—") + " · " + fmtTime(p.time) + ": " + fmtNum(value(p)))); return el; };
    if (buckets.length <= 8) {
      const band = (W - L - R) / buckets.length, pad = band * 0.15, bw = (band - 2 * pad) / series.length;
      buckets.forEach((tm, i) => svg.append(s("text", { x: L + band * (i + 0.5), y: H - B + 18, "text-anchor": "middle", class: "tick" }, fmtBucket(tm, interval))));
      series.forEach((se, k) => {
        for (const p of se.points) {
          const i = buckets.indexOf(new Date(p.time).getTime());
          const v = value(p);
          svg.append(mark(s("rect", { x: (L + band * i + pad + bw * k).toFixed(1), y: y(v).toFixed(1), width: Math.max(1, bw - 1).toFixed(1),
            height: Math.max(0, H - B - y(v)).toFixed(1), fill: PALETTE[k % PALETTE.length], class: "point" }), se, p));
        }
      });
    } else {
      const t0 = buckets[0], t1 = buckets[buckets.length - 1];
      const x = tm => L + (tm - t0) / (t1 - t0) * (W - L - R);
      for (let i = 0; i <= 4; i++) {
        const tm = t0 + (t1 - t0) * i / 4;
        svg.append(s("text", { x: x(tm), y: H - B + 18, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle", class: "tick" }, fmtBucket(tm, interval)));
      }
      series.forEach((se, k) => {
        const color = PALETTE[k % PALETTE.length];
        const pts = se.points.map(p => [x(new Date(p.time).getTime()), y(value(p)), p]);
        if (pts.length > 1) svg.append(s("polyline", { points: pts.map(q => q[0].toFixed(1) + "," + q[1].toFixed(1)).join(" "), fill: "none", stroke: color, "stroke-width": 2, class: "series" }));
        for (const [px, py, p] of pts) svg.append(mark(s("circle", { cx: px.toFixed(1), cy: py.toFixed(1), r: 3, fill: color, class: "point" }), se, p));
      });
    }
    svg.append(s("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }), s("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }));
    const legend = h("ul", { class: "legend" }, series.map(se => h("li", {}, h("span", { class: "swatch" }), se.key || t("stats.nokey"))));
    for (const [i, sw] of Array.from(legend.querySelectorAll(".swatch")).entries()) sw.style.background = PALETTE[i % PALETTE.length];
    return h("figure", { class: "chart" }, h("figcaption", {}, title), svg, legend);
  }

  function niceCeil(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function fmtNum(v) { return Math.abs(v) >= 100 || Number.isInteger(v) ? Math.round(v).toLocaleString() : v.toFixed(1); }
  // fmtBucket names a bucket's start as its interval needs: the hour, the day, the month.
  function fmtBucket(ms, interval) {
    const d = new Date(ms);
    const loc = state.lang === "it" ? "it-IT" : "en-GB";
    if (interval === "month") return d.toLocaleDateString(loc, { month: "short", year: "numeric" });
    if (interval === "day") return d.toLocaleDateString(loc, { day: "2-digit", month: "2-digit" });
    return d.toLocaleTimeString(loc, { hour: "2-digit", minute: "2-digit" });
  }

  // ---- jobs -----------------------------------------------------------------------------------

  async function pageJobs() {
    const res = await load("/jobs");
    const items = res.items || [];
    const last = j => (j.runs && j.runs[0]) || null;
    const cols = [
      [t("col.name"), j => h("span", { class: "mono" }, j.name)],
      [t("col.schedule"), j => j.schedule || ""],
      [t("jobs.command"), j => j.command ? h("span", { class: "mono wrap" }, j.command) : ""],
      [t("col.lastRun"), j => last(j) ? h("time", { datetime: last(j).started }, fmtTime(last(j).started)) : ""],
      [t("col.lastOutcome"), j => last(j) ? [outcomeBadge(last(j).outcome), last(j).error ? " " + last(j).error : ""] : ""],
      [t("col.runs"), j => j.state ? j.state.runs + " (" + j.state.failures + ")" : ""],
      [t("col.next"), j => j.state && j.state.due ? fmtTime(j.state.due) : ""],
    ];
    if (may("write")) {
      cols.push([t("col.actions"), j => h("button", { type: "button", class: "primary", "data-job": j.name, onclick: async ev => {
        ev.target.disabled = true;
        try {
          await api("POST", "/jobs/" + encodeURIComponent(j.name) + "/run");
          toast(t("jobs.started", { name: j.name }));
          setTimeout(route, 1500);
        } catch (e) {
          ev.target.disabled = false;
          if (e.status !== 401) toast(e.message, true);
        }
      } }, t("jobs.run"))]);
    }
    page(t("jobs.title"), items.length ? table(t("jobs.title"), cols, items) : h("p", { class: "empty" }, t("jobs.none")));
  }

  // ---- registry -------------------------------------------------------------------------------

  const EXPIRY_DAYS = 60;

  async function pageRegistry() {
    if (!state.me || state.me.role !== "admin") {
      page(t("registry.title"), h("p", { class: "note" }, t("registry.admin")));
      return;
    }
    const reg = await load("/registry");
    const certs = [];
    for (const p of reg.parties || []) for (const c of p.certificates || []) certs.push(Object.assign({ party: p.name }, c));
    const soon = certs.filter(c => c.days_left < EXPIRY_DAYS).sort((a, b) => a.days_left - b.days_left);
    page(t("registry.title"),
      h("section", { "aria-labelledby": "s-exp" }, h("h2", { id: "s-exp" }, t("registry.expiring")),
        soon.length ? table(t("registry.expiring"), [
          [t("col.party"), c => c.party], [t("col.subject"), c => c.subject],
          [t("col.notAfter"), c => fmtTime(c.not_after)],
          [t("col.days"), c => h("span", { class: "badge " + (c.days_left < 0 ? "bad" : "warn") }, String(c.days_left))],
        ], soon) : h("p", {}, t("registry.expiringNone", { days: EXPIRY_DAYS }))),
      h("section", { "aria-labelledby": "s-parties" }, h("h2", { id: "s-parties" }, t("registry.parties")),
        table(t("registry.parties"), [
          [t("col.name"), p => p.name], [t("col.url"), p => h("span", { class: "mono wrap" }, p.url || "")],
          [t("col.profile"), p => p.profile], [t("col.hosted"), p => p.hosted ? t("yes") : t("no")],
          [t("col.notAfter"), p => (p.certificates || []).map(c => fmtTime(c.not_after) + " (" + c.days_left + ")").join(", ")],
        ], reg.parties || [])),
      h("section", { "aria-labelledby": "s-services" }, h("h2", { id: "s-services" }, t("registry.services")),
        table(t("registry.services"), [
          [t("col.service"), sv => sv.name], [t("col.provider"), sv => sv.provider],
          [t("col.profile"), sv => sv.profile], [t("col.action"), sv => (sv.actions || []).join(", ")],
          [t("col.consumers"), sv => (sv.consumers || []).join(", ")],
        ], reg.services || [])),
      h("section", { "aria-labelledby": "s-apps" }, h("h2", { id: "s-apps" }, t("registry.applications")),
        table(t("registry.applications"), [
          [t("col.name"), a => a.name], [t("login.name"), a => a.username || a.cert_subject || ""],
          [t("col.grants"), a => (a.grants || []).join(", ")],
        ], reg.applications || [])));
  }

  // ---- start ----------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    applyStatic();
    document.getElementById("lang").addEventListener("click", () => {
      state.lang = state.lang === "it" ? "en" : "it";
      localStorage.setItem("porta.lang", state.lang);
      applyStatic();
      showUser();
      route();
    });
    document.getElementById("logout").addEventListener("click", async () => {
      try { await api("POST", "/logout"); } catch (e) { /* the session is gone either way */ }
      state.me = null;
      showUser();
      go("#/login");
    });
    document.getElementById("menu").addEventListener("click", () => {
      const l = document.getElementById("navlinks");
      const open = l.classList.toggle("open");
      document.getElementById("menu").setAttribute("aria-expanded", String(open));
    });
    window.addEventListener("hashchange", route);
    route();
  });
})();
