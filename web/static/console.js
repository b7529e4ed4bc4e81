/* crmsim: the instructor console's live monitor. Polls /api/games/<id>/version (which also resolves a game
   set to resolve at its deadline); when the version changes it swaps in the monitor, and reloads the page
   when the period or the status changed (new buttons, new results). No framework. */
(function () {
  "use strict";
  function live() {
    const box = document.getElementById("monitor");
    if (!box) return;
    const game = box.dataset.game;
    let version = box.dataset.version;
    const poll = async () => {
      try {
        const v = await (await fetch(`/api/games/${game}/version`, { cache: "no-store" })).json();
        if (String(v.version) === String(version)) return;
        if (String(v.period) !== box.dataset.period || v.status !== box.dataset.status) {
          const typing = document.activeElement && ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
          if (!typing) { window.location.reload(); return; }
        }
        const html = await (await fetch(`/instructor/games/${game}?partial=1`, { cache: "no-store" })).text();
        box.innerHTML = html;
        version = v.version;
        box.dataset.version = version;
      } catch (e) { /* the server may be restarting: try again */ }
    };
    setInterval(poll, 1000 * (parseFloat(box.dataset.poll) || 3));
  }
  window.crmsimConsole = { live };
})();
