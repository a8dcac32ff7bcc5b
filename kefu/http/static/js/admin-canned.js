// Canned responses (issue 15): the ones for everyone and for a team, managed here; agents
// use them with "/" in the composer ({customer_name}, {agent_name} are filled in). Agents'
// personal ones are listed too (an admin may remove them).
import { h, mount, toast } from "./dom.js";
import { t } from "./i18n.js";
import { confirmDialog } from "./dialogs.js";
import { panel, table } from "./admin-ui.js";

export class CannedSection {
  constructor(api) {
    this.api = api;
    this.error = h("p", { class: "form-error", role: "alert" });
    this.list = h("div");
    this.shortcut = h("input", { name: "shortcut", maxlength: 32, required: true, placeholder: "refund" });
    this.title = h("input", { name: "title", maxlength: 100 });
    this.content = h("textarea", { name: "content", rows: 3, maxlength: 4000, required: true,
      placeholder: t("canned.content_ph", { c: "{customer_name}", a: "{agent_name}" }) });
    this.team = h("select", { name: "team" }, h("option", { value: "" }, t("canned.everyone")));
  }

  render() {
    const form = h("form", { class: "canned-form", onsubmit: (ev) => { ev.preventDefault(); this.add(); } },
      field(t("canned.shortcut"), this.shortcut), field(t("canned.title_label"), this.title),
      field(t("canned.content"), this.content), field(t("canned.scope"), this.team),
      h("button", { type: "submit", class: "btn btn-primary" }, t("canned.add")));
    return h("div", { class: "section" }, this.error,
      h("div", { class: "two-col" }, panel(t("canned.title"), this.list), panel(t("canned.add"), form)));
  }

  async start() {
    try {
      const teams = await this.api.get("/api/teams");
      this.team.append(...teams.teams.map((tm) => h("option", { value: tm.id }, tm.name)));
      await this.load();
    } catch (err) {
      this.error.textContent = err.message;
    }
  }

  stop() {}

  async load() {
    const data = await this.api.get("/api/canned-responses");
    mount(this.list, table([t("canned.shortcut"), t("canned.content"), t("canned.scope"), ""],
      data.responses.map((r) => [
        h("code", {}, `/${r.shortcut}`), h("span", {}, r.title ? h("strong", {}, `${r.title} `) : null, r.content),
        r.owner ? t("canned.personal", { who: r.owner }) : r.team || t("canned.everyone"),
        h("button", { type: "button", class: "btn btn-small btn-danger",
          onclick: () => this.remove(r) }, t("canned.delete"))]), { label: t("canned.title") }));
  }

  async add() {
    try {
      await this.api.post("/api/canned-responses", { shortcut: this.shortcut.value.trim(),
        title: this.title.value.trim() || null, content: this.content.value.trim(),
        team: this.team.value || null });
      this.shortcut.value = this.title.value = this.content.value = "";
      toast(t("canned.added"));
      await this.load();
    } catch (err) {
      this.error.textContent = err.message;
    }
  }

  async remove(r) {
    if (!(await confirmDialog(t("canned.confirm_delete", { shortcut: r.shortcut })))) return;
    try {
      await this.api.del(`/api/canned-responses/${encodeURIComponent(r.id)}`);
      await this.load();
    } catch (err) {
      this.error.textContent = err.message;
    }
  }
}

function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}
