// The agent workspace's state and its WebSocket frame handling (docs/protocol.md).
// Actions and derived figures are in console-actions.js, rendering in console-view.js.
import { Api } from "./api.js";
import { Conversation, Outbox } from "./conversation.js";
import { store, toast } from "./dom.js";
import { t } from "./i18n.js";
import { ChatSocket } from "./ws.js";
import { ConsoleView } from "./console-view.js";
import { WorkspaceActions } from "./console-actions.js";
import { Notifier } from "./console-notify.js";
import { useUploads } from "./attachments.js";

const RETRY_CODES = new Set(["storage_unavailable", "outcome_unknown", "actor_failed"]);
const TYPING_SHOW_MS = 4000;

export class Workspace extends WorkspaceActions {
  constructor(root, auth, { onLogout }) {
    super();
    this.me = auth.user;
    this.api = new Api(auth.token);
    this.api.onUnauthorized = onLogout;
    this.onLogout = onLogout;
    this.convs = new Map(); // session id → Conversation
    const outboxKey = `kefu.console.outbox.${this.me.id}`; // unsent messages survive a reload
    this.outbox = new Outbox((frames) => store.set(outboxKey, frames));
    for (const frame of store.get(outboxKey, [])) this.outbox.put(frame);
    this.focus = null;
    this.status = this.me.status === "offline" ? "online" : this.me.status;
    this.link = "connecting";
    this.waiting = [];
    this.offers = new Map(); // offer id → the offer frame (a team in offer mode)
    this.leftMessages = []; // messages left that this agent may answer (open ones)
    this.canned = []; // canned responses this agent may use ("/" in the composer)
    this.presence = new Map(); // kehu id → "online" | "offline"
    this.names = new Map(); // user id → name, learnt from frames and REST replies
    this.typingUntil = new Map(); // session id → ms
    this.pendingResume = new Set();
    this.firstHello = true;
    this.takeRequested = null;
    this.lastTypingSent = 0;
    this.draftKey = `kefu.console.drafts.${this.me.id}`;
    this.drafts = new Map(Object.entries(store.get(this.draftKey, {})));
    this.notifier = new Notifier(this); // issue 15: sound and desktop notifications
    this.view = new ConsoleView(root, this);
    this.socket = new ChatSocket(auth.token, {
      onFrame: (f) => this.onFrame(f),
      onState: (s) => this.onLink(s),
    });
  }

