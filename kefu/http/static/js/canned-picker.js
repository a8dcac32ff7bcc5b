// The composer's "/" shortcut (issue 15): typing "/" and a few letters lists the canned
// responses whose shortcut or title match; ↑/↓ choose, Enter or a click puts the text in
// the box with {customer_name} and {agent_name} filled in, Esc closes.
import { h, mount } from "./dom.js";
import { t } from "./i18n.js";

export class CannedPicker {
  /**
   * @param {HTMLTextAreaElement} input the composer's box
   * @param {() => {responses: object[], customer: string, agent: string}} context
   * @param {(text: string) => void} onPick called after the box was filled
   */
  constructor(input, context, onPick) {
    this.input = input;
    this.context = context;
    this.onPick = onPick;
    this.list = h("ul", { class: "canned-pop", role: "listbox", "aria-label": t("canned.title"), hidden: true });
    this.items = [];
    this.index = 0;
  }

  /** Call on every input: show the matches while the box holds "/query" only. */
  update() {
    const value = this.input.value;
    if (!value.startsWith("/") || value.includes("\n") || value.length > 33) return this.close();
    const q = value.slice(1).toLowerCase();
    const { responses } = this.context();
    this.items = responses.filter((r) => r.shortcut.toLowerCase().includes(q)
      || (r.title || "").toLowerCase().includes(q)).slice(0, 8);
    this.index = 0;
    this.draw();
  }

  draw() {
    this.list.hidden = false;
    mount(this.list, this.items.length
      ? this.items.map((r, i) => h("li", { role: "option", class: `canned-item${i === this.index ? " on" : ""}`,
        "aria-selected": String(i === this.index),
        onmousedown: (ev) => { ev.preventDefault(); this.pick(r); } },
      h("strong", {}, `/${r.shortcut}`), r.title ? ` ${r.title}` : "",
      h("span", { class: "canned-text" }, r.content)))
      : h("li", { class: "empty" }, t("canned.none")));
  }

  get open() {
    return !this.list.hidden;
  }

  close() {
    this.list.hidden = true;
    this.items = [];
  }

  /** Keys while the list is open → true when handled (the composer must not send). */
  key(ev) {
    if (!this.open) return false;
    if (ev.key === "Escape") {
      this.close();
    } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      const n = this.items.length;
      if (n) this.index = (this.index + (ev.key === "ArrowDown" ? 1 : n - 1)) % n;
      this.draw();
    } else if (ev.key === "Enter" && !ev.isComposing) {
      if (!this.items.length) return false;
      this.pick(this.items[this.index]);
    } else {
      return false;
    }
    ev.preventDefault();
    return true;
  }

  pick(response) {
    const { customer, agent } = this.context();
    this.input.value = response.content.replaceAll("{customer_name}", customer)
      .replaceAll("{agent_name}", agent);
    this.close();
    this.input.focus();
    this.onPick(this.input.value);
  }
}
