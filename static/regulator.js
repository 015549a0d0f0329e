// The trace page's two charts as inline SVG, from the JSON the page carries: credited minutes per day (bars)
// and time at the player per day and hour of day, China Standard Time (heat map). No library, no network.
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const dataEl = document.getElementById("trace-charts");
  if (!dataEl) return;
  const data = JSON.parse(dataEl.textContent);

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function titled(node, text) {
    node.appendChild(el("title", {}, text));
    return node;
  }

  function empty(target, text) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = text;
    target.appendChild(p);
  }

  function dailyChart(target, days) {
    if (!days.length) return empty(target, "暂无有效学时。");
    const minutes = days.map(function (d) { return d.credited_seconds / 60; });
    const capMinutes = 8 * 45;  // the daily cap: 8 class hours of 45 minutes
    const top = Math.max(capMinutes, Math.max.apply(null, minutes));
    const bar = Math.max(6, Math.min(28, Math.floor(900 / days.length)));
    const left = 44, bottom = 36, height = 180;
    const width = Math.max(360, left + days.length * (bar + 2) + 10);
    const svg = el("svg", { viewBox: "0 0 " + width + " " + (height + bottom + 22), width: width, role: "img",
                            "aria-label": "每日有效学时（分钟）" });
    const y = function (m) { return 22 + height - (m / top) * height; };
    [0, 90, 180, 270, 360].filter(function (m) { return m <= top; }).forEach(function (m) {
      svg.appendChild(el("line", { x1: left, x2: width - 4, y1: y(m), y2: y(m), stroke: "#e4e9ef" }));
      svg.appendChild(el("text", { x: left - 6, y: y(m) + 4, "text-anchor": "end", "font-size": 10, fill: "#5f6b7a" }, m));
    });
    svg.appendChild(titled(el("line", { x1: left, x2: width - 4, y1: y(capMinutes), y2: y(capMinutes), stroke: "#c5221f",
                                        "stroke-dasharray": "4 3" }), "每日上限 8 课时（360 分钟）"));
    const every = Math.ceil(days.length / 12);
    days.forEach(function (d, i) {
      const x = left + i * (bar + 2);
      const m = minutes[i];
      svg.appendChild(titled(el("rect", { x: x, y: y(m), width: bar, height: Math.max(0, y(0) - y(m)), fill: "#2e9d57",
                                          "class": "day-bar", "data-day": d.day }),
                             d.day + "：" + m.toFixed(1) + " 分钟（" + (m / 45).toFixed(2) + " 课时）"));
      if (i % every === 0) {
        svg.appendChild(el("text", { x: x + bar / 2, y: height + 38, "text-anchor": "middle", "font-size": 10, fill: "#5f6b7a" },
                           d.day.slice(5)));
      }
    });
    svg.appendChild(el("text", { x: 4, y: 10, "font-size": 10, fill: "#5f6b7a" }, "分钟"));
    target.appendChild(svg);
  }

  function heatMap(target, hours) {
    const days = hours.days;
    if (!days.length) return empty(target, "暂无学习记录。");
    const cell = 18, left = 74, top = 22;
    const rows = days.concat([{ day: "合计", hours: hours.totals, total: true }]);
    const width = left + 24 * cell + 8, height = top + rows.length * cell + 8;
    const svg = el("svg", { viewBox: "0 0 " + width + " " + height, width: width, role: "img",
                            "aria-label": "按小时的学习时段（北京时间）" });
    for (let h = 0; h < 24; h += 1) {
      svg.appendChild(el("text", { x: left + h * cell + cell / 2, y: top - 8, "text-anchor": "middle", "font-size": 9,
                                   fill: (h < 5 ? "#c5221f" : "#5f6b7a") }, h));
    }
    const maxTotal = Math.max.apply(null, hours.totals.concat([1]));
    rows.forEach(function (row, r) {
      const y = top + r * cell;
      svg.appendChild(el("text", { x: left - 6, y: y + cell * 0.7, "text-anchor": "end", "font-size": 10,
                                   fill: "#1d2733" }, row.day));
      row.hours.forEach(function (seconds, h) {
        const share = row.total ? seconds / maxTotal : seconds / 3600;
        const colour = share > 0 ? "rgba(31, 78, 140, " + (0.15 + 0.85 * Math.min(1, share)).toFixed(3) + ")" : "#f1f4f8";
        svg.appendChild(titled(el("rect", { x: left + h * cell + 1, y: y + 1, width: cell - 2, height: cell - 2, rx: 2,
                                            fill: colour, "class": "hour-cell" + (h < 5 && seconds > 0 ? " night" : "") }),
                               row.day + " " + h + ":00–" + (h + 1) + ":00 学习 " + (seconds / 60).toFixed(1) + " 分钟"));
        if (h < 5 && seconds > 0) {
          svg.appendChild(el("rect", { x: left + h * cell + 1, y: y + 1, width: cell - 2, height: cell - 2, rx: 2,
                                       fill: "none", stroke: "#c5221f", "stroke-width": 1.5 }));
        }
      });
    });
    target.appendChild(svg);
  }

  const daily = document.getElementById("daily-chart");
  const heat = document.getElementById("hour-heatmap");
  if (daily) dailyChart(daily, data.daily || []);
  if (heat) heatMap(heat, data.hours || { days: [], totals: [] });
})();