  start() {
    this.view.render();
    this.socket.start();
    this.tick = setInterval(() => this.view.refresh(), 5000);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.markRead(this.focus);
      this.view.refresh();
    });
    window.kefuConsole = this; // for the browser tests (drop the link, inspect state)
  }

  // --- connection ------------------------------------------------------------------

  onLink(state) {
    this.link = state;
    if (state === "unauthorized") {
      this.onLogout();
      return;
    }
    this.view.refresh();
  }

  onFrame(f) {
    const handler = this[`on_${f.type}`];
    if (handler) handler.call(this, f);
    this.notifier.frame(f);
    this.view.refresh();
  }

  async on_hello(f) {
    this.me = { ...this.me, ...f.user };
    useUploads(this.api, f.limits); // its token and the size limit (issue 15)
    this.loadOwnStatus();
    const live = new Set();
    for (const s of f.sessions) {
      live.add(s.session_id);
      this.learn(s.kefu_id, s.kefu_name);
      this.learn(s.kehu_id, s.kehu_name);
      const conv = this.conv(s.session_id, s);
      conv.update(s);
      if (s.read) conv.peerRead = Math.max(conv.peerRead, s.read.kehu);
    }
    for (const conv of this.convs.values()) {
      if (conv.status === "active" && !live.has(conv.sid)) this.checkStatus(conv);
    }
    if (this.firstHello) {
      this.firstHello = false;
      await this.loadUnread(f.sessions);
      if (!this.focus && f.sessions.length) this.setFocus(f.sessions[0].session_id, false);
    }
    this.resume([...this.convs.keys()]);
    this.refreshLeft(); // (the queue comes pushed: a waiting frame follows hello)
    this.refreshCanned();
    this.view.refresh();
  }

  learn(id, name) {
    if (id && name) this.names.set(id, name);
  }

  nameOf(id) {
    return id === this.me.id ? this.me.name : this.names.get(id) || id;
  }

  resume(sids) {
    const since = {};
    for (const sid of sids) {
      since[sid] = this.convs.get(sid).lastSeq;
      this.pendingResume.add(sid);
    }
    if (!sids.length || !this.socket.send({ type: "resume", since })) this.flushOutbox();
  }

  on_resumed(f) {
    this.pendingResume.delete(f.session_id);
    if (this.pendingResume.size === 0) this.flushOutbox();
  }

  /** Resend what was never acked, with the same client_msg_id (stored at most once). */
  flushOutbox() {
    for (const frame of this.outbox.sending()) this.socket.send(frame);
  }

  conv(sid, meta = {}) {
    let conv = this.convs.get(sid);
    if (!conv) {
      const [kehu, kefu] = sid.split(":");
      conv = new Conversation({ session_id: sid, kehu_id: kehu, kefu_id: kefu, kehu_name: kehu, ...meta });
      this.convs.set(sid, conv);
    }
    return conv;
  }

  // --- events ------------------------------------------------------------------------

  on_assigned(f) {
    const conv = this.conv(f.session.session_id, f.session);
    conv.update({ ...f.session, status: "active" });
    this.learn(f.kefu.id, f.kefu.name);
    this.learn(f.kehu.id, f.kehu.name);
    conv.note(t("note.assigned", { name: f.kehu.name }));
    this.resume([conv.sid]);
    this.loadPresence(conv);
    if (conv.transferred_from) this.loadEarlier(conv); // requeued or sent to a team: its history
    if (!this.focus || this.takeRequested === f.kehu.id) this.setFocus(conv.sid, false);
    this.takeRequested = null;
  }

  on_transferred(f) {
    if (f.to_kefu_id === this.me.id) {
      const conv = this.conv(f.new_session_id, f.session);
      conv.update({ ...f.session, status: "active", transferred_from: f.session_id });
      conv.note(() => t("note.transferred_in", { from: this.nameOf(f.from_kefu_id),
        reason: f.reason || "-", note: f.note || "-" })); // names resolve as they are learnt
      this.resume([conv.sid]);
      this.loadPresence(conv);
      this.loadEarlier(conv);
      if (!this.focus) this.setFocus(conv.sid, false);
      toast(t("toast.transferred_in", { name: conv.kehu_name }));
    }
    const old = this.convs.get(f.session_id);
    if (old && f.from_kefu_id === this.me.id) {
      old.status = "transferred";
      this.learn(f.session.kefu_id, f.session.kefu_name);
      old.note(() => t("note.transferred_out", { to: this.nameOf(f.to_kefu_id) }));
    }
  }

  on_waiting(f) {
    // the server pushes the queue when it changes (at most once a second): no polling
    this.waiting = f.waiting_customers;
  }

  on_session_ended(f) {
    const conv = this.convs.get(f.session_id);
    if (!conv) return;
    conv.status = "completed";
    if (f.reason !== "ended") conv.note(t(`note.ended_${f.reason}`));
    else if (f.by === this.me.id) conv.note(t("note.ended_by_me"));
    else if (f.by === conv.kehu_id) conv.note(t("note.ended_by_customer"));
    else conv.note(() => t("note.ended_by", { by: this.nameOf(f.by || "") }));
  }

  on_message(f) {
    const msg = f.message;
    if (!msg.session_id) return;
    const conv = this.conv(msg.session_id);
    if (msg.from === this.me.id) this.outbox.ack(msg.client_msg_id);
    conv.add(msg);
    if (msg.from !== this.me.id) {
      this.typingUntil.delete(conv.sid);
      if (conv.sid === this.focus && !document.hidden) this.markRead(conv.sid);
    }
  }

  on_ack(f) {
    this.outbox.ack(f.client_msg_id);
    if (f.message.session_id) {
      const conv = this.conv(f.message.session_id);
      conv.add(f.message);
      conv.myRead = Math.max(conv.myRead, f.message.seq || 0); // sending advances it
    }
  }

  on_read(f) {
    const conv = this.convs.get(f.session_id);
    if (!conv) return;
    if (f.user_id === this.me.id) conv.myRead = Math.max(conv.myRead, f.seq);
    else conv.peerRead = Math.max(conv.peerRead, f.seq);
  }

  on_typing(f) {
    if (f.user_id !== this.me.id) this.typingUntil.set(f.session_id, Date.now() + TYPING_SHOW_MS);
    setTimeout(() => this.view.refresh(), TYPING_SHOW_MS + 50);
  }

  on_switched(f) {
    if (this.convs.has(f.session_id)) this.setFocus(f.session_id, false);
  }

  on_tags(f) {
    this.view.tags.update(f);
  }

  on_note(f) {
    const conv = this.convs.get(f.note.session_id);
    if (conv) this.addNote(conv, f.note);
  }

  on_message_left(f) {
    if (!this.leftMessages.some((m) => m.id === f.left.id)) this.leftMessages.push(f.left);
  }

  on_offer(f) {
    this.offers.set(f.offer_id, { ...f, until: Date.now() + f.expires_in_seconds * 1000 });
    this.learn(f.customer.id, f.customer.name);
    toast(t("toast.offer", { name: f.customer.name }));
    if (!this.offerClock) this.offerClock = setInterval(() => this.view.refresh(), 1000);
  }

  on_offer_closed(f) {
    this.offers.delete(f.offer_id);
    if (!this.offers.size && this.offerClock) {
      clearInterval(this.offerClock);
      this.offerClock = null;
    }
  }

  on_away(f) {
    this.status = "away";
    toast(t("toast.away_missed", { n: f.misses }), "error");
  }

  on_presence(f) {
    if (f.user_id === this.me.id) {
      if (f.status !== "offline") this.status = f.status;
    } else {
      this.presence.set(f.user_id, f.status);
    }
  }

  on_error(f) {
    if (f.ref && this.outbox.items.has(f.ref)) {
      if (RETRY_CODES.has(f.code)) {
        setTimeout(() => this.flushOutbox(), 2000);
      } else {
        this.outbox.fail(f.ref, f.code);
        toast(t(`err.${f.code}`), "error");
      }
      return;
    }
    if (f.code === "kefu_full" || f.code === "customer_not_found") this.takeRequested = null;
    toast(t(`err.${f.code}`), "error");
  }

  on_server_closing() {
    toast(t("conn.server_closing"), "error");
  }
}
