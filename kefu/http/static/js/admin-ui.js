// Small building blocks of the dashboard: panels, tables, stat cards, formatters, a
// refresher that polls while its section is shown.
import { h } from "./dom.js";
import { t } from "./i18n.js";

export function panel(title, body, ...actions) {
  return h("section", { class: "panel" },
    h("header", { class: "panel-head" }, h("h2", {}, title),
      actions.length ? h("div", { class: "panel-actions" }, actions) : null),
    body);
}

/** A table; rows are arrays of cells (strings or nodes). Empty → one "no data" row. */
export function table(headers, rows, { label } = {}) {
  return h("div", { class: "table-wrap" },
    h("table", { class: "table", "aria-label": label || null },
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows.length
        ? rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))
        : h("tr", {}, h("td", { colspan: headers.length, class: "empty" }, t("admin.no_data"))))));
}

export function stat(label, value, sub = null, kind = "") {
  return h("div", { class: `stat ${kind}` }, h("div", { class: "stat-label" }, label),
    h("div", { class: "stat-value" }, value), sub ? h("div", { class: "stat-sub" }, sub) : null);
}

export function badge(text, kind) {
  return h("span", { class: `tag tag-${kind}` }, text);
}

export function when(iso) {
  if (!iso) return "-";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "-" : d.toLocaleString(t("locale"), { hour12: false });
}

export function seconds(v) {
  return v === null || v === undefined ? "-" : t("admin.seconds", { n: Number(v).toFixed(1) });
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Runs `fn` now and every `ms` until stopped; errors are shown in `errorBox`. */
export class Poller {
  constructor(fn, ms, errorBox = null) {
    this.fn = fn;
    this.ms = ms;
    this.errorBox = errorBox;
    this.timer = null;
  }

  async run() {
    try {
      await this.fn();
      if (this.errorBox) this.errorBox.textContent = "";
    } catch (err) {
      if (this.errorBox) this.errorBox.textContent = err.message;
    }
  }

  start() {
    this.run();
    if (this.ms) this.timer = setInterval(() => this.run(), this.ms);
  }

  stop() {
    clearInterval(this.timer);
  }
}
