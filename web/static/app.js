/* crmsim: countdown, live scoreboard (polling), decision-form drafts and cost preview. No framework. */
(function () {
  "use strict";
  const crmsim = {};

  crmsim.countdown = function () {
    document.querySelectorAll(".countdown").forEach((el) => {
      let left = el.dataset.seconds === "" ? null : parseFloat(el.dataset.seconds);
      const paused = el.dataset.paused === "1";
      const show = () => {
        if (left === null) { el.textContent = "–"; return; }
        const s = Math.max(0, Math.floor(left));
        el.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0") + (paused ? " ⏸" : "");
        el.classList.toggle("late", s === 0);
        // the team's form when the deadline passes: the server refuses late submits, so the page says so and locks
        if (s === 0 && !paused && el.closest("#team-page") && crmsim.lockForm) crmsim.lockForm(undefined, "deadline");
      };
      show();
      if (!paused && left !== null) setInterval(() => { left -= 1; show(); }, 1000);
    });
  };

  // poll the game's version (el.data-game, -version, -poll seconds) and call onChange(v) when it moves on; the version
  // is kept once onChange has run, unless it returns false (it reloads the page); a failed request is tried again
  crmsim.watchVersion = function (el, onChange) {
    let version = el.dataset.version;
    const poll = async () => {
      try {
        const v = await (await fetch(`/api/games/${el.dataset.game}/version`, { cache: "no-store" })).json();
        if (String(v.version) === String(version)) return;
        if ((await onChange(v)) === false) return;
        version = String(v.version);
        el.dataset.version = version;
      } catch (e) { /* the server may be restarting: try again */ }
    };
    setInterval(poll, 1000 * (parseFloat(el.dataset.poll) || 3));
  };

  crmsim.liveBoard = function () {
    const board = document.getElementById("board");
    if (!board) return;
    crmsim.watchVersion(board, async () => {
      const html = await (await fetch(`/scoreboard/${board.dataset.game}?${board.dataset.query || ""}partial=1`, { cache: "no-store" })).text();
      board.innerHTML = html;
      if (window.crmsimCharts) window.crmsimCharts.render(board);
      crmsim.countdown();
    });
  };

  crmsim.seats = function () {
    const sel = document.getElementById("scenario");
    if (!sel) return;
    const update = () => {
      const n = parseInt(sel.selectedOptions[0].dataset.firms, 10);
      document.querySelectorAll(".seat").forEach((el) => {
        const off = parseInt(el.dataset.seat, 10) >= n;  // exactly the scenario's seats; a hidden one is not sent
        el.hidden = off;
        el.querySelectorAll("select").forEach((s) => { s.disabled = off; });
      });
    };
    sel.addEventListener("change", update);
    // pasting a scenario file picks "the scenario file pasted below" (the server refuses a name and a file together)
    const toml = document.getElementById("scenario-toml");
    if (toml) toml.addEventListener("input", () => {
      if (toml.value.trim() && sel.value !== "") { sel.value = ""; update(); }
    });
    update();
  };

  // money as every page shows it (web.views.money, web.chartspec.format_value): ¥1,234 and -¥1,234
  const money = (n, digits) => {
    if (n === null || n === undefined || !isFinite(n)) return "–";
    const d = digits || 0;
    const r = Number(n.toFixed(d));  // what is shown: -0.4 is ¥0, not -¥0
    const a = Math.abs(r).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
    return (r < 0 ? "-" : "") + "¥" + a;
  };
  crmsim.money = money;
  // the decision's standing fields (crmsim.sim.decisions.Decision.standing): what a form carries over to a new period
  const STANDING = ["price", "service_level", "care_budget", "advertising_budget", "retention_budget", "care_split", "cultivation"];
  const esc = (t) => String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(0) + "%");

  function formToRaw(form) {
    const raw = { cultivation: {}, bids: {} };
    const activities = {}, research = {}, split = {};
    for (const [k, v0] of new FormData(form).entries()) {
      const v = String(v0).trim();
      if (k === "csrf_token" || k === "period" || v === "") continue;
      if (k.startsWith("cultivation.")) raw.cultivation[k.slice(12)] = v;
      else if (k.startsWith("activities.")) (activities[k.slice(11)] = activities[k.slice(11)] || []).push(v);
      else if (k === "research.rivals") (research.rivals = research.rivals || []).push(v);
      else if (k === "research.survey") research.survey = v;
      else if (k === "research.forecast") research.forecast = true;
      else if (k.startsWith("care_split.")) split[k.slice(11)] = v;
      else if (k.startsWith("bids.") && k.endsWith(".price")) {
        const t = k.slice(5, -6);
        raw.bids[t] = Object.assign(raw.bids[t] || {}, { price: v });
      } else if (k.startsWith("bids.") && k.endsWith(".promised_service")) {
        const t = k.slice(5, -17);
        raw.bids[t] = Object.assign(raw.bids[t] || {}, { promised_service: v });
      } else raw[k] = v;
    }
    for (const t of Object.keys(raw.bids)) if (!raw.bids[t].price) delete raw.bids[t];
    if (form.querySelector("[name^='cultivation.']") === null) delete raw.cultivation;
    if (Object.keys(activities).length) raw.activities = activities;
    if (Object.keys(research).length) raw.research = research;
    if (Object.keys(split).length) {
      for (const t of ["A", "B", "C"]) if (form.querySelector(`[name='care_split.${t}']`) && !(t in split)) split[t] = "0";
      raw.care_split = split;
    }
    return raw;
  }

  function noteList(notes, cls) {
    if (!notes.length) return "";
    return `<ul class="${cls}">` + notes.map((n) => `<li class="sev-${esc(n.severity || "error")}">${esc(n.text)}</li>`).join("") + "</ul>";
  }

  function showPreview(form, p, L) {
    const colon = form.dataset.lang === "zh" ? "：" : ": ";
    const box = document.getElementById("preview");
    // errors beside fields: drop every one shown so far (the server's and the last preview's), then show the current ones once
    form.querySelectorAll(".field-error").forEach((e) => e.remove());
    form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
    form.querySelectorAll("[data-field][aria-describedby]").forEach((e) => {
      e.setAttribute("aria-describedby", e.getAttribute("aria-describedby").split(" ").filter((x) => !x.endsWith("-err")).join(" "));
    });
    const unplaced = [];
    const seen = new Set();
    for (const q of p.problems || []) {
      const key = q.field + "|" + q.text;
      if (seen.has(key)) continue;
      seen.add(key);
      let f = q.field, input = null;
      while (f && !(input = form.querySelector(`[data-field="${CSS.escape(f)}"]`))) f = f.includes(".") ? f.slice(0, f.lastIndexOf(".")) : "";
      if (!input) { unplaced.push(q); continue; }
      const span = document.createElement("span");
      span.className = "error field-error live-error";
      span.id = (input.id || "f") + "-" + Math.random().toString(36).slice(2) + "-err";
      span.textContent = q.text;
      const single = input.matches("input, select, textarea");  // else a group (the care split, the activities)
      if (single) input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + span.id).trim());
      const label = single ? (input.closest("label") || input.parentElement) : input;
      label.appendChild(span);
    }
    // each bid: what the tender office would make of it, its figures, the rules that depend on the others
    form.querySelectorAll("[data-bid-notes]").forEach((el) => { el.innerHTML = ""; });
    for (const b of p.bids || []) {
      const el = form.querySelector(`[data-bid-notes="${CSS.escape(b.tender)}"]`);
      if (!el || b.refused) continue;
      const head = b.void_reason ? `<p class="error bid-void"><strong>${esc(L.bid_void)}</strong></p>` : `<p class="ok">${esc(L.bid_ok)}</p>`;
      const figs = b.delivery_cost === null || b.delivery_cost === undefined ? "" :
        `<p class="figures">${esc(L.delivery_cost)}${colon}${money(b.delivery_cost, 2)} · ${esc(L.margin)}${colon}${money(b.margin_per_unit, 2)} · ${esc(L.profit_if_won)}${colon}${money(b.profit_if_won)} · ${esc(L.bond)}${colon}${money(b.bond)}</p>`;
      const warn = b.notices.filter((n) => n.severity !== "info"), info = b.notices.filter((n) => n.severity === "info");
      el.innerHTML = head + noteList(warn, "warnings") + figs + noteList(info, "rules");
    }
    const hours = document.getElementById("hours-used");
    if (hours && p.sales_hours && p.sales_hours.hours !== undefined) {
      hours.textContent = Math.round(p.sales_hours.hours);
      const avail = document.getElementById("hours-available");
      if (avail && p.sales_hours.hours_available !== undefined) avail.textContent = Math.round(p.sales_hours.hours_available);
    }
    const c = p.costs || {};
    const pr = p.projection || {};
    const cap = p.capacity || {};
    const row = (label, value, id) => `<tr><td>${esc(label)}</td><td class="num"${id ? ` id="${id}"` : ""}>${value}</td></tr>`;
    let html = "";
    const placed = seen.size - unplaced.length;
    if (seen.size) {  // each problem once: beside its field, or here when the form has no field for it
      html += `<h3>${esc(L.problems)}</h3>` + (placed ? `<p class="error" id="problems-beside">${esc(L.beside.replace("%(n)s", placed))}</p>` : "") +
        noteList(unplaced, "error problems");
    } else html += `<p class="ok">${esc(L.ok)}</p>`;
    if (c.total !== undefined) {
      html += `<table class="grid small"><caption>${esc(L.costs)}</caption><tbody>` +
        row(L.unit_cost, money(p.unit_cost, 2), "preview-unit-cost") +
        row(L.salaries, money(c.salaries)) + row(L.staffing, money((c.hiring || 0) + (c.severance || 0))) +
        row(L.service_cost, money(c.service_cost)) + row(L.care_ads, money((c.care || 0) + (c.advertising || 0))) +
        row(L.cultivation, money(c.cultivation)) +
        (c.research ? row(L.research, money(c.research)) : "") + (c.retention ? row(L.retention, money(c.retention)) : "") +
        row(L.interest, money(c.interest)) +
        `<tr><th scope="row">${esc(L.total)}</th><th class="num" id="preview-total">${money(c.total)}</th></tr>` +
        row(L.bonds, money(c.bonds_pledged)) + row(L.cash_after, money(c.cash_after)) +
        (cap.utilisation !== undefined ? row(L.utilisation, pct(cap.utilisation)) : "") +
        "</tbody></table>";
    }
    if (pr.revenue !== undefined) {
      html += `<table class="grid small" id="projection"><caption>${esc(L.projection)}</caption><tbody>` +
        row(L.revenue, money(pr.revenue)) + row(L.net_profit, money(pr.net_profit), "preview-profit") +
        row(L.cash_end, money(pr.cash_end), "preview-cash") +
        (pr.emergency_loan ? row(L.emergency_loan, money(pr.emergency_loan)) : "") +
        row(L.break_even, money(pr.break_even_price, 2), "preview-break-even") + "</tbody></table>";
    }
    html += `<h3>${esc(L.warnings)}</h3>` + ((p.warnings || []).length ? noteList(p.warnings, "warnings") : `<p>${esc(L.none)}</p>`);
    if ((pr.assumptions || []).length) html += `<details><summary>${esc(L.assumptions)}</summary>${noteList(pr.assumptions, "rules")}</details>`;
    box.innerHTML = html;
  }

  crmsim.decisionForm = function () {
    const form = document.getElementById("decision");
    if (!form) return;
    const L = JSON.parse(document.getElementById("preview-labels").textContent);
    const headers = { "Content-Type": "application/json", Authorization: "Bearer " + form.dataset.token };
    const period = form.dataset.period;
    const state = document.getElementById("draft-state");
    let timer = null;
    const refresh = async () => {
      if (form.dataset.locked || !form.isConnected) return;
      const raw = formToRaw(form);
      try {
        const saved = await fetch(`/api/team/draft?period=${period}`, { method: "PUT", headers, body: JSON.stringify(raw) });
        if (saved.status === 409) { await lockStale(); return; }
        if (saved.ok) state.textContent = "✓ " + L.saved;
        const r = await fetch(`/api/team/preview?period=${period}`, { method: "POST", headers, body: JSON.stringify(raw) });
        if (r.status === 409) { await lockStale(); return; }
        showPreview(form, await r.json(), L);
      } catch (e) { state.textContent = "…"; }
    };
    form.addEventListener("input", () => { form.dataset.dirty = "1"; clearTimeout(timer); timer = setTimeout(refresh, 300); });
    form.addEventListener("submit", (ev) => { if (form.dataset.locked) ev.preventDefault(); });
    // the server refused the form's period: ask which one is open now (a resolve moved on, a rollback moved back)
    const lockStale = async () => {
      let open;
      try { open = (await (await fetch(`/api/games/${form.dataset.game}/version`, { cache: "no-store" })).json()).period; } catch (e) { /* unknown */ }
      crmsim.lockForm(open);
    };
    crmsim.refreshPreview = refresh;
    refresh();
  };

  // the locks that lift by themselves while the period stays open: its deadline passed (the instructor may extend
  // it) or the instructor paused the game (until it resumes)
  const FOR_NOW = ["deadline", "paused"];

  // a form that cannot be submitted now: locked, what the student typed stays in it, and it says why
  // why: "deadline" or "paused" (FOR_NOW), else the period is no longer open: resolved (next > p) or rolled back (next < p)
  crmsim.lockForm = function (next, why) {
    const form = document.getElementById("decision");
    const held = form && form.dataset.locked;
    if (!form || (held && !FOR_NOW.includes(held)) || (held && held === why)) return;
    const L = JSON.parse(document.getElementById("preview-labels").textContent);
    form.dataset.locked = FOR_NOW.includes(why) ? why : "period";
    document.getElementById("decision-fields").disabled = true;
    document.getElementById("submit-decision").disabled = true;
    const p = parseInt(form.dataset.period, 10);
    const box = document.getElementById("period-closed");
    box.hidden = false;
    if (FOR_NOW.includes(why)) { box.textContent = L[why]; return; }
    const n = next === undefined || next === null ? p + 1 : next;
    const text = n < p ? L.rolled_back : p === 0 ? L.closed_practice : L.closed;
    box.innerHTML = esc(text.replace("%(p)s", p).replace("%(n)s", n)) +
      ` <button type="button" id="open-new-period">${esc(L.reload)}</button>`;
    document.getElementById("open-new-period").addEventListener("click", async () => {
      // the standing fields typed for the closed period carry over to the new form (a draft, not a submission);
      // hires, fires, loans, bids, activities and research were for that period only and start afresh
      const kept = {};
      form.querySelectorAll("input").forEach((i) => {
        if (STANDING.some((f) => i.name === f || i.name.startsWith(f + ".")) && i.value !== "") kept[i.name] = i.value;
      });
      const html = await (await fetch("/team/", { cache: "no-store" })).text();
      swapFormColumn(new DOMParser().parseFromString(html, "text/html"));
      const fresh = document.getElementById("decision");
      if (!fresh) return;
      let n = 0;
      for (const [name, value] of Object.entries(kept)) {
        const input = fresh.querySelector(`input[name="${CSS.escape(name)}"]`);
        if (input && input.value !== value) { input.value = value; n += 1; }
      }
      if (n) {
        fresh.dataset.dirty = "1";
        const note = document.getElementById("period-closed");
        note.hidden = false;
        note.className = "flash";
        note.textContent = L.carried;
        fresh.dispatchEvent(new Event("input"));
      }
    });
  };

  // the decision column of a freshly fetched team page in place of the current one (no reload)
  function swapFormColumn(doc) {
    const col = document.getElementById("form-col"), twin = doc.getElementById("form-col");
    if (!col || !twin) return;
    col.replaceWith(document.importNode(twin, true));
    crmsim.decisionForm();
  }

  // the live team page: polls the game's version; a resolved period refreshes the reports in place and locks a stale form
  crmsim.liveTeam = function () {
    const page = document.getElementById("team-page");
    if (!page) return;
    let period = parseInt(page.dataset.period, 10);
    if (page.dataset.status === "paused") crmsim.lockForm(undefined, "paused");
    crmsim.watchVersion(page, async (v) => {
      const html = await (await fetch("/team/", { cache: "no-store" })).text();
      const doc = new DOMParser().parseFromString(html, "text/html");
      const fresh = doc.getElementById("team-page");
      if (!fresh) return;
      document.querySelectorAll("#team-page [data-live]").forEach((el) => {
        const twin = el.id && doc.getElementById(el.id);
        if (twin) el.replaceWith(document.importNode(twin, true));
      });
      fresh.querySelectorAll("[data-live]").forEach((el) => {  // a section that appears only now (e.g. the first report)
        if (el.id && !document.getElementById(el.id)) {
          const prev = el.previousElementSibling;
          const anchor = prev && prev.id && document.getElementById(prev.id);
          if (anchor) anchor.after(document.importNode(el, true));
        }
      });
      crmsim.countdown();
      const form = document.getElementById("decision");
      if (form && FOR_NOW.includes(form.dataset.locked) && v.period === period && v.status === "open" && v.seconds_left > 0) {
        // the instructor extended the deadline or resumed the game: the form opens again, as typed
        delete form.dataset.locked;
        document.getElementById("decision-fields").disabled = false;
        document.getElementById("submit-decision").disabled = false;
        document.getElementById("period-closed").hidden = true;
      }
      if (form && v.period === period && v.status === "paused") crmsim.lockForm(undefined, "paused");
      if (v.period !== period || v.status === "finished") {
        if (form && !form.dataset.dirty && !form.dataset.locked) swapFormColumn(doc);
        else crmsim.lockForm(v.period);
        period = v.period;
        page.dataset.period = String(v.period);
      }
    });
  };

  window.crmsim = crmsim;
})();
