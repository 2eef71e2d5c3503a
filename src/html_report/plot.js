// The curves of `expr report`: one SVG per metric, a line per run, drawn from the JSON in
// #expr-data. Vanilla JavaScript and nothing loaded: the page must work offline, alone.
// Hovering a plot shows the epoch under the pointer and every run's value there.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var W = 640, H = 300, L = 72, R = 16, T = 16, B = 40;
  var data = JSON.parse(document.getElementById("expr-data").textContent);

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function fmt(v) {
    if (v === null || !isFinite(v)) return "-";
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toPrecision(4);
  }

  function draw(holder, metric) {
    var epochs = 0, lo = Infinity, hi = -Infinity;
    metric.series.forEach(function (s) {
      if (!s) return;
      epochs = Math.max(epochs, s.length);
      s.forEach(function (v) {
        if (v !== null && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      });
    });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (lo === hi) { lo -= 0.5; hi += 0.5; }
    var x = function (e) { return L + (epochs > 1 ? (e - 1) / (epochs - 1) : 0.5) * (W - L - R); };
    var y = function (v) { return T + (hi - v) / (hi - lo) * (H - T - B); };
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H,
      role: "img", "aria-label": metric.name }, holder);
    el("rect", { x: L, y: T, width: W - L - R, height: H - T - B, class: "frame" }, svg);
    for (var i = 0; i <= 4; i++) {
      var v = lo + (hi - lo) * i / 4;
      el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }, svg);
      el("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, svg).textContent = fmt(v);
    }
    var step = Math.max(1, Math.ceil(epochs / 10));
    for (var e = 1; e <= epochs; e += step) {
      el("text", { x: x(e), y: H - B + 16, "text-anchor": "middle" }, svg).textContent = e;
    }
    el("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, svg).textContent = "epoch";
    metric.series.forEach(function (s, r) {
      if (!s) return;
      var d = "", pen = false;
      s.forEach(function (v, i) {
        if (v === null || !isFinite(v)) { pen = false; return; }
        d += (pen ? "L" : "M") + x(i + 1).toFixed(2) + " " + y(v).toFixed(2);
        pen = true;
      });
      el("path", { d: d, class: "curve", stroke: data.runs[r].color, "data-run": data.runs[r].label }, svg);
      if (s.length === 1 && s[0] !== null) {
        el("circle", { cx: x(1), cy: y(s[0]), r: 3, fill: data.runs[r].color }, svg);
      }
    });
    var cursor = el("line", { y1: T, y2: H - B, class: "cursor", visibility: "hidden" }, svg);
    var dots = metric.series.map(function (s, r) {
      return el("circle", { r: 4, fill: data.runs[r].color, visibility: "hidden" }, svg);
    });
    var tip = document.createElement("div");
    tip.className = "tip";
    tip.hidden = true;
    holder.appendChild(tip);
    svg.addEventListener("mousemove", function (ev) {
      var box = svg.getBoundingClientRect();
      var px = (ev.clientX - box.left) * W / box.width;
      var e = epochs > 1 ? Math.round((px - L) / (W - L - R) * (epochs - 1)) + 1 : 1;
      e = Math.min(Math.max(e, 1), epochs);
      if (epochs === 0) return;
      cursor.setAttribute("x1", x(e));
      cursor.setAttribute("x2", x(e));
      cursor.setAttribute("visibility", "visible");
      var lines = ["epoch " + e];
      metric.series.forEach(function (s, r) {
        var v = s && e <= s.length ? s[e - 1] : null;
        if (v === null || !isFinite(v)) { dots[r].setAttribute("visibility", "hidden"); return; }
        dots[r].setAttribute("cx", x(e));
        dots[r].setAttribute("cy", y(v));
        dots[r].setAttribute("visibility", "visible");
        lines.push(data.runs[r].label + ": " + fmt(v));
      });
      tip.textContent = lines.join("\n");
      tip.hidden = false;
      tip.style.left = (ev.clientX - box.left + 12) + "px";
      tip.style.top = (ev.clientY - box.top + 12) + "px";
    });
    svg.addEventListener("mouseleave", function () {
      tip.hidden = true;
      cursor.setAttribute("visibility", "hidden");
      dots.forEach(function (d) { d.setAttribute("visibility", "hidden"); });
    });
    var legend = document.createElement("ul");
    legend.className = "legend";
    data.runs.forEach(function (run, r) {
      if (!metric.series[r]) return;
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = run.color;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(run.label + " " + run.name));
      legend.appendChild(item);
    });
    holder.appendChild(legend);
    holder.setAttribute("data-plot-drawn", "true");
  }

  var holders = document.querySelectorAll(".plot");
  for (var i = 0; i < holders.length; i++) {
    draw(holders[i], data.metrics[Number(holders[i].getAttribute("data-metric"))]);
  }
  document.body.setAttribute("data-plots-drawn", String(holders.length));
})();
