// CRDA auditor dashboard: reads the auditor API with a token kept in memory, draws SVG charts.
"use strict";
(function () {
  let token = null;
  const $ = (id) => document.getElementById(id);
  const NS = "http://www.w3.org/2000/svg";
  // The page's language (the server chose it: ?lang=, else the browser's) and the translations
  // of every _("...") below, from the server's message catalogue (api/locale).
  const LANG = document.documentElement.lang || "en";
  const LOCALE = LANG === "ko" ? "ko-KR" : "en-US";
  const MESSAGES = JSON.parse(($("messages") || {}).textContent || "{}");
  const _ = (text) => MESSAGES[text] || text;
  const fill = (text, values) => _(text).replace(/\{(\w+)\}/g, (m, k) => String(values[k]));
  const num = (v, digits) => Number(v).toLocaleString(LOCALE, { maximumFractionDigits: digits || 0 });
  // Distinct enough for a legend of trip modes and product categories (about a dozen).
  const COLORS = ["#1f8a5b", "#2a7fa8", "#d98e04", "#7b5ea7", "#c0392b", "#3aa7a3", "#8a6d3b",
    "#e377c2", "#17becf", "#bcbd22", "#1a4f8b", "#ff7f0e", "#6b6b6b", "#9edae5", "#98df8a",
    "#c5b0d5"];

  async function api(path) {
    // Problems come back in the page's language (title and detail), like the page.
    const response = await fetch(path, {
      headers: { Authorization: "Bearer " + token, "Accept-Language": LANG },
    });
    const body = await response.json();
    if (!response.ok) throw new Error((body && (body.detail || body.title)) || response.status);
    return body;
  }

  async function all(path) {
    // Every page of a list (the dashboard asks for the series only; exports are for bulk).
    let items = [], cursor = null;
    for (let i = 0; i < 50; i++) {
      const sep = path.includes("?") ? "&" : "?";
      const page = await api(path + sep + "limit=1000" + (cursor ? "&cursor=" + cursor : ""));
      items = items.concat(page.items);
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    return items;
  }

  const kg = (grams) => Number(grams) / 1000;
  function fmtKg(grams) {
    const v = kg(grams);
    if (v >= 1e6) return num(v / 1e3, 1) + " t";
    return num(v, 3) + " kg";
  }
  function fmtAxis(v) {
    const a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e3) return (v / 1e3).toFixed(a >= 1e4 ? 0 : 1) + "k";
    return String(Math.round(v * 10) / 10);
  }
  function el(tag, attrs, parent) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }
  function frame(container, height) {
    const width = Math.max(container.clientWidth || 600, 320);
    const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
    container.replaceChildren(svg);
    return { svg, width, height, left: 54, right: 14, top: 10, bottom: 28 };
  }
  function yAxis(f, max) {
    const ticks = 4;
    for (let i = 0; i <= ticks; i++) {
      const v = (max * i) / ticks;
      const y = f.top + (f.height - f.top - f.bottom) * (1 - i / ticks);
      el("line", { x1: f.left, x2: f.width - f.right, y1: y, y2: y, stroke: "#e8eeea" }, f.svg);
      el("text", { x: f.left - 6, y: y + 4, "text-anchor": "end" }, f.svg).textContent =
        fmtAxis(v) + (i === ticks ? " kg" : "");
    }
  }
  function empty(container, text) {
    const div = document.createElement("div");
    div.className = "empty";
    div.textContent = text;
    container.replaceChildren(div);
  }

  function lineChart(container, points, series) {
    if (points.length === 0) return empty(container, _("no credits issued yet"));
    const f = frame(container, 260);
    const xs = points.map((p) => p.x);
    let x0 = Math.min(...xs), x1 = Math.max(...xs);
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    x1 += (x1 - x0) * 0.04; // room after the last change, so it does not sit on the edge
    const max = Math.max(1, ...points.flatMap((p) => series.map((s) => p[s.key]))) * 1.08;
    yAxis(f, max);
    const sx = (x) => f.left + ((x - x0) / (x1 - x0)) * (f.width - f.left - f.right);
    const sy = (y) => f.top + (f.height - f.top - f.bottom) * (1 - y / max);
    for (const s of series) {
      let d = "";
      points.forEach((p, i) => {
        // Supply is a step function: it changes at a block and holds until the next.
        d += i === 0 ? `M${sx(p.x)},${sy(p[s.key])}` : `H${sx(p.x)}V${sy(p[s.key])}`;
      });
      d += `H${f.width - f.right}`;
      el("path", { d, fill: "none", stroke: s.color, "stroke-width": 2.2, class: "series",
        "data-series": s.key }, f.svg);
    }
    const span = x1 - x0;
    let ticks = [];
    if (span > 2 * 86400) {
      // Midnights (UTC), at most ~8 of them.
      const step = 86400 * Math.ceil(span / 86400 / 8);
      for (let t = Math.ceil(x0 / 86400) * 86400; t <= x1; t += step) ticks.push(t);
    } else {
      for (let i = 0; i <= 4; i++) ticks.push(x0 + (span * i) / 4);
    }
    for (const x of ticks) {
      const when = new Date(x * 1000);
      const label = span > 2 * 86400
        ? when.toLocaleDateString(LOCALE, { month: "numeric", day: "numeric", timeZone: "UTC" })
        : when.toLocaleTimeString(LOCALE, { timeZone: "UTC", hourCycle: "h23", hour: "2-digit",
          minute: "2-digit", second: "2-digit" });
      el("line", { x1: sx(x), x2: sx(x), y1: f.top, y2: f.height - f.bottom, stroke: "#f0f4f1" }, f.svg);
      el("text", { x: sx(x), y: f.height - 8, "text-anchor": "middle" }, f.svg).textContent = label;
    }
    container.dataset.points = String(points.length);
  }

  function barChart(container, days, colorOf, emptyText) {
    if (days.length === 0) return empty(container, emptyText);
    const f = frame(container, 220);
    const max = Math.max(1, ...days.map((d) => kg(d.total))) * 1.1;
    yAxis(f, max);
    const slot = (f.width - f.left - f.right) / days.length;
    const bar = Math.min(46, slot * 0.7);
    const sy = (v) => (f.height - f.top - f.bottom) * (v / max);
    days.forEach((d, i) => {
      let base = f.height - f.bottom;
      const x = f.left + slot * i + (slot - bar) / 2;
      d.parts.forEach((part) => {
        const h = sy(kg(part.amount));
        base -= h;
        const rect = el("rect", { x, y: base, width: bar, height: Math.max(h, 0.5), rx: 2,
          fill: colorOf(part.key), class: "bar" }, f.svg);
        el("title", {}, rect).textContent = `${d.day} · ${part.key.slice(0, 24)} · ${fmtKg(part.amount)}`;
      });
      if (days.length <= 16 || i % Math.ceil(days.length / 12) === 0) {
        el("text", { x: x + bar / 2, y: f.height - 8, "text-anchor": "middle" }, f.svg)
          .textContent = d.day.slice(5);
      }
    });
    container.dataset.bars = String(days.length);
  }

  function tiles(summary) {
    const s = summary.supply;
    const data = [
      [_("Circulating"), fmtKg(s.circulating), "CO2e"],
      [_("Issued"), fmtKg(s.issued), ""],
      [_("Retired"), fmtKg(s.retired), ""],
      [_("Holders"), num(summary.holders), ""],
      [_("Batches"), num(summary.batches), ""],
      [_("Certificates"), num(summary.retirements), ""],
      [_("Index block"), "#" + summary.index.block_number, summary.paused ? _("PAUSED") : _("live")],
    ];
    $("tiles").replaceChildren(...data.map(([label, value, unit]) => {
      const div = document.createElement("div");
      div.className = "tile";
      div.innerHTML = `<div class="label"></div><div class="value"></div>`;
      div.children[0].textContent = label;
      div.children[1].textContent = value + " ";
      const small = document.createElement("span");
      small.className = "unit";
      small.textContent = unit;
      div.children[1].appendChild(small);
      return div;
    }));
    $("where").textContent = fill("chain {chain} · block {block}",
      { chain: summary.index.chain_id, block: summary.index.block_number });
  }

  const won = (v) => Number(v).toLocaleString(LOCALE, { style: "currency", currency: "KRW" });

  function marketCard(report) {
    if (!report.days.length) return empty($("market"), _("No trades settled yet"));
    // Volume per day as bars; the day's volume-weighted price and range in the table below.
    const days = report.days.map((d) => ({ day: d.day, total: d.quantity,
      parts: [{ key: "volume", amount: d.quantity }] }));
    const chart = document.createElement("div");
    chart.id = "market-chart";
    const table = document.createElement("table");
    $("market").replaceChildren(chart, table);
    barChart(chart, days, () => "#2a7fa8", _("No trades settled yet"));
    table.innerHTML = `<tr><th>${_("day")}</th><th class='num'>${_("trades")}</th>` +
      `<th class='num'>${_("volume")}</th><th class='num'>${_("price (VWAP/kg)")}</th>` +
      `<th class='num'>${_("low–high")}</th></tr>` +
      report.days.slice(-6).reverse().map((d) =>
        `<tr><td>${d.day}</td><td class="num">${d.trades}</td><td class="num">${fmtKg(d.quantity)}</td>` +
        `<td class="num">${won(d.vwap)}</td><td class="num">${won(d.low)}–${won(d.high)}</td></tr>`).join("") +
      `<tr><td>${_("all")}</td><td class="num">${report.trades}</td><td class="num">${fmtKg(report.quantity)}</td>` +
      `<td class="num" colspan="2">${fill("{won} traded", { won: won(report.won) })}</td></tr>`;
  }

  function reconciliationCard(report) {
    const ok = report.ok;
    const rows = report.differences.slice(0, 8).map((d) =>
      `<tr><td><code>${String(d.owner).slice(0, 12)}</code></td><td>${d.asset}</td>` +
      `<td class="num">${d.ledger}</td><td class="num">${d.chain}</td></tr>`).join("");
    $("reconciliation").innerHTML =
      `<p><span class="badge ${ok ? "ok" : "bad"}">${ok ? _("ledger and chain agree") : _("differences found")}</span> ` +
      `${fill("{count} account balances checked against the chain", { count: num(report.accounts_checked) })}</p>` +
      (rows ? `<table><tr><th>${_("account")}</th><th>${_("asset")}</th><th class="num">${_("ledger")}</th>` +
        `<th class="num">${_("chain")}</th></tr>${rows}</table>` : "");
  }

  // The certificate check compares counts, every other check amounts.
  const show = (name, value) => name === "certificates" ? num(value) : fmtKg(value);

  function integrity(report) {
    const badge = $("integrity-badge");
    badge.className = "badge " + (report.ok ? "ok" : "bad");
    badge.textContent = report.ok ? _("all checks pass") : _("differences found");
    const rows = report.checks.map((c) =>
      `<tr><td><span class="badge ${c.ok ? "ok" : "bad"}">${c.ok ? _("pass") : _("FAIL")}</span></td>` +
      `<td>${c.name}</td><td>${c.description}</td>` +
      `<td class="num">${show(c.name, c.indexed)}</td><td class="num">${show(c.name, c.expected)}</td>` +
      `<td>${c.source}</td></tr>`);
    $("integrity").innerHTML = `<tr><th></th><th>${_("check")}</th><th>${_("what")}</th><th>${_("index")}</th>` +
      `<th>${_("expected")}</th><th>${_("against")}</th></tr>` + rows.join("") +
      `<tr><td><span class="badge ${report.account_differences.length ? "bad" : "ok"}">` +
      `${report.account_differences.length ? _("FAIL") : _("pass")}</span></td><td>${_("accounts")}</td>` +
      `<td>${fill("{count} accounts re-derived", { count: num(report.accounts_checked) })}</td>` +
      `<td class="num" colspan="2">${fill("{count} differences", { count: num(report.account_differences.length) })}</td>` +
      `<td>${_("events")}</td></tr>`;
  }

  function latestRetirements(items) {
    const last = items.slice(-6).reverse();
    if (!last.length) return;
    $("retirement-table").innerHTML = `<tr><th>#</th><th>${_("holder")}</th><th>${_("reason")}</th>` +
      `<th style='text-align:right'>${_("amount")}</th></tr>` + last.map((r) =>
        `<tr><td>${r.certificate_id}</td><td><code>${r.holder.slice(0, 10)}…</code></td>` +
        `<td>${r.reason.replace(/[<>&]/g, "")}</td><td class="num">${fmtKg(r.amount)}</td></tr>`).join("");
  }

  async function load() {
    $("signin").hidden = true;
    $("app").hidden = false;
    const [summary, series, issuance, retired, retirements, market, recon] = await Promise.all([
      api("/audit/summary"), all("/audit/supply/series"), api("/audit/issuance/daily"),
      api("/audit/retirements/daily"), all("/audit/retirements"), api("/audit/market"),
      api("/audit/reconciliation"),
    ]);
    tiles(summary);
    lineChart($("supply-chart"), series.map((p) => ({
      x: p.block_time, issued: kg(p.issued), circulating: kg(p.circulating), retired: kg(p.retired),
    })), [
      { key: "issued", color: "#2a7fa8" }, { key: "circulating", color: "#1f8a5b" },
      { key: "retired", color: "#d98e04" },
    ]);
    const kinds = [...new Set(issuance.flatMap((d) => d.parts.map((p) => p.key)))].sort();
    barChart($("issuance-chart"), issuance, (k) => COLORS[kinds.indexOf(k) % COLORS.length],
      _("no batches issued yet"));
    $("issuance-legend").replaceChildren(...kinds.map((k) => {
      const span = document.createElement("span");
      span.innerHTML = `<i style="background:${COLORS[kinds.indexOf(k) % COLORS.length]}"></i>`;
      span.appendChild(document.createTextNode(k));
      return span;
    }));
    barChart($("retirement-chart"), retired, () => "#d98e04", _("no retirements yet"));
    latestRetirements(retirements);
    marketCard(market);
    reconciliationCard(recon);
    try {
      integrity(await api("/audit/integrity"));
    } catch (e) {
      $("integrity-badge").className = "badge bad";
      $("integrity-badge").textContent = fill("could not run: {error}", { error: e.message });
    }
    document.body.dataset.loaded = "true";
  }

  async function signIn(event) {
    event.preventDefault();
    const response = await fetch("/auth/sign-in", {
      method: "POST", headers: { "Content-Type": "application/json", "Accept-Language": LANG },
      body: JSON.stringify({ email: $("email").value, password: $("password").value }),
    });
    const body = await response.json();
    if (!response.ok) { $("error").textContent = body.detail || body.title; return; }
    token = body.access_token;
    start();
  }

  function start() {
    load().catch((e) => {
      document.body.dataset.loaded = "error";
      $("app").hidden = true;
      $("signin").hidden = false;
      $("error").textContent = String(e.message || e);
    });
  }

  // The language switch keeps the session: the token goes along in the fragment (never sent).
  for (const link of document.querySelectorAll("#lang a")) {
    if (link.dataset.lang === LANG) link.removeAttribute("href");
    link.addEventListener("click", (event) => {
      if (!token || !link.getAttribute("href")) return;
      event.preventDefault();
      location.assign("?lang=" + link.dataset.lang + "#token=" + encodeURIComponent(token));
    });
  }

  // A token may come in the URL fragment (never sent to a server); it is kept in memory only.
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    token = decodeURIComponent(match[1]);
    history.replaceState(null, "", location.pathname);
    start();
  } else {
    $("signin").hidden = false;
    $("signin").addEventListener("submit", signIn);
  }
})();
