/* crmsim: draw every chart spec on the page with the vendored ECharts (web/static/vendor/echarts).
   A spec (web/chartspec.py) is JSON in <script type="application/json" id=...>, named by the canvas's
   data-chart attribute. Axes show ¥ and %; the legend sits below the plot so it never covers the data.
   window.crmsimCharts.render(root) draws (or redraws) the charts under root: live pages call it after
   swapping in new HTML. */
(function () {
  "use strict";
  const zh = (document.documentElement.lang || "").startsWith("zh");
  const money = (v) => {
    if (v === null || v === undefined) return "–";
    const a = Math.abs(v), s = v < 0 ? "-" : "";
    if (zh && a >= 1e4) return s + "¥" + (a / 1e4).toFixed(a >= 1e5 ? 0 : 1) + "万";
    if (!zh && a >= 1e6) return s + "¥" + (a / 1e6).toFixed(1) + "M";
    if (!zh && a >= 1e3) return s + "¥" + (a / 1e3).toFixed(0) + "k";
    return s + "¥" + Math.round(a).toLocaleString();
  };
  const formatter = (unit) => ({
    yuan: money,
    percent: (v) => (v === null || v === undefined ? "–" : (v * 100).toFixed(0) + "%"),
    count: (v) => (v === null || v === undefined ? "–" : Math.round(v).toLocaleString()),
  }[unit] || ((v) => (v === null || v === undefined ? "–" : (+v).toFixed(2))));

  function option(spec) {
    const f = formatter(spec.unit);
    const big = !!spec.big;
    const text = big ? 18 : 12;
    const stack = spec.kind === "stack";
    return {
      color: spec.palette,  // the firms' colours: web/chartspec.py FIRM_COLOURS
      animation: false,
      textStyle: { fontSize: text },
      grid: { left: 8, right: 16, top: 16, bottom: big ? 72 : 56, containLabel: true },
      legend: { type: "scroll", bottom: 0, textStyle: { fontSize: text } },
      tooltip: { trigger: "axis", valueFormatter: f },
      xAxis: { type: "category", data: spec.categories, name: spec.x_label, nameLocation: "middle", nameGap: big ? 30 : 24,
               axisLabel: { fontSize: text } },
      yAxis: { type: "value", axisLabel: { formatter: f, fontSize: text }, scale: !stack && spec.unit !== "percent" },
      series: spec.series.map((s) => ({
        name: s.name, data: s.data, type: spec.kind === "line" ? "line" : "bar", stack: stack ? "all" : undefined,
        symbolSize: big ? 8 : 5, lineStyle: { width: big ? 4 : 2 }, connectNulls: false,
      })),
    };
  }

  function render(root) {
    if (typeof echarts === "undefined") return;
    (root || document).querySelectorAll("[data-chart]").forEach((el) => {
      const data = document.getElementById(el.dataset.chart);
      if (!data) return;
      const spec = JSON.parse(data.textContent);
      const old = echarts.getInstanceByDom(el);
      if (old) old.dispose();
      echarts.init(el, null, { renderer: "svg" }).setOption(option(spec));
      el.dataset.drawn = "1";
    });
  }

  window.addEventListener("resize", () => document.querySelectorAll("[data-chart]").forEach((el) => {
    const c = typeof echarts !== "undefined" && echarts.getInstanceByDom(el);
    if (c) c.resize();
  }));
  window.crmsimCharts = { render, money };
  document.addEventListener("DOMContentLoaded", () => render(document));
})();
