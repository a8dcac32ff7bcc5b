// The console's customer panel (issue 15, customer context): the focused customer's
// profile (contact, pre-chat answers, identity), its custom attributes (the agent edits
// them) and every conversation it had, with any agent; one opens read-only. Beside the
// conversation on a wide screen; over it, with a close button, on a phone.
import { clock, h, mount, store } from "./dom.js";
import { lang, t } from "./i18n.js";
import { renderTimeline } from "./timeline.js";

const OPEN_KEY = "kefu.console.panel";

export class CustomerPanel {
  constructor(app, layout) {
    this.app = app;
    this.layout = layout; // the element whose class says the panel is open
    this.kehuId = null;
    this.stale = false; // set by picked()
    this.labels = {}; // pre-chat field key → label in this page's language
    this.body = h("div", { class: "cp-body" });
    this.el = h("aside", { class: "customer-panel", id: "customer-panel", "aria-label": t("cp.title") },
      h("header", { class: "cp-head" }, h("h2", {}, t("cp.title")),
        h("button", { type: "button", class: "btn btn-icon cp-close", "aria-label": t("cp.close"),
          onclick: () => this.setOpen(false) }, "×")),
      this.body);
    this.toggle = h("button", { type: "button", class: "btn cp-toggle", "aria-controls": "customer-panel",
      onclick: () => this.setOpen(!this.isOpen()) }, t("cp.toggle"));
    // open by default where there is room for it; a phone opens it on demand
    this.setOpen(store.get(OPEN_KEY, window.innerWidth >= 1100) && window.innerWidth > 760);
    app.api.get("/api/widget/form").then((form) => {
      for (const f of form.fields) this.labels[f.key] = lang === "en" ? f.label_en : f.label_zh;
    }).catch(() => {}); // (keys shown instead)
  }

  /** The agent picked a customer in the list: the next show() reloads it even when it
   * is the one shown (its counts and attributes may have changed since). */
  picked() {
    this.stale = true;
  }

  isOpen() {
    return this.layout.classList.contains("with-panel");
  }

  setOpen(open) {
    this.layout.classList.toggle("with-panel", open);
    this.toggle.setAttribute("aria-expanded", String(open));
    if (window.innerWidth > 760) store.set(OPEN_KEY, open);
    if (open && this.kehuId) this.load();
    if (!open) this.toggle.focus({ preventScroll: true });
  }

  /** The focused conversation changed (or not): load its customer when it is new. */
  show(conv) {
    const id = conv ? conv.kehu_id : null;
    this.toggle.hidden = !id;
    const sid = conv ? conv.sid : null;
    if (id === this.kehuId) {
      // its new conversation, or the agent picked it again: read it afresh
      if ((sid !== this.sid || this.stale) && id && this.isOpen()) this.load();
      this.sid = sid;
      this.stale = false;
      return;
    }
    this.stale = false;
    this.kehuId = id;
    this.sid = sid;
    this.transcript = null;
    if (!id) {
      mount(this.body, h("p", { class: "cp-empty" }, t("console.pick")));
      return;
    }
    mount(this.body, h("p", { class: "cp-empty" }, t("loading")));
    if (this.isOpen()) this.load();
  }

  async load() {
    const id = this.kehuId;
    try {
      const [profile, history] = await Promise.all([
        this.app.api.get(`/api/customers/${encodeURIComponent(id)}`),
        this.app.api.get(`/api/customers/${encodeURIComponent(id)}/sessions`, { limit: 50 })]);
      if (id !== this.kehuId) return; // another customer was picked meanwhile
      this.customer = profile.customer;
      this.sessions = history.sessions;
      this.draw();
    } catch (err) {
      if (id === this.kehuId) mount(this.body, h("p", { class: "form-error" }, err.message));
    }
  }

