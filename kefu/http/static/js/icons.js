// A few line icons as inline SVG (no icon font, no emoji font needed).
import { h } from "./dom.js";

const PATHS = {
  link: ["M10 14a4.5 4.5 0 0 0 6.4 0l3.2-3.2a4.5 4.5 0 0 0-6.4-6.4L11.6 6",
    "M14 10a4.5 4.5 0 0 0-6.4 0l-3.2 3.2a4.5 4.5 0 0 0 6.4 6.4l1.6-1.6"],
  file: ["M20.5 11.5l-8.2 8.2a5 5 0 0 1-7.1-7.1l8.6-8.6a3.4 3.4 0 0 1 4.8 4.8l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l7.8-7.8"],
  video: ["M3 6.5h12v11H3z", "M15 10l6-3.5v11L15 14"],
  voice: ["M4 9.5h4l5-4v13l-5-4H4z", "M16.5 8.5a5 5 0 0 1 0 7", "M19 6a8.5 8.5 0 0 1 0 12"],
  chat: ["M20.5 12a8.5 8.5 0 0 1-12.3 7.6L3.5 21l1.4-4.5A8.5 8.5 0 1 1 20.5 12z"],
};

/** An icon element (decorative: aria-hidden). */
export function icon(name, size = 18) {
  return h("svg:svg", { viewBox: "0 0 24 24", width: size, height: size, fill: "none",
    stroke: "currentColor", "stroke-width": 2, "stroke-linecap": "round",
    "stroke-linejoin": "round", "aria-hidden": "true", class: "icon" },
  (PATHS[name] || PATHS.link).map((d) => h("svg:path", { d })));
}
