// Tags on the focused conversation (issue 15): chips in the conversation header, a text
// box to add one (Enter or ",", suggestions from the tags already in use), × or
// Backspace on an empty box to remove. Saved with PUT /api/sessions/{id}/tags; the
// agent's other tabs follow by the `tags` frame.
import { h, mount, toast } from "./dom.js";
import { t } from "./i18n.js";

const MAX_TAGS = 10;
const TAG = /^[\p{L}\p{N}\p{M}_.-]{1,32}$/u;

/** A tag as the server stores it: NFKC, lower case, inner spaces as "-". */
export function normaliseTag(raw) {
  return raw.normalize("NFKC").toLowerCase().trim().split(/\s+/).join("-");
}

export class TagEditor {
  constructor(app) {
    this.app = app;
    this.sid = null;
    this.tags = [];
    this.chips = h("ul", { class: "tag-chips", "aria-label": t("tags.label") });
    this.suggestions = h("datalist", { id: "tag-suggestions" });
    this.input = h("input", { class: "tag-input", maxlength: 40, list: "tag-suggestions",
      placeholder: t("tags.placeholder"), "aria-label": t("tags.add"), autocomplete: "off" });
    this.input.addEventListener("keydown", (ev) => this.key(ev));
    this.el = h("div", { class: "tag-bar", hidden: true }, this.chips, this.input, this.suggestions);
    this.loadSuggestions();
  }

  /** Follow the focused conversation (null: none). */
  show(conv) {
    this.el.hidden = !conv;
    const sid = conv ? conv.sid : null;
    if (sid === this.sid) return;
    this.sid = sid;
    this.tags = [];
    this.draw();
    if (sid) this.load(sid);
  }

  async load(sid) {
    try {
      const data = await this.app.api.get(`/api/sessions/${encodeURIComponent(sid)}/tags`);
      if (sid === this.sid) this.set(data.tags);
    } catch {
      // (a session this agent may no longer read: no tags shown)
    }
  }

  async loadSuggestions() {
    try {
      const data = await this.app.api.get("/api/tags");
      mount(this.suggestions, data.tags.map((x) => h("option", { value: x.tag })));
    } catch {
      // suggestions are a convenience
    }
  }

  /** A `tags` frame: this agent (another tab) or an admin changed a conversation's tags. */
  update(f) {
    if (f.session_id === this.sid) this.set(f.tags);
  }

  set(tags) {
    this.tags = [...tags];
    this.draw();
  }

  key(ev) {
    if ((ev.key === "Enter" || ev.key === ",") && !ev.isComposing) {
      ev.preventDefault();
      this.add(this.input.value);
    } else if (ev.key === "Backspace" && !this.input.value && this.tags.length) {
      ev.preventDefault();
      this.save(this.tags.slice(0, -1));
    }
  }

  add(raw) {
    const tag = normaliseTag(raw);
    if (!tag) return;
    if (!TAG.test(tag)) {
      toast(t("tags.invalid"), "error");
      return;
    }
    if (this.tags.includes(tag)) {
      this.input.value = "";
      return;
    }
    if (this.tags.length >= MAX_TAGS) {
      toast(t("tags.too_many"), "error");
      return;
    }
    this.save([...this.tags, tag]).then((ok) => { if (ok) this.input.value = ""; });
  }

  async save(tags) {
    const sid = this.sid;
    try {
      const data = await this.app.api.put(`/api/sessions/${encodeURIComponent(sid)}/tags`, { tags });
      if (sid === this.sid) this.set(data.tags);
      this.loadSuggestions();
      return true;
    } catch (err) {
      toast(err.message, "error");
      return false;
    }
  }

  draw() {
    mount(this.chips, this.tags.map((tag, i) => h("li", { class: "tag-chip" },
      h("span", {}, tag),
      h("button", { type: "button", class: "tag-remove", "aria-label": t("tags.remove", { tag }),
        dataset: { tag }, onclick: () => {
          this.save(this.tags.filter((x) => x !== tag)).then(() => {
            const next = this.chips.querySelectorAll(".tag-remove")[Math.min(i, this.tags.length - 1)];
            (next || this.input).focus();
          });
        } }, "×"))));
  }
}
