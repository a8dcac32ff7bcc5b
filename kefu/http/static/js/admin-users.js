// Users management (seed 3.1–3.6): list with filters, create, edit (name, capacity,
// password, permissions), delete.
import { h, mount, toast } from "./dom.js";
import { t } from "./i18n.js";
import { confirmDialog, modal } from "./dialogs.js";
import { badge, panel, table, when } from "./admin-ui.js";

export class UsersSection {
  constructor(api, me) {
    this.api = api;
    this.me = me;
    this.page = 1;
    this.type = h("select", { "aria-label": t("admin.col.type") }, h("option", { value: "" }, t("admin.any_type")),
      ["kefu", "kehu", "admin"].map((v) => h("option", { value: v }, t(`utype.${v}`))));
    this.status = h("select", { "aria-label": t("admin.col.status") }, h("option", { value: "" }, t("admin.any_status")),
      ["online", "away", "busy", "offline"].map((v) => h("option", { value: v }, t(`status.${v}`))));
    for (const el of [this.type, this.status]) el.addEventListener("change", () => { this.page = 1; this.load(); });
    this.list = h("div");
    this.pager = h("div", { class: "pager" });
    this.error = h("p", { class: "form-error", role: "alert" });
  }

  render() {
    return h("div", { class: "section" }, panel(t("admin.users"),
      h("div", {}, h("div", { class: "filters" }, this.type, this.status), this.error, this.list, this.pager),
      h("button", { type: "button", class: "btn btn-primary", onclick: () => this.create() }, t("admin.new_user"))));
  }

  start() {
    this.load();
  }

  stop() {}

  async load() {
    try {
      const data = await this.api.get("/api/users", { page: this.page, limit: 20,
        user_type: this.type.value, status: this.status.value });
      mount(this.list, table(
        [t("admin.col.id"), t("admin.col.name"), t("admin.col.type"), t("admin.col.status"),
          t("admin.col.max"), t("admin.col.created"), t("admin.col.actions")],
        data.users.map((u) => [h("code", {}, u.id), u.name, t(`utype.${u.user_type}`),
          badge(t(`status.${u.status}`) + (u.connections ? ` ·${u.connections}` : ""), u.status),
          u.user_type === "kefu" ? String(u.max_sessions) : "-", when(u.created_at),
          h("span", { class: "row-actions" },
            h("button", { type: "button", class: "btn btn-small", onclick: () => this.edit(u) }, t("admin.edit")),
            u.id !== this.me.id ? h("button", { type: "button", class: "btn btn-small btn-danger",
              onclick: () => this.remove(u) }, t("admin.delete")) : null)]),
        { label: t("admin.users") }));
      const p = data.pagination;
      mount(this.pager,
        h("button", { type: "button", class: "btn btn-small", disabled: this.page <= 1,
          onclick: () => { this.page -= 1; this.load(); } }, t("admin.prev")),
        h("span", {}, t("admin.page_of", { page: p.page, pages: Math.max(p.total_pages, 1), total: p.total })),
        h("button", { type: "button", class: "btn btn-small", disabled: this.page >= p.total_pages,
          onclick: () => { this.page += 1; this.load(); } }, t("admin.next")));
      this.error.textContent = "";
    } catch (err) {
      this.error.textContent = err.message;
    }
  }

  create() {
    const id = h("input", { name: "id", maxlength: 64, pattern: "[A-Za-z0-9_.\\-]{1,64}", placeholder: t("admin.id_ph") });
    const name = h("input", { name: "name", maxlength: 100, required: true });
    const type = h("select", { name: "user_type" }, ["kefu", "kehu", "admin"].map((v) => h("option", { value: v }, t(`utype.${v}`))));
    const password = h("input", { name: "password", type: "password", maxlength: 200, autocomplete: "new-password" });
    const max = h("input", { name: "max_sessions", type: "number", min: 1, max: 100, value: 5 });
    modal(t("admin.new_user"), [field(t("admin.col.id"), id), field(t("admin.col.name"), name),
      field(t("admin.col.type"), type), field(t("login.password"), password), field(t("admin.col.max"), max)], {
      submitText: t("admin.create"),
      onSubmit: async () => {
        const body = { name: name.value.trim(), user_type: type.value, max_sessions: Number(max.value) || 5 };
        if (id.value.trim()) body.id = id.value.trim();
        if (password.value) body.password = password.value;
        const data = await this.api.post("/api/users/create", body);
        toast(t("admin.created", { id: data.user.id }));
        this.load();
      },
    });
    name.focus();
  }

  edit(u) {
    const name = h("input", { name: "name", maxlength: 100, value: u.name, required: true });
    const max = h("input", { name: "max_sessions", type: "number", min: 1, max: 100, value: u.max_sessions });
    const password = h("input", { name: "password", type: "password", maxlength: 200,
      autocomplete: "new-password", placeholder: t("admin.password_keep") });
    const perms = h("input", { name: "permissions", value: u.permissions.join(", "), placeholder: t("admin.permissions_hint"), title: t("admin.permissions_hint") });
    modal(t("admin.edit_user", { id: u.id }), [field(t("admin.col.name"), name),
      u.user_type === "kefu" ? field(t("admin.col.max"), max) : null,
      field(t("admin.new_password"), password), field(t("admin.permissions"), perms)].filter(Boolean), {
      submitText: t("admin.save"),
      onSubmit: async () => {
        const body = {};
        if (name.value.trim() && name.value.trim() !== u.name) body.name = name.value.trim();
        if (u.user_type === "kefu" && Number(max.value) !== u.max_sessions) body.max_sessions = Number(max.value);
        if (password.value) body.password = password.value;
        if (Object.keys(body).length) await this.api.put(`/api/users/${encodeURIComponent(u.id)}`, body);
        const list = perms.value.split(",").map((s) => s.trim()).filter(Boolean);
        if (list.join() !== u.permissions.join()) {
          await this.api.put(`/api/users/${encodeURIComponent(u.id)}/permissions`, { permissions: list });
        }
        toast(t("admin.saved"));
        this.load();
      },
    });
  }

  async remove(u) {
    if (!(await confirmDialog(t("admin.delete_confirm", { id: u.id, name: u.name })))) return;
    try {
      await this.api.del(`/api/users/${encodeURIComponent(u.id)}`);
      toast(t("admin.deleted", { id: u.id }));
      this.load();
    } catch (err) {
      toast(err.message, "error");
    }
  }
}

function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}
