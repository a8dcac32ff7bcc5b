// System: health (6.4), maintenance mode (6.3), the supervised actors with mailbox depth,
// restart counts and a restart button, backups (6.2: create, list, download).
import { h, keepFocus, mount, toast } from "./dom.js";
import { t } from "./i18n.js";
import { confirmDialog } from "./dialogs.js";
import { badge, bytes, panel, Poller, stat, table, when } from "./admin-ui.js";

export class SystemSection {
  constructor(api) {
    this.api = api;
    this.error = h("p", { class: "form-error", role: "alert" });
    this.health = h("div", { class: "stats" });
    this.maint = h("div");
    this.actors = h("div");
    this.backups = h("div");
    this.kind = h("select", { "aria-label": t("admin.kind") }, h("option", { value: "" }, t("admin.any_kind")),
      ["dispatcher", "agent", "session"].map((k) => h("option", { value: k }, k)));
    this.kind.addEventListener("change", () => this.loadActors());
    this.poller = new Poller(async () => {
      await Promise.all([this.loadHealth(), this.loadActors()]);
    }, 5000, this.error);
  }

  render() {
    return h("div", { class: "section" }, this.error, this.health,
      h("div", { class: "two-col" },
        panel(t("admin.maintenance"), this.maint),
        panel(t("admin.backups"), this.backups,
          h("button", { type: "button", class: "btn btn-primary", onclick: () => this.backup() }, t("admin.backup_now")))),
      panel(t("admin.actors"), this.actors, this.kind));
  }

  start() {
    this.poller.start();
    this.loadMaintenance().catch((err) => { this.error.textContent = err.message; });
    this.loadBackups().catch((err) => { this.error.textContent = err.message; });
  }

  stop() {
    this.poller.stop();
  }

  async loadHealth() {
    let data;
    try {
      data = await this.api.get("/api/system/health");
    } catch (err) {
      data = err.body && err.body.data; // 503 still carries the figures
      if (!data) throw err;
    }
    mount(this.health,
      stat(t("admin.health"), t(`health.${data.status}`), `v${data.version}`, data.status === "healthy" ? "green" : "amber"),
      stat(t("admin.redis"), data.redis.ok ? `${data.redis.latency_ms} ms` : data.redis.error || "down", null,
        data.redis.ok ? "" : "red"),
      stat(t("admin.actors"), `${data.actors.running} / ${data.actors.total}`,
        data.actors.failed.length ? t("admin.failed", { ids: data.actors.failed.join(", ") }) : null,
        data.actors.failed.length ? "red" : ""),
      stat(t("admin.connections"), String(data.connections.connections), t("admin.conn_users", { n: data.connections.users })),
      stat(t("admin.uptime"), `${Math.floor(data.uptime_seconds / 3600)}h ${Math.floor((data.uptime_seconds % 3600) / 60)}m`));
  }

  async loadActors() {
    const data = await this.api.get("/api/system/actors", { kind: this.kind.value });
    keepFocus(this.actors, "actor", () => mount(this.actors, table(
      [t("admin.col.actor"), t("admin.col.kind"), t("admin.col.state"), t("admin.col.mailbox"),
        t("admin.col.restarts"), t("admin.col.failure"), ""],
      data.actors.map((a) => [h("code", {}, a.actor_id), a.kind,
        badge(t(`astate.${a.state}`), a.state === "running" ? "online" : a.state === "failed" ? "failed" : "away"),
        String(a.mailbox_depth), String(a.restarts),
        a.last_failure ? h("span", { class: "clip", title: a.last_failure }, a.last_failure) : "-",
        h("button", { type: "button", class: "btn btn-small", dataset: { actor: a.actor_id },
          onclick: () => this.restart(a.actor_id) }, t("admin.restart"))]),
      { label: t("admin.actors") })));
  }

  async restart(actorId) {
    if (!(await confirmDialog(t("admin.restart_confirm", { id: actorId }), { danger: false }))) return;
    try {
      const a = await this.api.post(`/api/system/actors/${encodeURIComponent(actorId)}/restart`);
      toast(t("admin.restarted", { id: actorId, n: a.restarts }));
      await this.loadActors();
    } catch (err) {
      toast(err.message, "error");
    }
  }

  async loadMaintenance() {
    const m = await this.api.get("/api/system/maintenance");
    const on = h("input", { type: "checkbox", id: "maint-on", checked: m.enabled });
    const msg = h("textarea", { id: "maint-msg", rows: 2, maxlength: 500, placeholder: t("admin.maint_ph") });
    msg.value = m.message || "";
    mount(this.maint, h("form", { class: "maint-form", onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const data = await this.api.put("/api/system/maintenance",
          { enabled: on.checked, message: msg.value.trim() || null });
        toast(t(data.enabled ? "admin.maint_on" : "admin.maint_off"));
        await this.loadMaintenance();
      } catch (err) {
        toast(err.message, "error");
      }
    } },
    h("p", {}, badge(t(m.enabled ? "admin.maint_state_on" : "admin.maint_state_off"), m.enabled ? "failed" : "online"),
      m.since ? ` ${t("admin.since", { when: when(m.since), by: m.updated_by || "-" })}` : ""),
    h("label", { class: "check", for: "maint-on" }, on, t("admin.maint_enable")),
    h("label", { class: "field", for: "maint-msg" }, h("span", {}, t("admin.maint_msg")), msg),
    h("button", { type: "submit", class: "btn btn-primary" }, t("admin.save"))));
  }

  async loadBackups() {
    const data = await this.api.get("/api/system/backups");
    mount(this.backups, table(
      [t("admin.col.file"), t("admin.col.size"), t("admin.col.keys"), t("admin.col.created"), ""],
      data.backups.map((b) => [h("code", {}, b.name), bytes(b.size_bytes), String(b.key_count ?? "-"),
        when(b.created_at),
        h("button", { type: "button", class: "btn btn-small", onclick: () =>
          this.api.download(`/api/system/backups/${encodeURIComponent(b.name)}`, b.name)
            .catch((err) => toast(err.message, "error")) }, t("admin.download"))]),
      { label: t("admin.backups") }));
  }

  async backup() {
    try {
      const b = await this.api.post("/api/system/backup");
      toast(t("admin.backup_done", { name: b.name, n: b.key_count }));
      await this.loadBackups();
    } catch (err) {
      toast(err.message, "error");
    }
  }
}
