// MultiVip dashboard: confirmation prompts, a live refresh of member health and traffic, the
// 15-minute traffic charts (the vendored uPlot) and the column labels of tables stacked on narrow
// screens. Everything else is plain HTML forms, so the page works without this script.
"use strict";

// The one time format of the dashboard, the same as the server's Html.When: UTC, to the second.
const when = (date) => date.toISOString().slice(0, 19).replace("T", " ") + "Z";

document.addEventListener("submit", (event) => {
  const message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// Below 720 px tables stack into one block per row; each cell shows its column's name.
const labelCells = (root) => {
  for (const table of root.querySelectorAll("table")) {
    const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, i) => {
        if (!cell.hasAttribute("colspan") && names[i]) {
          cell.setAttribute("data-label", names[i]);
        }
      });
    }
  }
};
labelCells(document);

const signedOut = (response) => response.redirected || response.status === 401;

const live = document.getElementById("live");
if (live) {
  const status = document.getElementById("live-status");
  const url = live.getAttribute("data-live-url");
  const refresh = async () => {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } });
      if (signedOut(response)) {
        window.location.reload(); // signed out: the reload lands on the sign-in page
        return;
      }
      if (response.ok) {
        live.innerHTML = await response.text();
        labelCells(live);
        status.textContent = "updated " + when(new Date());
      }
    } catch {
      status.textContent = "server unreachable, retrying";
    }
  };
  setInterval(refresh, 2000);
}

const charts = document.getElementById("charts");
if (charts && window.uPlot) {
  const url = charts.getAttribute("data-traffic-url");
  const status = document.getElementById("charts-status");
  const palette = ["#2b5fd9", "#1f8a4c", "#c62828", "#b7791f", "#7b3fb5", "#0f8a9d", "#d0458a", "#5b6475"];
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  const bytes = (v) => {
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? Math.round(v) : v.toFixed(1)) + " " + units[i] + "/s";
  };
  const perSecond = (v) => (v < 10 ? Math.round(v * 100) / 100 : Math.round(v)) + "/s";
  const drawn = new Map(); // chart box id -> { plot, key }

  const draw = (id, times, series, field, format) => {
    const box = document.getElementById(id);
    const key = series.map((s) => s.name).join("\n");
    const data = [times, ...series.map((s) => s[field])];
    const points = series.reduce((n, s) => n + s[field].filter((v) => v !== null).length, 0);
    box.setAttribute("data-series", series.map((s) => s.name).join(","));
    box.setAttribute("data-points", String(points));
    box.setAttribute("data-max", String(Math.max(0, ...series.flatMap((s) => s[field].filter((v) => v !== null)))));
    const existing = drawn.get(id);
    if (existing && existing.key === key) {
      existing.plot.setData(data);
      return;
    }
    if (existing) {
      existing.plot.destroy();
    }
    box.textContent = "";
    const plot = new window.uPlot({
      width: Math.max(200, box.clientWidth),
      height: 180,
      tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      series: [
        { label: "Time", value: (u, v) => (v == null ? "" : when(new Date(v * 1000))) },
        ...series.map((s, i) => ({
          label: s.name,
          stroke: palette[i % palette.length],
          width: 2,
          spanGaps: false,
          value: (u, v) => (v == null ? "" : format(v)),
        })),
      ],
      axes: [
        { values: (u, splits) => splits.map((v) => when(new Date(v * 1000)).slice(11)) },
        { values: (u, splits) => splits.map(format), size: 70 },
      ],
    }, data, box);
    drawn.set(id, { plot, key });
  };

  const refresh = async () => {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (signedOut(response)) {
        window.location.reload();
        return;
      }
      if (!response.ok) {
        return;
      }
      const t = await response.json();
      draw("chart-vip-connections", t.times, t.virtualIps, "connectionsPerSecond", perSecond);
      draw("chart-vip-bytes", t.times, t.virtualIps, "bytesPerSecond", bytes);
      draw("chart-backend-connections", t.times, t.backends, "connectionsPerSecond", perSecond);
      draw("chart-backend-bytes", t.times, t.backends, "bytesPerSecond", bytes);
      charts.setAttribute("data-samples", String(t.times.length));
      status.textContent = t.times.length === 0 ? "collecting the first samples" : "updated " + when(new Date());
    } catch {
      status.textContent = "server unreachable, retrying";
    }
  };
  window.addEventListener("resize", () => {
    for (const [id, { plot }] of drawn) {
      plot.setSize({ width: Math.max(200, document.getElementById(id).clientWidth), height: 180 });
    }
  });
  refresh();
  setInterval(refresh, 5000);
}
