/* crmsim: countdown, live scoreboard (polling), decision-form drafts and cost preview. No framework. */
(function () {
  "use strict";
  const crmsim = {};
  const fmt = (n) => "¥" + Math.round(n).toLocaleString();

  crmsim.countdown = function () {
    document.querySelectorAll(".countdown").forEach((el) => {
      let left = el.dataset.seconds === "" ? null : parseFloat(el.dataset.seconds);
      const paused = el.dataset.paused === "1";
      const show = () => {
        if (left === null) { el.textContent = "–"; return; }
        const s = Math.max(0, Math.floor(left));
        el.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0") + (paused ? " ⏸" : "");
        el.classList.toggle("late", s === 0);
      };
      show();
      if (!paused && left !== null) setInterval(() => { left -= 1; show(); }, 1000);
    });
  };

  crmsim.liveBoard = function () {
    const board = document.getElementById("board");
    if (!board) return;
    const game = board.dataset.game;
    let version = board.dataset.version;
    const poll = async () => {
      try {
        const r = await fetch(`/api/games/${game}/version`, { cache: "no-store" });
        const v = await r.json();
        if (String(v.version) !== String(version)) {
          const html = await (await fetch(`/scoreboard/${game}?${board.dataset.query || ""}partial=1`, { cache: "no-store" })).text();
          board.innerHTML = html;
          if (window.crmsimCharts) window.crmsimCharts.render(board);
          version = v.version;
          board.dataset.version = version;
          crmsim.countdown();
        }
      } catch (e) { /* the server may be restarting: try again */ }
    };
    setInterval(poll, 1000 * (parseFloat(board.dataset.poll) || 3));
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
    update();
  };

  function formToRaw(form) {
    const raw = { cultivation: {}, bids: {} };
    for (const [k, v0] of new FormData(form).entries()) {
      const v = String(v0).trim();
      if (k === "csrf_token" || v === "") continue;
      if (k.startsWith("cultivation.")) raw.cultivation[k.slice(12)] = v;
      else if (k.startsWith("bids.") && k.endsWith(".price")) {
        const t = k.slice(5, -6);
        raw.bids[t] = Object.assign(raw.bids[t] || {}, { price: v });
      } else if (k.startsWith("bids.") && k.endsWith(".promised_service")) {
        const t = k.slice(5, -17);
        raw.bids[t] = Object.assign(raw.bids[t] || {}, { promised_service: v });
      } else raw[k] = v;
    }
    for (const t of Object.keys(raw.bids)) if (!raw.bids[t].price) delete raw.bids[t];
    return raw;
  }

  crmsim.decisionForm = function () {
    const form = document.getElementById("decision");
    if (!form) return;
    const headers = { "Content-Type": "application/json", Authorization: "Bearer " + form.dataset.token };
    const box = document.getElementById("preview");
    const state = document.getElementById("draft-state");
    let timer = null;
    const refresh = async () => {
      const raw = formToRaw(form);
      try {
        await fetch("/api/team/draft", { method: "PUT", headers, body: JSON.stringify(raw) });
        state.textContent = "✓ " + (document.documentElement.lang === "zh-CN" ? "草稿已保存" : "draft saved");
        const p = await (await fetch("/api/team/preview", { method: "POST", headers, body: JSON.stringify(raw) })).json();
        form.querySelectorAll(".live-error").forEach((e) => e.remove());
        if (p.ok) {
          const c = p.costs;
          box.innerHTML = `<table class="grid small"><tbody>
            <tr><td>Salaries 工资</td><td>${fmt(c.salaries)}</td></tr>
            <tr><td>Hiring + severance 招聘+遣散</td><td>${fmt(c.hiring + c.severance)}</td></tr>
            <tr><td>Service cost 服务成本</td><td>${fmt(c.service_cost)}</td></tr>
            <tr><td>Care + advertising 关怀+广告</td><td>${fmt(c.care + c.advertising)}</td></tr>
            <tr><td>Cultivation 顾客培养</td><td>${fmt(c.cultivation)}</td></tr>
            <tr><td>Interest 利息</td><td>${fmt(c.interest)}</td></tr>
            <tr><th>Total before sales 销售前总成本</th><th id="preview-total">${fmt(c.total)}</th></tr>
            <tr><td>Bid bonds pledged 投标保证金</td><td>${fmt(c.bonds_pledged)}</td></tr>
            <tr><td>Cash after costs, before sales 销售前现金</td><td>${fmt(c.cash_after)}</td></tr>
            <tr><td>Service capacity 服务容量</td><td>${Math.round(c.capacity)} / ${Math.round(c.customers)}</td></tr>
          </tbody></table>`;
        } else {
          box.innerHTML = "<ul class='error'>" + p.problems.map((q) => `<li>${q.message.replace(/</g, "&lt;")}</li>`).join("") + "</ul>";
          for (const q of p.problems) {
            const input = form.querySelector(`[data-field="${CSS.escape(q.field)}"]`);
            if (input) {
              const span = document.createElement("span");
              span.className = "error field-error live-error";
              span.textContent = q.message;
              input.insertAdjacentElement("afterend", span);
            }
          }
        }
      } catch (e) { state.textContent = "…"; }
    };
    form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 400); });
    refresh();
  };

  window.crmsim = crmsim;
})();
