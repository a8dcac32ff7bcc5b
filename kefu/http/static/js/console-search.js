// The agent's search of its own conversations (issue 15): a dialog with a keyword and a
// tag (GET /api/kefu/search), hits with the customer, the time and the matching text;
// a hit opens that conversation read-only in the dialog (GET /api/sessions/{id}/messages).
import { clock, h, mount } from "./dom.js";
import { t } from "./i18n.js";
import { renderTimeline, systemText } from "./timeline.js";

const GLASS = ["M10.5 17a6.5 6.5 0 1 0 0-13 6.5 6.5 0 0 0 0 13z", "M20 20l-4.8-4.8"];

/** The header's search button (its label hides on a phone; the icon stays). */
export function searchButton(onclick) {
  return h("button", { type: "button", class: "btn btn-ghost search-btn", "aria-label": t("search.open"), onclick },
    h("svg:svg", { viewBox: "0 0 24 24", width: 18, height: 18, fill: "none", stroke: "currentColor",
      "stroke-width": 2, "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true",
      class: "icon" }, GLASS.map((d) => h("svg:path", { d }))),
    h("span", { class: "search-label" }, t("search.open")));
}

export function openSearchDialog(app) {
  const q = h("input", { type: "search", name: "q", maxlength: 100, "aria-label": t("search.q"),
    placeholder: t("search.q") });
  const tag = h("input", { name: "tag", maxlength: 40, list: "tag-suggestions",
    "aria-label": t("search.tag"), placeholder: t("search.tag") });
  const status = h("p", { class: "search-status", role: "status" });
  const results = h("ul", { class: "search-results", "aria-label": t("search.title") });
  const viewer = h("div", { class: "search-viewer", hidden: true });
  const form = h("form", { class: "search-form", onsubmit: (ev) => { ev.preventDefault(); run(); } },
    q, tag, h("button", { type: "submit", class: "btn btn-primary" }, t("search.submit")));
  const dialog = h("dialog", { class: "dialog search-dialog", "aria-label": t("search.title") },
    h("div", { class: "dialog-form" },
      h("div", { class: "search-head" }, h("h2", {}, t("search.title")),
        h("button", { type: "button", class: "btn btn-ghost", onclick: () => dialog.close() }, t("search.close"))),
      form, status, results, viewer));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  q.focus();

  async function run() {
    viewer.hidden = true;
    results.hidden = false;
    if (!q.value.trim() && !tag.value.trim()) {
      status.textContent = t("search.need");
      return;
    }
    status.textContent = t("loading");
    try {
      const data = await app.api.get("/api/kefu/search", { q: q.value.trim(), tag: tag.value.trim(), limit: 50 });
      status.textContent = data.results.length ? t("search.count", { n: data.pagination.total }) : t("search.none");
      mount(results, data.results.map(hit));
    } catch (err) {
      status.textContent = err.message;
      mount(results);
    }
  }

  function hit(r) {
    const s = r.session;
    const m = r.matches[0];
    return h("li", {}, h("button", { type: "button", class: "search-hit", dataset: { sid: s.session_id },
      onclick: () => open(s) },
    h("span", { class: "search-hit-row" },
      h("strong", { class: "customer-name" }, s.kehu_name || s.kehu_id),
      h("time", { datetime: (m && m.timestamp) || s.updated_at || "" }, clock((m && m.timestamp) || s.updated_at))),
    h("span", { class: "search-snippet" }, m ? m.content : r.name_match ? t("search.by_name") : s.last_message || ""),
    h("span", { class: "search-meta" },
      t(`sstatus.${s.status}`),
      r.match_count > 1 ? ` · ${t("search.matches", { n: r.match_count })}` : "",
      (s.tags || []).map((x) => h("span", { class: "tag-chip small" }, x)))));
  }

  async function open(s) {
    results.hidden = true;
    viewer.hidden = false;
    const list = h("ol", { class: "timeline transcript", "aria-label": t("console.timeline") });
    const back = h("button", { type: "button", class: "btn", onclick: () => {
      viewer.hidden = true;
      results.hidden = false;
      const again = results.querySelector(`[data-sid="${CSS.escape(s.session_id)}"]`);
      if (again) again.focus();
    } }, `‹ ${t("search.back")}`);
    mount(viewer, h("div", { class: "search-viewer-head" }, back,
      h("strong", {}, s.kehu_name || s.kehu_id), h("span", { class: "muted" }, ` · ${t(`sstatus.${s.status}`)}`)), list);
    back.focus();
    try {
      const msgs = await app.api.sessionMessages(s.session_id, true);
      renderTimeline(list, msgs.map((m) => (m.content_type === "System"
        ? { kind: "sys", text: systemText(m), ts: m.timestamp }
        : { kind: "msg", msg: m, mine: m.from !== s.kehu_id,
          author: m.from === s.kehu_id ? null : s.kefu_name || m.from })), { stick: false });
    } catch (err) {
      mount(list, h("li", { class: "form-error" }, err.message));
    }
  }
}
