// Dashboard overview: live figures (seed 5.1), charts of messages and response times per
// hour over a chosen range (5.2), agents' workload (5.4) and the waiting queue (2.5). The
// live parts follow the server's pushed `workload` and `waiting` frames (admin.js's
// socket); the REST figures are read at start and every 30 s for what is not pushed.
import { duration, h, mount } from "./dom.js";
import { t } from "./i18n.js";
import { barChart, lineChart } from "./charts.js";
import { badge, panel, Poller, seconds, stat, table } from "./admin-ui.js";
import { tagFiguresPanel } from "./admin-tags.js";

const DAY_MS = 86400000;

export class OverviewSection {
  constructor(api) {
    this.api = api;
    this.error = h("p", { class: "form-error", role: "alert" });
    this.cards = h("div", { class: "stats" });
    this.msgChart = h("div", { class: "chart" });
    this.respChart = h("div", { class: "chart" });
    this.chartNote = h("p", { class: "muted" });
    this.msgTitle = h("figcaption");
    this.respTitle = h("figcaption");
    this.workload = h("div");
    this.queue = h("div");
    this.range = h("select", { "aria-label": t("admin.range") },
      ["24h", "7d", "30d", "custom"].map((v) => h("option", { value: v }, t(`admin.range.${v}`))));
    this.range.value = "24h";
    const today = new Date().toISOString().slice(0, 10);
    this.startDate = h("input", { type: "date", value: today, "aria-label": t("admin.start"), hidden: true });
    this.endDate = h("input", { type: "date", value: today, "aria-label": t("admin.end"), hidden: true });
    this.range.addEventListener("change", () => {
      const custom = this.range.value === "custom";
      this.startDate.hidden = !custom;
      this.endDate.hidden = !custom;
      this.charts.run();
    });
    for (const el of [this.startDate, this.endDate]) el.addEventListener("change", () => this.charts.run());
    this.live = new Poller(() => this.loadLive(), 30000, this.error);
    this.o = null; // /api/analytics/overview, patched by pushes
    this.perf = null; // /api/analytics/performance, its agents patched by pushes
    this.waiting = []; // the queue, as pushed (or read)
    this.charts = new Poller(() => this.loadCharts(), 60000, this.error);
  }

  render() {
    return h("div", { class: "section" }, this.error, this.cards,
      panel(t("admin.charts"), h("div", {}, this.chartNote,
        h("div", { class: "chart-grid" },
          h("figure", {}, this.msgTitle, this.msgChart),
          h("figure", {}, this.respTitle, this.respChart))),
      this.range, this.startDate, this.endDate),
      h("div", { class: "two-col" },
        panel(t("admin.workload"), this.workload),
        panel(t("admin.queue"), this.queue)),
      tagFiguresPanel(this.api)); // issue 15: sessions by tag
  }

  start() {
    this.live.start();
    this.charts.start();
  }

  stop() {
    this.live.stop();
    this.charts.stop();
  }

  bounds() {
    const now = Date.now();
    switch (this.range.value) {
      case "7d": return [new Date(now - 7 * DAY_MS).toISOString(), new Date(now).toISOString()];
      case "30d": return [new Date(now - 30 * DAY_MS).toISOString(), new Date(now).toISOString()];
      case "custom": return [this.startDate.value, this.endDate.value];
      default: return [new Date(now - DAY_MS).toISOString(), new Date(now).toISOString()];
    }
  }

  async loadLive() {
    const [o, perf, waiting] = await Promise.all([
      this.api.get("/api/analytics/overview"),
      this.api.get("/api/analytics/performance"),
      this.api.get("/api/kefu/waiting"),
    ]);
    this.o = o;
    this.perf = perf;
    this.waiting = waiting.waiting_customers;
    this.drawLive();
  }

  /** A frame from the dashboard's socket: live loads and the queue, as they change. */
  onFrame(f) {
    if (f.type === "waiting") {
      this.waiting = f.waiting_customers;
    } else if (f.type === "workload" && this.o && this.perf) {
      this.o.online_kefu = f.agents.filter((a) => a.status === "online").length;
      this.o.total_kefu = f.agents.length;
      this.o.waiting_customers = f.waiting.total;
      this.o.active_sessions = f.active_sessions;
      const live = new Map(f.agents.map((a) => [a.kefu_id, a]));
      this.perf.agents = this.perf.agents.filter((a) => live.has(a.kefu_id)).map((a) => {
        const l = live.get(a.kefu_id);
        return { ...a, status: l.status, active_sessions: l.active_sessions, max_sessions: l.max_sessions,
          utilization_rate: l.max_sessions ? Math.round(1000 * l.active_sessions / l.max_sessions) / 10 : 0 };
      });
      for (const a of f.agents) { // agents created since the last read
        if (!this.perf.agents.some((p) => p.kefu_id === a.kefu_id)) {
          this.perf.agents.push({ kefu_id: a.kefu_id, name: a.name, status: a.status,
            active_sessions: a.active_sessions, max_sessions: a.max_sessions,
            utilization_rate: a.max_sessions ? Math.round(1000 * a.active_sessions / a.max_sessions) / 10 : 0,
            avg_response_time_seconds: null, satisfaction: null, ratings: 0 });
        }
      }
    } else {
      return;
    }
    this.drawLive();
  }