  draw() {
    const c = this.customer;
    const rows = [
      [t("cp.email"), c.email], [t("cp.phone"), c.phone],
      ...Object.entries(c.fields).map(([k, v]) => [this.labels[k] || k, v]),
      [t("cp.first_seen"), c.first_seen ? clock(c.first_seen) : null],
      [t("cp.last_seen"), c.last_seen ? clock(c.last_seen) : null],
    ].filter(([, v]) => v !== null && v !== undefined && v !== "");
    mount(this.body,
      h("section", { class: "cp-section cp-profile" },
        h("p", { class: "cp-name" }, c.name),
        h("p", { class: `cp-identity${c.identified ? " verified" : ""}` },
          c.identified ? t("cp.identified", { site: c.site, id: c.external_id }) : t("cp.anonymous")),
        h("dl", { class: "cp-fields" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
      h("section", { class: "cp-section" }, h("h3", {}, t("cp.attributes")), this.attributes()),
      h("section", { class: "cp-section" },
        h("h3", {}, t("cp.history", { n: this.sessions.length })), this.history()));
  }

  attributes() {
    const c = this.customer;
    const error = h("p", { class: "form-error", role: "alert" });
    const key = h("input", { class: "cp-attr-key", maxlength: 40, placeholder: t("cp.attr_key"),
      "aria-label": t("cp.attr_key"), required: true });
    const value = h("input", { class: "cp-attr-value", maxlength: 256, placeholder: t("cp.attr_value"),
      "aria-label": t("cp.attr_value") });
    const save = async (changes) => {
      error.textContent = "";
      try {
        const data = await this.app.api.put(
          `/api/customers/${encodeURIComponent(c.id)}/attributes`, { attributes: changes });
        c.attributes = data.attributes;
        this.draw();
      } catch (err) {
        error.textContent = err.body && err.body.details
          ? Object.values(err.body.details).join("; ") : err.message;
      }
    };
    return [
      h("ul", { class: "cp-attrs" }, Object.entries(c.attributes).map(([k, v]) => h("li", {},
        h("span", { class: "cp-attr-name" }, k), h("span", { class: "cp-attr-val" }, String(v)),
        h("button", { type: "button", class: "btn btn-small btn-ghost", "aria-label": t("cp.attr_remove", { key: k }),
          onclick: () => save({ [k]: null }) }, "×")))),
      h("form", { class: "cp-attr-form", onsubmit: (ev) => {
        ev.preventDefault();
        if (key.value.trim()) save({ [key.value.trim()]: value.value });
      } }, key, value, h("button", { type: "submit", class: "btn btn-small" }, t("cp.attr_set"))),
      error];
  }

  history() {
    if (!this.sessions.length) return h("p", { class: "cp-empty" }, t("cp.no_history"));
    return h("ul", { class: "cp-history" }, this.sessions.map((s) => h("li", {},
      h("button", { type: "button", class: `cp-session${this.transcript === s.session_id ? " open" : ""}`,
        dataset: { sid: s.session_id }, "aria-expanded": String(this.transcript === s.session_id),
        onclick: () => this.openTranscript(s.session_id) },
      h("span", { class: "cp-session-row" },
        h("strong", {}, s.kefu_name || s.kefu_id), h("time", {}, clock(s.created_at))),
      h("span", { class: "cp-session-row cp-session-sub" },
        t(`sstatus.${s.status}`), " · ", t("cp.messages", { n: s.message_count }),
        s.satisfaction_score ? ` · ${"★".repeat(Math.round(s.satisfaction_score))}` : "")),
      this.transcript === s.session_id ? this.transcriptBox : null)));
  }

  /** One past conversation's messages, read-only, under its row (again: closes it). */
  async openTranscript(sid) {
    if (this.transcript === sid) {
      this.transcript = null;
      this.draw();
      return;
    }
    this.transcript = sid;
    this.transcriptBox = h("ol", { class: "timeline cp-transcript", "aria-label": t("cp.transcript") });
    this.draw();
    const session = this.sessions.find((s) => s.session_id === sid);
    try {
      const msgs = await this.app.api.sessionMessages(sid, false);
      if (this.transcript !== sid) return;
      renderTimeline(this.transcriptBox, msgs.map((m) => ({ kind: "msg", msg: m,
        mine: m.from !== this.kehuId, author: m.from !== this.kehuId ? session.kefu_name : null })),
      { stick: false });
    } catch (err) {
      mount(this.transcriptBox, h("li", { class: "form-error" }, err.message));
    }
  }
}
