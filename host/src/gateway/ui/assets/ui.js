// Lucid Observer: the live feed (server-sent events) and small niceties. The pages work
// without this script; it only adds what changes while one looks. No innerHTML: every value
// from the gateway goes in as text.
"use strict";

(function () {
  const page = document.body.dataset.page;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children || []) {
      node.append(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }

  function badge(decision) {
    const cls = decision === "allow" ? "badge allow" : decision === "deny" ? "badge deny" : "badge";
    return el("span", { class: cls }, [decision]);
  }

  // The same shape as pages.rs `feed_row`.
  function row(s) {
    const time = (s.timestamp || "").slice(11, 19);
    const reasons = s.event ? el("em", {}, [s.event]) : (s.reasons.length ? s.reasons.join(", ") : "—");
    const link = el("a", { class: "passport-link", href: "/ui/exchange/" + s.ar_hash }, [
      el("code", {}, [s.ar_hash.slice(0, 12)]),
    ]);
    const tr = el("tr", {
      class: "exchange fresh",
      "data-ar-hash": s.ar_hash,
      "data-decision": s.decision,
      "data-scope": s.scope,
    }, [
      el("td", { class: "time", title: s.timestamp }, [time]),
      el("td", {}, [s.scope]),
      el("td", {}, [s.model || "—"]),
      el("td", {}, [badge(s.decision)]),
      el("td", { class: "reasons" }, [reasons]),
      el("td", { class: "num" }, [s.latency_ms == null ? "—" : s.latency_ms.toFixed(2) + " ms"]),
      el("td", {}, [s.stream_mode || "—"]),
      el("td", { class: "num" }, [String(s.redactions)]),
      el("td", {}, [link]),
    ]);
    return tr;
  }

  function bump(id) {
    const node = document.getElementById(id);
    if (node) node.textContent = String((parseInt(node.textContent, 10) || 0) + 1);
  }

  function live() {
    const rows = document.getElementById("feed-rows");
    const state = document.getElementById("live-state");
    if (!rows || !window.EventSource) return;
    const source = new EventSource("/ui/events" + window.location.search);
    source.addEventListener("open", function () {
      document.body.dataset.live = "true";
      if (state) state.textContent = "on";
    });
    source.addEventListener("error", function () {
      document.body.dataset.live = "false";
      if (state) state.textContent = "reconnecting…";
    });
    source.addEventListener("lagged", function (e) {
      if (state) state.textContent = "on (missed " + e.data + "; reload for all)";
    });
    source.addEventListener("exchange", function (e) {
      let s;
      try { s = JSON.parse(e.data); } catch (_) { return; }
      if (rows.querySelector('tr[data-ar-hash="' + s.ar_hash + '"]')) return;
      rows.prepend(row(s));
      while (rows.children.length > 500) rows.lastElementChild.remove();
      const empty = document.getElementById("feed-empty");
      if (empty) empty.remove();
      if (!s.event) bump(s.decision === "deny" ? "count-deny" : "count-allow");
      const depth = document.getElementById("depth");
      if (depth && s.chain_depth != null) depth.textContent = "depth " + s.chain_depth;
      scheduleChainCheck();
    });
  }

  // The chain's state follows new receipts: checked by the gateway, at most twice a second.
  let chainTimer = null;
  function scheduleChainCheck() {
    if (chainTimer) return;
    chainTimer = setTimeout(function () {
      chainTimer = null;
      fetch("/ui/chain/status", { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (status) {
          const chain = document.getElementById("chain-status");
          if (!status || !chain) return;
          const valid = status.valid === true;
          chain.dataset.valid = valid ? "true" : "false";
          chain.textContent = valid ? "valid" : "invalid";
          chain.className = valid ? "badge allow" : "badge deny";
          chain.title = (status.errors || []).join("\n");
          const checked = document.getElementById("chain-checked");
          if (checked) checked.textContent = "last " + status.length + " receipts checked";
        })
        .catch(function () {});
    }, 500);
  }

  // Filters apply as soon as a select changes.
  function filters() {
    const form = document.getElementById("filters");
    if (!form) return;
    for (const select of form.querySelectorAll("select")) {
      select.addEventListener("change", function () { form.submit(); });
    }
  }

  if (page === "feed") {
    live();
    filters();
  }
})();
