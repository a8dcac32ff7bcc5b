// The widget's pre-chat form (issue 15, customer context), as the admin configured it
// (GET /api/widget/form): the name field is the welcome screen's own; email, phone and
// the custom fields (text or select) are added after it. Required fields carry the
// browser's `required`; the server checks everything again (POST /api/widget/prechat).
import { Api } from "./api.js";
import { h, mount } from "./dom.js";
import { lang, t } from "./i18n.js";

export class PrechatFields {
  constructor(nameInput, nameLabel) {
    this.name = nameInput;
    this.nameLabel = nameLabel;
    this.inputs = new Map(); // key → input or select (custom fields)
    this.contact = {}; // "email" | "phone" → input
    this.asks = false; // whether the form asks anything besides the name
    this.el = h("div", { class: "prechat-fields" });
    new Api().get("/api/widget/form").then((form) => this.build(form)).catch(() => {});
  }

  build(form) {
    const nameShown = form.name.shown;
    this.name.hidden = !nameShown;
    this.nameLabel.hidden = !nameShown;
    this.name.required = nameShown && form.name.required;
    if (this.name.required) { // (the welcome screen's label says it is optional)
      mount(this.nameLabel, t("prechat.name"), h("span", { class: "req", "aria-hidden": "true" }, "*"));
    }
    const rows = [];
    for (const [key, type, auto, max] of [["email", "email", "email", 254], ["phone", "tel", "tel", 30]]) {
      if (!form[key].shown) continue;
      const input = h("input", { id: `prechat-${key}`, type, autocomplete: auto, maxlength: max,
        required: form[key].required });
      this.contact[key] = input;
      rows.push(this.row(input, t(`prechat.${key}`), form[key].required));
    }
    for (const f of form.fields) {
      const id = `prechat-f-${f.key}`;
      const input = f.type === "select"
        ? h("select", { id, required: f.required },
          h("option", { value: "" }, t("prechat.choose")),
          f.options.map((o) => h("option", { value: o }, o)))
        : h("input", { id, maxlength: 500, required: f.required });
      this.inputs.set(f.key, input);
      rows.push(this.row(input, lang === "en" ? f.label_en : f.label_zh, f.required));
    }
    this.asks = rows.length > 0;
    mount(this.el, rows);
  }

  row(input, label, required) {
    return h("div", {}, h("label", { for: input.id }, label,
      required ? h("span", { class: "req", "aria-hidden": "true" }, "*") : null), input);
  }

  /** The answers for POST /api/widget/prechat, or null when the form asks only a name
   * and the page gave no attributes (the guest's name says it all). */
  answers(attributes) {
    if (!this.asks && !attributes) return null;
    const out = { fields: {} };
    const name = this.name.value.trim();
    if (name && !this.name.hidden) out.name = name;
    for (const [key, input] of Object.entries(this.contact)) {
      if (input.value.trim()) out[key] = input.value.trim();
    }
    for (const [key, input] of this.inputs) if (input.value.trim()) out.fields[key] = input.value.trim();
    if (attributes) out.attributes = attributes;
    return out;
  }
}
