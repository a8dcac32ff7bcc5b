// Session search (seed 1.1 filters, or 4.3 message search by keyword) and a session's
// transcript with its participants and statistics (1.2, 1.3 with system events).
import { h, mount } from "./dom.js";
import { t } from "./i18n.js";
import { renderTimeline, systemText } from "./timeline.js";
import { badge, panel, seconds, table, when } from "./admin-ui.js";
import { searchTagged, tagChips } from "./admin-tags.js";

export class SessionsSection {
  constructor(api) {
    this.api = api;
    this.page = 1;
    this.keyword = h("input", { type: "search", name: "keyword", maxlength: 200, placeholder: t("admin.keyword_ph") });
    this.kefuId = h("input", { name: "kefu_id", maxlength: 64, placeholder: t("admin.kefu_id_ph") });
    this.tag = h("input", { name: "tag", maxlength: 40, placeholder: t("admin.tag_ph") }); // issue 15
    this.status = h("select", { name: "status" }, h("option", { value: "" }, t("admin.any_status")),
      ["active", "completed", "transferred"].map((s) => h("option", { value: s }, t(`sstatus.${s}`))));
    this.startDate = h("input", { type: "date", name: "start_date", "aria-label": t("admin.start") });
    this.endDate = h("input", { type: "date", name: "end_date", "aria-label": t("admin.end") });
    this.results = h("div");
    this.pager = h("div", { class: "pager" });
    this.error = h("p", { class: "form-error", role: "alert" });
    this.transcript = h("div", { class: "transcript-box" }, h("p", { class: "muted" }, t("admin.pick_session")));
  }

  render() {
    const form = h("form", { class: "filters", onsubmit: (ev) => { ev.preventDefault(); this.page = 1; this.search(); } },
      label(t("admin.keyword"), this.keyword), label(t("admin.kefu"), this.kefuId), label(t("admin.tag"), this.tag),
      label(t("admin.col.status"), this.status), label(t("admin.start"), this.startDate),
      label(t("admin.end"), this.endDate),
      h("button", { type: "submit", class: "btn btn-primary" }, t("admin.search")));
    return h("div", { class: "section" },
      panel(t("admin.session_search"), h("div", {}, form, this.error, this.results, this.pager)),
      panel(t("admin.transcript"), this.transcript));
  }

  start() {
    this.search();
  }

  stop() {}

  async search() {
    this.error.textContent = "";
    try {
      if (this.keyword.value.trim() && this.tag.value.trim()) await searchTagged(this, this.keyword.value.trim(), this.tag.value.trim());
      else if (this.keyword.value.trim()) await this.searchMessages();
      else await this.listSessions();
    } catch (err) {
      this.error.textContent = err.message;
    }
  }

  async listSessions() {
    const data = await this.api.get("/api/sessions/list", {
      page: this.page, limit: 20, kefu_id: this.kefuId.value.trim(), status: this.status.value,
      start_date: this.startDate.value, end_date: this.endDate.value, tag: this.tag.value.trim() });
    mount(this.results, table(
      [t("admin.col.session"), t("admin.col.customer"), t("admin.col.agent"), t("admin.col.status"),
        t("admin.col.created"), t("admin.col.messages"), t("admin.col.tags"), t("admin.col.last"), ""],
      data.sessions.map((s) => [
        h("code", {}, s.session_id), s.kehu_name || s.kehu_id, s.kefu_name || s.kefu_id,
        badge(t(`sstatus.${s.status}`), s.status), when(s.created_at), String(s.message_count), tagChips(s.tags),
        h("span", { class: "clip" }, s.last_message || ""),
        this.openButton(s.session_id)]), { label: t("admin.session_search") }));
    this.drawPager(data.pagination.total_pages, data.pagination.total);
  }

  async searchMessages() {
    const body = { keyword: this.keyword.value.trim(), page: this.page, limit: 20 };
    if (this.startDate.value) body.start_date = this.startDate.value;
    if (this.endDate.value) body.end_date = this.endDate.value;
    const data = await this.api.post("/api/messages/search", body);
    mount(this.results, table(
      [t("admin.col.time"), t("admin.col.from"), t("admin.col.content"), t("admin.col.session"), ""],
      data.messages.map((m) => [when(m.timestamp), m.from, h("span", { class: "clip" }, m.content),
        m.session_id ? h("code", {}, m.session_id) : "-",
        m.session_id ? this.openButton(m.session_id) : ""]), { label: t("admin.session_search") }));
    const p = data.pagination;
    this.drawPager(p.total_pages ?? Math.ceil(p.total / p.limit), p.total);
  }

