// Tags in the dashboard (issue 15): figures by tag over the last 30 days (GET
// /api/analytics/tags) on the overview, and the session search's keyword + tag case
// (GET /api/kefu/search: conversations carrying the tag whose messages match).
import { h, mount } from "./dom.js";
import { t } from "./i18n.js";
import { badge, panel, table } from "./admin-ui.js";

const DAY_MS = 86400000;

/** A tag's chips in a table cell. */
export function tagChips(tags) {
  return h("span", { class: "tag-chips" }, (tags || []).map((x) => h("span", { class: "tag-chip small" }, x)));
}

/** The overview's "by tag" panel; loads itself once (and on its refresh button). */
export function tagFiguresPanel(api) {
  const body = h("div", {}, h("p", { class: "muted" }, t("loading")));
  async function load() {
    try {
      const now = Date.now();
      const data = await api.get("/api/analytics/tags", {
        start_date: new Date(now - 30 * DAY_MS).toISOString(), end_date: new Date(now).toISOString() });
      mount(body, data.tags.length ? table(
        [t("admin.tag"), t("admin.tag_sessions"), t("admin.tag_completed"), t("admin.tag_messages"), t("admin.tag_rating")],
        data.tags.map((x) => [h("span", { class: "tag-chip small" }, x.tag), String(x.sessions),
          String(x.completed_sessions), String(x.messages),
          x.avg_satisfaction === null ? "-" : `${x.avg_satisfaction}（${x.rated_sessions}）`]),
        { label: t("admin.by_tag") }) : h("p", { class: "muted" }, t("admin.tags_none")));
    } catch (err) {
      mount(body, h("p", { class: "form-error" }, err.message));
    }
  }
  load();
  return h("div", { class: "tag-figures" }, panel(t("admin.by_tag"), body,
    h("button", { type: "button", class: "btn btn-small", onclick: load }, t("admin.tags_refresh"))));
}

/** Keyword and tag together: the conversations with that tag whose messages match. */
export async function searchTagged(section, q, tag) {
  const data = await section.api.get("/api/kefu/search", { q, tag, page: section.page, limit: 20 });
  mount(section.results, table(
    [t("admin.col.session"), t("admin.col.customer"), t("admin.col.agent"), t("admin.col.status"),
      t("admin.col.tags"), t("admin.col.content"), ""],
    data.results.map((r) => [h("code", {}, r.session.session_id), r.session.kehu_name || r.session.kehu_id,
      r.session.kefu_name || r.session.kefu_id, badge(t(`sstatus.${r.session.status}`), r.session.status),
      tagChips(r.session.tags), h("span", { class: "clip" }, r.matches.length ? r.matches[0].content : ""),
      section.openButton(r.session.session_id)]), { label: t("admin.session_search") }));
  section.drawPager(data.pagination.total_pages, data.pagination.total);
}