  drawLive() {
    const o = this.o;
    const perf = this.perf;
    if (!o || !perf) return;
    const waiting = { waiting_customers: this.waiting };
    mount(this.cards,
      stat(t("admin.online_kefu"), `${o.online_kefu} / ${o.total_kefu}`, t("admin.online_kehu", { n: o.online_kehu }), "blue"),
      stat(t("admin.waiting"), String(o.waiting_customers), null, o.waiting_customers ? "amber" : ""),
      stat(t("admin.active_sessions"), String(o.active_sessions), t("admin.sessions_today", { n: o.sessions_today }), "green"),
      stat(t("admin.messages_today"), String(o.messages_today), t("admin.messages_range", { n: o.total_messages })),
      stat(t("admin.avg_response"), seconds(perf.avg_response_time_seconds), t("admin.responses", { n: perf.responses })),
      stat(t("admin.satisfaction"), perf.avg_satisfaction ? perf.avg_satisfaction.toFixed(2) : "-",
        t("admin.rated", { n: perf.rated_sessions })));
    mount(this.workload, table(
      [t("admin.col.agent"), t("admin.col.status"), t("admin.col.load"), t("admin.col.util"),
        t("admin.col.avg_resp"), t("admin.col.satisfaction")],
      agentsByLoad(perf.agents).map((a) => [
        h("span", {}, h("strong", {}, a.name), h("br"), h("small", { class: "muted" }, a.kefu_id)),
        badge(t(`status.${a.status}`), a.status),
        `${a.active_sessions} / ${a.max_sessions}`,
        utilBar(a.utilization_rate),
        seconds(a.avg_response_time_seconds),
        a.satisfaction ? `${a.satisfaction.toFixed(2)} (${a.ratings})` : "-",
      ]), { label: t("admin.workload") }));
    const now = Date.now() / 1000;
    mount(this.queue, table(
      [t("admin.col.pos"), t("admin.col.customer"), t("admin.col.priority"), t("admin.col.waited"), t("admin.col.note")],
      waiting.waiting_customers.map((w) => [
        String(w.position),
        h("span", { class: "who" }, h("span", { class: `dot${w.status === "Online" ? " online" : ""}`,
          title: t(w.status === "Online" ? "presence.online" : "presence.offline") }), w.customer_name),
        badge(t(`prio.${w.priority}`), w.priority),
        duration(now - w.waiting_since, t),
        w.note || "",
      ]), { label: t("admin.queue") }));
  }

  async loadCharts() {
    const [start, end] = this.bounds();
    const data = await this.api.get("/api/analytics/messages", { start_date: start, end_date: end });
    const spanDays = (new Date(data.end_date) - new Date(data.start_date)) / DAY_MS;
    const hourly = data.hourly && spanDays <= 7.01;
    const rows = hourly
      ? data.hourly.map((b) => ({ ...b, label: hourLabel(b.hour, spanDays > 1.01) }))
      : data.daily.map((b) => ({ ...b, label: b.date.slice(5) }));
    this.chartNote.textContent = t("admin.chart_range", {
      start: new Date(data.start_date).toLocaleString(t("locale"), { hour12: false }),
      end: new Date(data.end_date).toLocaleString(t("locale"), { hour12: false }),
      total: data.totals.messages });
    const unit = hourly ? "hour" : "day";
    this.msgTitle.textContent = t(`admin.chart_msgs_${unit}`);
    this.respTitle.textContent = t(`admin.chart_resp_${unit}`);
    barChart(this.msgChart, rows.map((r) => ({ label: r.label, value: r.messages,
      title: t("admin.tip_msgs", { label: r.label, n: r.messages, kefu: r.kefu_messages, kehu: r.kehu_messages }) })),
    { label: t(`admin.chart_msgs_${unit}`) });
    lineChart(this.respChart, rows.map((r) => ({ label: r.label, value: r.avg_response_time_seconds,
      title: t("admin.tip_resp", { label: r.label, s: r.avg_response_time_seconds ?? "-", n: r.responses }) })),
    { label: t(`admin.chart_resp_${unit}`) });
  }
}

/** Agents online first, then the busiest, so the ones that matter now are on top. */
function agentsByLoad(agents) {
  return [...agents].sort((a, b) => (a.status === "offline") - (b.status === "offline")
    || b.active_sessions - a.active_sessions || a.name.localeCompare(b.name));
}

function hourLabel(iso, withDay) {
  const d = new Date(iso);
  const hh = `${String(d.getHours()).padStart(2, "0")}:00`;
  return withDay ? `${d.getMonth() + 1}/${d.getDate()} ${hh}` : hh;
}

function utilBar(rate) {
  const fill = h("span", { class: `util-fill${rate >= 100 ? " full" : rate >= 80 ? " high" : ""}` });
  fill.style.width = `${Math.min(100, rate)}%`;
  return h("span", { class: "util" }, h("span", { class: "util-track" }, fill),
    h("span", { class: "util-text" }, `${rate}%`));
}
