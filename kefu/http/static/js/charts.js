// Two small inline-SVG charts (bars and a line) for the dashboard: no chart library.
// The SVG scales with its container (viewBox); each point carries a <title> tooltip,
// and the chart an aria-label that summarises it.
import { h, mount } from "./dom.js";

const W = 720;
const H = 240;
const PAD = { top: 16, right: 12, bottom: 34, left: 46 };

/** A "nice" upper bound for the y axis (1, 2, 5 × 10^n). */
function niceMax(value) {
  if (value <= 0) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * exp >= value) return m * exp;
  return 10 * exp;
}

/** Axis labels with as many decimals as the scale needs. */
function tickFormat(step) {
  const digits = step >= 1 ? 0 : step >= 0.1 ? 1 : 2;
  return (v) => (Number.isInteger(v) ? String(v) : v.toFixed(digits));
}

function frame(points, yMax, label) {
  const svg = h("svg:svg", { viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "img",
    "aria-label": label });
  const plotH = H - PAD.top - PAD.bottom;
  const ticks = yMax / 10 ** Math.floor(Math.log10(yMax)) === 2 ? 4 : 5;
  const axisFmt = tickFormat(yMax / ticks);
  for (let i = 0; i <= ticks; i += 1) {
    const y = PAD.top + plotH - (plotH * i) / ticks;
    svg.append(h("svg:line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "grid" }));
    svg.append(h("svg:text", { x: PAD.left - 6, y: y + 4, class: "axis", "text-anchor": "end" },
      axisFmt((yMax * i) / ticks)));
  }
  const step = Math.max(1, Math.ceil(points.length / 8));
  const bw = (W - PAD.left - PAD.right) / Math.max(points.length, 1);
  points.forEach((p, i) => {
    if (i % step !== 0) return;
    svg.append(h("svg:text", { x: PAD.left + bw * i + bw / 2, y: H - 12, class: "axis",
      "text-anchor": "middle" }, p.label));
  });
  return { svg, bw, plotH };
}

/** Bars: points = [{label, value, title}]. */
export function barChart(container, points, { label } = {}) {
  const max = niceMax(Math.max(5, ...points.map((p) => p.value || 0)));
  const { svg, bw, plotH } = frame(points, max, label);
  points.forEach((p, i) => {
    const hgt = ((p.value || 0) / max) * plotH;
    const bar = h("svg:rect", { x: PAD.left + bw * i + bw * 0.15, y: PAD.top + plotH - hgt,
      width: Math.max(bw * 0.7, 1), height: Math.max(hgt, p.value ? 1 : 0), rx: 2, class: "bar" });
    bar.append(h("svg:title", {}, p.title || `${p.label}: ${p.value}`));
    svg.append(bar);
  });
  mount(container, svg);
}

/** A line with dots; points with value null leave a gap. */
export function lineChart(container, points, { label, fmt = (v) => v.toFixed(1) } = {}) {
  const max = niceMax(Math.max(0, ...points.map((p) => p.value ?? 0)));
  const { svg, bw, plotH } = frame(points, max, label);
  let d = "";
  let pen = false;
  points.forEach((p, i) => {
    if (p.value === null || p.value === undefined) {
      pen = false;
      return;
    }
    const x = PAD.left + bw * i + bw / 2;
    const y = PAD.top + plotH - (p.value / max) * plotH;
    d += `${pen ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)} `;
    pen = true;
    const dot = h("svg:circle", { cx: x, cy: y, r: 3.5, class: "pt" });
    dot.append(h("svg:title", {}, p.title || `${p.label}: ${fmt(p.value)}`));
    svg.append(dot);
  });
  if (d) svg.insertBefore(h("svg:path", { d, class: "line" }), svg.querySelector("circle"));
  mount(container, svg);
}
