// The widget's customer context (issue 15): the pre-chat form (which of name, email,
// phone are asked and required; custom text or select fields) and the embedding sites
// whose signed identify makes a logged-in user one customer on every device (a site's
// secret is shown once, when it is made or rotated).
import { h, mount, toast } from "./dom.js";
import { t } from "./i18n.js";
import { confirmDialog } from "./dialogs.js";
import { panel, table, when } from "./admin-ui.js";

const STANDARD = ["name", "email", "phone"];

export class WidgetSection {
  constructor(api) {
    this.api = api;
    this.error = h("p", { class: "form-error", role: "alert" });
    this.std = {}; // "name" → {shown, required} checkboxes
    this.rows = h("ul", { class: "wf-fields" });
    this.sites = h("div");
    this.secret = h("div", { class: "wf-secret-box", "aria-live": "polite" });
    this.siteName = h("input", { name: "site-name", maxlength: 100, required: true,
      "aria-label": t("wf.site_name"), placeholder: t("wf.site_name") });
  }

  render() {
    const stdRows = STANDARD.map((key) => {
      const shown = h("input", { type: "checkbox", dataset: { std: key, flag: "shown" } });
      const required = h("input", { type: "checkbox", dataset: { std: key, flag: "required" } });
      this.std[key] = { shown, required };
      return h("fieldset", { class: "wf-std" }, h("legend", {}, t(`wf.${key}`)),
        h("label", {}, shown, t("wf.shown")), h("label", {}, required, t("wf.required")));
    });
    const form = h("form", { class: "wf-form", onsubmit: (ev) => { ev.preventDefault(); this.save(); } },
      stdRows, h("h3", {}, t("wf.custom")), this.rows,
      h("div", { class: "wf-actions" },
        h("button", { type: "button", class: "btn", onclick: () => this.rows.append(this.fieldRow()) }, t("wf.add_field")),
        h("button", { type: "submit", class: "btn btn-primary" }, t("wf.save"))));
    const addSite = h("form", { class: "wf-field wf-site-form", onsubmit: (ev) => { ev.preventDefault(); this.addSite(); } },
      this.siteName, h("button", { type: "submit", class: "btn btn-primary" }, t("wf.add_site")));
    return h("div", { class: "section" }, this.error,
      h("div", { class: "two-col" }, panel(t("wf.form"), form),
        panel(t("wf.sites"), h("div", { class: "wf-sites" },
          h("p", { class: "muted" }, t("wf.sites_help")), this.sites, addSite, this.secret))));
  }

  async start() {
    try {
      this.fill(await this.api.get("/api/widget/form"));
      await this.loadSites();
    } catch (err) {
      this.error.textContent = err.message;
    }
  }

  stop() {}

  fill(form) {
    for (const key of STANDARD) {
      this.std[key].shown.checked = form[key].shown;
      this.std[key].required.checked = form[key].required;
    }
    mount(this.rows, form.fields.map((f) => this.fieldRow(f)));
  }

  /** One custom field's editor (key, labels, type, options, required). */
  fieldRow(f = { key: "", label_zh: "", label_en: "", type: "text", options: [], required: false }) {
    const input = (name, value, label, max) => h("input", { name, value, maxlength: max,
      "aria-label": label, placeholder: label, required: name !== "options" });
    const type = h("select", { name: "type", "aria-label": t("wf.type") },
      ["text", "select"].map((v) => h("option", { value: v, selected: v === f.type }, t(`wf.type_${v}`))));
    const required = h("input", { type: "checkbox", name: "required" });
    required.checked = f.required;
    const row = h("li", { class: "wf-field" },
      input("key", f.key, t("wf.key"), 32), input("label_zh", f.label_zh, t("wf.label_zh"), 60),
      input("label_en", f.label_en, t("wf.label_en"), 60), type,
      input("options", f.options.join(", "), t("wf.options"), 2000),
      h("label", {}, required, t("wf.required")),
      h("button", { type: "button", class: "btn btn-small btn-ghost", "aria-label": t("wf.remove"),
        onclick: () => row.remove() }, "×"));
    return row;
  }

  collect() {
    const out = { fields: [] };
    for (const key of STANDARD) {
      out[key] = { shown: this.std[key].shown.checked, required: this.std[key].required.checked };
    }
    for (const row of this.rows.children) {
      const get = (name) => row.querySelector(`[name="${name}"]`);
      const type = get("type").value;
      out.fields.push({ key: get("key").value.trim(), label_zh: get("label_zh").value.trim(),
        label_en: get("label_en").value.trim(), type, required: get("required").checked,
        options: type === "select" ? get("options").value.split(/[,，]/).map((o) => o.trim()).filter(Boolean) : [] });
    }
    return out;
  }

  async save() {
    this.error.textContent = "";
    try {
      this.fill(await this.api.put("/api/widget/form", this.collect()));
      toast(t("wf.saved"));
    } catch (err) {
      const details = err.body && err.body.details;
      this.error.textContent = details
        ? `${err.message}: ${Object.entries(details).map(([k, v]) => `${k} ${v}`).join("; ")}` : err.message;
    }
  }

  async loadSites() {
    const data = await this.api.get("/api/widget/sites");
    mount(this.sites, data.sites.length ? table([t("wf.site_id"), t("wf.site_name"), t("wf.created"), ""],
      data.sites.map((s) => [h("code", {}, s.id), s.name, when(s.rotated_at || s.created_at),
        h("span", { class: "wf-field" },
          h("button", { type: "button", class: "btn btn-small", onclick: () => this.rotate(s) }, t("wf.rotate")),
          h("button", { type: "button", class: "btn btn-small btn-danger", onclick: () => this.removeSite(s) },
            t("wf.remove")))]), { label: t("wf.sites") })
      : h("p", { class: "muted" }, t("admin.no_data")));
  }

  showSecret(data) {
    mount(this.secret, h("div", { class: "card" },
      h("p", {}, t("wf.secret_once", { id: data.site.id })),
      h("p", { class: "wf-secret", dataset: { site: data.site.id } }, data.secret)));
  }

  async addSite() {
    this.error.textContent = "";
    try {
      const data = await this.api.post("/api/widget/sites", { name: this.siteName.value.trim() });
      this.siteName.value = "";
      this.showSecret(data);
      await this.loadSites();
    } catch (err) {
      this.error.textContent = err.message;
    }
  }

  async rotate(site) {
    if (!(await confirmDialog(t("wf.rotate_confirm", { name: site.name })))) return;
    try {
      this.showSecret(await this.api.post(`/api/widget/sites/${encodeURIComponent(site.id)}/secret`));
      await this.loadSites();
    } catch (err) {
      this.error.textContent = err.message;
    }
  }

  async removeSite(site) {
    if (!(await confirmDialog(t("wf.remove_confirm", { name: site.name })))) return;
    try {
      await this.api.del(`/api/widget/sites/${encodeURIComponent(site.id)}`);
      mount(this.secret);
      await this.loadSites();
    } catch (err) {
      this.error.textContent = err.message;
    }
  }
}
