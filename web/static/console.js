/* crmsim: the instructor console's live monitor. Polls /api/games/<id>/version (which also resolves a game
   set to resolve at its deadline); when the version changes it swaps in the monitor, and reloads the page
   when the period or the status changed (new buttons, new results). No framework. */
(function () {
  "use strict";
  function live() {
    const box = document.getElementById("monitor");
    if (!box) return;
    crmsim.watchVersion(box, async (v) => {
      if (String(v.period) !== box.dataset.period || v.status !== box.dataset.status) {
        const typing = document.activeElement && ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
        if (!typing) { window.location.reload(); return false; }
      }
      box.innerHTML = await (await fetch(`/instructor/games/${box.dataset.game}?partial=1`, { cache: "no-store" })).text();
    });
  }
  window.crmsimConsole = { live };
})();