  drawPager(pages, total) {
    mount(this.pager,
      h("button", { type: "button", class: "btn btn-small", disabled: this.page <= 1,
        onclick: () => { this.page -= 1; this.search(); } }, t("admin.prev")),
      h("span", {}, t("admin.page_of", { page: this.page, pages: Math.max(pages, 1), total })),
      h("button", { type: "button", class: "btn btn-small", disabled: this.page >= pages,
        onclick: () => { this.page += 1; this.search(); } }, t("admin.next")));
  }

  openButton(sid) {
    return h("button", { type: "button", class: "btn btn-small", onclick: () => this.open(sid) }, t("admin.view"));
  }

  async open(sid) {
    mount(this.transcript, h("p", { class: "muted" }, t("loading")));
    try {
      const [detail, msgs, why] = await Promise.all([
        this.api.get(`/api/sessions/${encodeURIComponent(sid)}`),
        this.api.sessionMessages(sid, true),
        this.api.get(`/api/sessions/${encodeURIComponent(sid)}/routing`)]);
      const s = detail.session;
      const st = detail.statistics;
      const list = h("ol", { class: "timeline transcript" });
      mount(this.transcript,
        h("dl", { class: "facts" },
          fact(t("admin.col.session"), h("code", {}, s.session_id)),
          fact(t("admin.col.customer"), `${detail.participants.kehu.name} (${s.kehu_id})`),
          fact(t("admin.col.agent"), `${detail.participants.kefu.name} (${s.kefu_id})`),
          fact(t("admin.col.status"), badge(t(`sstatus.${s.status}`), s.status)),
          fact(t("admin.col.created"), when(s.created_at)),
          fact(t("admin.duration"), seconds(st.duration_seconds)),
          fact(t("admin.col.messages"), String(st.message_count)),
          fact(t("admin.col.avg_resp"), seconds(st.avg_response_time_seconds)),
          st.satisfaction_score ? fact(t("admin.col.satisfaction"), h("span", { class: "rating-fact" },
            `${"★".repeat(Math.round(st.satisfaction_score))} ${st.satisfaction_score}`,
            st.rating_comment ? ` · ${st.rating_comment}` : "")) : null,
          s.transferred_from ? fact(t("admin.from_session"), h("button", { type: "button", class: "btn btn-small linkish",
            onclick: () => this.open(s.transferred_from) }, s.transferred_from)) : null,
          s.transferred_to && s.transferred_to.startsWith("team:")
            ? fact(t("admin.to_session"), t("admin.to_team", { team: s.transferred_to.slice(5) }))
            : s.transferred_to ? fact(t("admin.to_session"), h("button", { type: "button", class: "btn btn-small linkish",
              onclick: () => this.open(s.transferred_to) }, s.transferred_to)) : null),
        routingPanel(why.routing),
        list);
      renderTimeline(list, msgs.map((m) => (m.content_type === "System"
        ? { kind: "sys", text: systemText(m), ts: m.timestamp }
        : { kind: "msg", msg: m, mine: m.from === s.kefu_id, author: m.from === s.kefu_id ? s.kefu_name : s.kehu_name })),
      { stick: false });
    } catch (err) {
      mount(this.transcript, h("p", { class: "form-error" }, err.message));
    }
  }
}

function label(text, input) {
  return h("label", { class: "field" }, h("span", {}, text), input);
}

/** Why this agent (GET /api/sessions/{id}/routing): who decided, by which rule, the
 * candidates with their scores and the agents skipped with the reason. */
function routingPanel(why) {
  if (!why) return null;
  const facts = h("dl", { class: "facts" },
    fact(t("admin.routing_by"), t(`routing.by.${why.by}`)),
    why.strategy ? fact(t("admin.routing_rule"), `${why.strategy} — ${why.rule}`) : null,
    why.team ? fact(t("admin.routing_team"), why.overflowed
      ? t("admin.routing_overflowed", { team: why.team }) : why.team) : null,
    why.waited_seconds !== undefined ? fact(t("admin.routing_waited"), seconds(why.waited_seconds)) : null);
  const candidates = (why.candidates || []).map((c) => [
    c.chosen ? h("strong", {}, c.kefu_id) : c.kefu_id, `${c.load}/${c.max_sessions}`,
    String(c.efficiency_score), c.skill === undefined ? "—" : String(c.skill)]);
  const skipped = (why.skipped || []).map((s) => [s.kefu_id, t(`routing.skip.${s.reason}`),
    `${s.load}/${s.max_sessions}`]);
  return h("details", { class: "routing-panel", open: true },
    h("summary", {}, t("admin.routing")), facts,
    candidates.length ? table([t("admin.col.agent"), t("admin.routing_load"), t("admin.routing_score"),
      t("admin.routing_skill")], candidates, { label: t("admin.routing_candidates") }) : null,
    skipped.length ? table([t("admin.col.agent"), t("admin.routing_reason"), t("admin.routing_load")],
      skipped, { label: t("admin.routing_skipped") }) : null);
}

function fact(name, value) {
  return [h("dt", {}, name), h("dd", {}, value)];
}
