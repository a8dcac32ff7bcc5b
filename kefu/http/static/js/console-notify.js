// Notifications in the agent workspace (issue 15): while the tab is hidden, a new customer
// (`assigned`), an offer (`offer`) or a customer's message (`message`) raises a desktop
// notification (the Notification API) and/or a short tone (Web Audio, no sound file).
// Clicking a notification brings the tab forward on that customer. The switches (sound,
// desktop) live in the header's menu and are kept per agent in this browser's
// localStorage: the browser's permission for notifications is per browser too, and sound
// suits one device (the office PC) and not another (a phone) — so per device it is.
import { h, store } from "./dom.js";
import { t } from "./i18n.js";

const BELL = ["M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9", "M10.3 21a1.94 1.94 0 0 0 3.4 0"];
const FRESH_MS = 60000; // a message older than this (a replay after a reconnect) is not news
const BEEP_GAP_MS = 1000; // per kind: a burst of messages chimes once

export class Notifier {
  constructor(app) {
    this.app = app;
    this.key = `kefu.console.notify.${app.me.id}`;
    const granted = "Notification" in window && Notification.permission === "granted";
    this.prefs = { sound: true, desktop: granted, ...store.get(this.key, {}) };
    this.seen = new Set();
    this.lastBeep = new Map(); // kind → ms
    this.audio = null;
    // browsers let a page play sound only after a user gesture: prepare it on the first
    const unlock = () => this.audioContext();
    document.addEventListener("pointerdown", unlock, { once: true, capture: true });
    document.addEventListener("keydown", unlock, { once: true, capture: true });
  }

  save() {
    store.set(this.key, this.prefs);
  }

  /** Every frame passes here (after the workspace handled it). */
  frame(f) {
    if (document.visibilityState !== "hidden") return;
    const note = this.describe(f);
    if (!note || this.seen.has(note.tag)) return;
    this.seen.add(note.tag);
    if (this.prefs.sound) this.beep(note.tag.split("-")[0]);
    if (this.prefs.desktop) this.desktop(note);
  }

  describe(f) {
    const app = this.app;
    if (f.type === "assigned" && f.kehu) {
      return { tag: `assigned-${f.session.session_id}-${Date.now()}`, sid: f.session.session_id,
        title: t("notify.new_customer", { name: f.kehu.name }), body: "" };
    }
    if (f.type === "offer" && f.customer) {
      return { tag: `offer-${f.offer_id}`, sid: null,
        title: t("notify.offer", { name: f.customer.name }), body: f.preview || "" };
    }
    if (f.type === "message" && f.message && f.message.session_id) {
      const m = f.message;
      const conv = app.convs.get(m.session_id);
      if (!conv || m.from !== conv.kehu_id) return null;
      if (Date.now() - new Date(m.timestamp).getTime() > FRESH_MS) return null;
      const body = m.deleted ? t("msg.deleted") : m.content_type === "Image" ? t("msg.image") : m.content;
      return { tag: `msg-${m.id}`, sid: m.session_id,
        title: t("notify.message", { name: conv.kehu_name }), body: String(body || "").slice(0, 140) };
    }
    return null;
  }

  desktop(note) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      const n = new Notification(note.title, { body: note.body, tag: note.tag, lang: document.documentElement.lang });
      n.onclick = () => {
        window.focus();
        if (note.sid && this.app.convs.has(note.sid)) this.app.setFocus(note.sid);
        n.close();
      };
    } catch {
      // (some browsers allow notifications only from a service worker)
    }
  }

  audioContext() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!this.audio) {
      try {
        this.audio = new Ctx();
      } catch {
        return null;
      }
    }
    if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
    return this.audio;
  }

  /** A short two-note chime (at most one a second for each kind of news). */
  beep(kind) {
    const now = Date.now();
    if (now - (this.lastBeep.get(kind) || 0) < BEEP_GAP_MS) return;
    this.lastBeep.set(kind, now);
    const ctx = this.audioContext();
    if (!ctx) return;
    const start = ctx.currentTime;
    [880, 1320].forEach((freq, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const at = start + i * 0.14;
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.18, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.25);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.3);
    });
  }

  /** The header's menu: a bell button and a small panel with the two switches. */
  menu() {
    const denied = h("p", { class: "notify-denied", role: "alert", hidden: true }, t("notify.denied"));
    const sound = h("input", { type: "checkbox", name: "notify-sound" });
    const desktop = h("input", { type: "checkbox", name: "notify-desktop" });
    sound.checked = this.prefs.sound;
    desktop.checked = this.prefs.desktop;
    sound.addEventListener("change", () => {
      this.prefs.sound = sound.checked;
      this.save();
      if (sound.checked) this.audioContext();
    });
    desktop.addEventListener("change", async () => {
      denied.hidden = true;
      if (desktop.checked) {
        const ok = "Notification" in window && (Notification.permission === "granted"
          || (Notification.permission !== "denied" && await Notification.requestPermission() === "granted"));
        if (!ok) {
          desktop.checked = false;
          denied.hidden = false;
        }
      }
      this.prefs.desktop = desktop.checked;
      this.save();
    });
    const panel = h("div", { class: "notify-panel card", id: "notify-panel", hidden: true },
      h("p", { class: "notify-hint" }, t("notify.hint")),
      h("label", { class: "check" }, sound, h("span", {}, t("notify.sound"))),
      h("label", { class: "check" }, desktop, h("span", {}, t("notify.desktop"))),
      denied);
    const button = h("button", { type: "button", class: "btn btn-ghost btn-icon notify-btn",
      "aria-label": t("notify.menu"), title: t("notify.menu"), "aria-expanded": "false",
      "aria-controls": "notify-panel", onclick: () => toggle(panel.hidden) },
    h("svg:svg", { viewBox: "0 0 24 24", width: 18, height: 18, fill: "none", stroke: "currentColor",
      "stroke-width": 2, "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true",
      class: "icon" }, BELL.map((d) => h("svg:path", { d }))));
    const wrap = h("div", { class: "notify-menu" }, button, panel);
    function toggle(open) {
      panel.hidden = !open;
      button.setAttribute("aria-expanded", String(open));
      if (open) sound.focus();
    }
    wrap.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !panel.hidden) {
        toggle(false);
        button.focus();
      }
    });
    document.addEventListener("click", (ev) => {
      if (!panel.hidden && !wrap.contains(ev.target)) toggle(false);
    });
    return wrap;
  }
}
