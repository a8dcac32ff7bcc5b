// The customer widget's state and frame handling. It survives a reload: the guest token,
// the phase, unsent messages (the outbox) and messages sent while queued are kept in
// localStorage; everything else is fetched again (hello, resume, REST history).
import { Api } from "./api.js";
import { Conversation, Outbox } from "./conversation.js";
import { newId, store, toast } from "./dom.js";
import { has, t } from "./i18n.js";
import { ChatSocket } from "./ws.js";
import { useUploads } from "./attachments.js";
import { loadPast, markNewConversation } from "./chat-history.js";

export const AUTH_KEY = "kefu.chat.auth";
const STATE_KEY = "kefu.chat.state";
const RETRY_CODES = new Set(["storage_unavailable", "outcome_unknown", "actor_failed"]);

export class ChatState {
  constructor(onChange) {
    this.onChange = onChange;
    this.auth = store.get(AUTH_KEY);
    const saved = store.get(STATE_KEY, {});
    this.phase = this.auth ? saved.phase || "idle" : "welcome";
    this.rateSid = saved.rateSid || null;
    this.current = saved.current || null; // the latest session id (active or not)
    this.team = saved.team || null; // the team it asked for (embed data-team, pre-chat)
    this.convs = new Map();
    this.waiting = new Conversation({ session_id: null });
    for (const m of saved.waiting || []) this.waiting.add(m);
    this.outbox = new Outbox();
    for (const f of saved.outbox || []) this.outbox.put(f);
    this.queue = null;
    this.kefu = null;
    this.kefuPresence = "online";
    this.link = "idle";
    this.typingUntil = 0;
    this.pendingResume = new Set();
    this.socket = null;
  }

  get me() {
    return this.auth && this.auth.user;
  }

  save() {
    store.set(STATE_KEY, { phase: this.phase, rateSid: this.rateSid, current: this.current,
      team: this.team,
      waiting: [...this.waiting.messages.values()], outbox: this.outbox.toJSON() });
  }

  changed() {
    this.save();
    this.onChange();
  }

  /** The frame that asks for an agent (of the team the customer chose, if any). */
  serviceRequest() {
    return this.team ? { type: "request_service", team: this.team } : { type: "request_service" };
  }

  /** Become a guest (POST /api/auth/guest), then connect and ask for an agent (of
   * ``team``: the embed's data-team or the pre-chat choice). ``answers``: the pre-chat
   * form's (POST /api/widget/prechat, issue 15), or null. */
  async startAsGuest(name, team, answers = null) {
    const data = await new Api().post("/api/auth/guest", name ? { name } : {});
    if (answers) await new Api(data.token).post("/api/widget/prechat", answers);
    this.team = team || null;
    this.auth = { token: data.token, user: data.user };
    store.set(AUTH_KEY, this.auth);
    this.phase = "requesting";
    this.connect();
    this.changed();
  }

  connect() {
    this.api = new Api(this.auth.token);
    this.socket = new ChatSocket(this.auth.token, {
      onFrame: (f) => {
        const handler = this[`on_${f.type}`];
        if (handler) handler.call(this, f);
        this.changed();
      },
      onState: (s) => {
        this.link = s;
        if (s === "unauthorized") this.forget();
        this.changed();
      },
    });
    this.socket.start();
    this.loadLeftMessages();
    window.kefuChat = this; // for the browser tests (drop the link, inspect state)
  }

  /** The token is gone (revoked, expired, user deleted): start again as a new guest. */
  forget() {
    store.remove(AUTH_KEY);
    store.remove(STATE_KEY);
    this.auth = null;
    this.phase = "welcome";
    this.convs.clear();
    this.pastLoaded = false;
  }

  conv(sid, meta = {}) {
    let conv = this.convs.get(sid);
    if (!conv) {
      conv = new Conversation({ session_id: sid, ...meta });
      this.convs.set(sid, conv);
    }
    return conv;
  }

  // --- frames ------------------------------------------------------------------------

  on_hello(f) {
    this.auth.user = f.user;
    useUploads(this.api, f.limits); // its token and the size limit (issue 15)
    const active = f.sessions[0];
    if (active) {
      const conv = this.conv(active.session_id, active);
      conv.update(active);
      if (active.read) conv.peerRead = Math.max(conv.peerRead, active.read.kefu);
      this.current = conv.sid;
      this.kefu = { id: active.kefu_id, name: active.kefu_name };
      this.phase = "active";
      if (conv.transferred_from) this.loadEarlier(conv.transferred_from);
    } else {
      if (this.phase === "requesting" || this.phase === "waiting") {
        this.socket.send(this.serviceRequest()); // keeps its place if still queued
      } else if (this.phase === "active") { // it ended while this page was away
        this.phase = this.current ? "ended" : "idle";
        this.rateSid = this.current;
      }
      if (this.current && !this.convs.has(this.current)) this.loadEarlier(this.current);
    }
    this.resume();
    if (!this.pastLoaded) { // a returning customer's earlier conversations (issue 15)
      this.pastLoaded = true;
      loadPast(this);
    }
  }

  resume() {
    const since = {};
    for (const conv of this.convs.values()) {
      since[conv.sid] = conv.lastSeq;
      this.pendingResume.add(conv.sid);
    }
    if (!Object.keys(since).length || !this.socket.send({ type: "resume", since })) this.flush();
  }

  on_resumed(f) {
    this.pendingResume.delete(f.session_id);
    if (!this.pendingResume.size) this.flush();
  }

  flush() {
    for (const frame of this.outbox.sending()) this.socket.send(frame);
  }

  async loadEarlier(sid) {
    for (let i = 0; sid && i < 10 && !this.convs.has(sid); i += 1) {
      try {
        const detail = await this.api.get(`/api/sessions/${encodeURIComponent(sid)}`);
        const s = detail.session;
        const conv = this.conv(sid, s);
        for (const m of await this.api.sessionMessages(sid, false)) conv.add(m);
        // what a reload must not lose (issue 15): the agent's read mark and the end
        if (s.read) conv.peerRead = Math.max(conv.peerRead, s.read.kefu);
        if (s.status === "completed" && !conv.notes.length) conv.note(t("chat.note_ended"), s.ended_at);
        sid = s.transferred_from;
      } catch {
        break;
      }
    }
    this.changed();
  }

  on_queued(f) {
    this.phase = "waiting";
    this.queue = f;
  }

  on_leave_message(f) {
    // outside the team's hours (not queued): the form; nobody online or past the max
    // wait (still queued): an offer the customer may take
    this.leaveOffer = f;
    if (!f.queued) this.phase = "leave";
  }

  /** Leave a message (POST /api/messages-left): the customer stops waiting. */
  async leaveMessage(fields) {
    const reason = this.leaveOffer ? this.leaveOffer.reason : "chose";
    const data = await this.api.post("/api/messages-left",
      { ...fields, team: this.team || null, reason });
    this.leftMessages = [data.message, ...(this.leftMessages || [])];
    this.phase = "left";
    this.leaveOffer = null;
    this.changed();
  }

  /** The customer's earlier messages left and their replies (shown when it opens). */
  async loadLeftMessages() {
    try {
      this.leftMessages = (await this.api.get("/api/messages-left/mine")).messages;
      this.onChange();
    } catch {
      // (shown next time)
    }
  }

  on_connecting(f) {
    // offered to an agent (a team in offer mode) that is deciding; or that fell through
    this.connecting = f.active !== false;
  }

  on_assigned(f) {
    this.connecting = false;
    const conv = this.conv(f.session.session_id, f.session);
    conv.update({ ...f.session, status: "active" });
    this.current = conv.sid;
    this.kefu = f.kefu;
    this.kefuPresence = "online";
    this.phase = "active";
    this.queue = null;
    markNewConversation(this, conv);
    conv.note(t("chat.note_assigned", { name: f.kefu.name }));
    this.pendingResume.add(conv.sid);
    this.socket.send({ type: "resume", since: { [conv.sid]: conv.lastSeq } });
  }

  on_transferred(f) {
    const old = this.convs.get(f.session_id);
    if (old) old.status = "transferred";
    const conv = this.conv(f.new_session_id, f.session);
    conv.update({ ...f.session, status: "active" });
    this.current = conv.sid;
    this.kefu = { id: f.to_kefu_id, name: f.session.kefu_name || f.to_kefu_id };
    this.kefuPresence = "online";
    conv.note(t("chat.note_transferred", { name: this.kefu.name }));
  }

  on_session_ended(f) {
    const conv = this.convs.get(f.session_id);
    if (conv) {
      conv.status = "completed";
      conv.note(t(f.reason === "ended" ? "chat.note_ended" : `note.ended_${f.reason}`));
    }
    // back in the queue (its agent left, or it was sent to another team): queued follows
    if (f.reason === "agent_offline" || f.reason === "transferred_to_team") return;
    if (f.session_id === this.current) {
      this.phase = "ended";
      this.rateSid = f.session_id;
    }
  }

  on_message(f) {
    const msg = f.message;
    if (msg.from === this.me.id) this.outbox.ack(msg.client_msg_id);
    if (!msg.session_id) {
      this.waiting.add(msg);
      return;
    }
    this.waiting.remove(msg.id);
    const conv = this.conv(msg.session_id);
    conv.add(msg);
    if (msg.from !== this.me.id) {
      this.typingUntil = 0;
      this.markRead();
    }
  }

  on_ack(f) {
    this.outbox.ack(f.client_msg_id);
    this.on_message({ message: f.message });
  }

  on_read(f) {
    const conv = this.convs.get(f.session_id);
    if (conv && f.user_id !== this.me.id) conv.peerRead = Math.max(conv.peerRead, f.seq);
  }

  on_typing(f) {
    if (f.user_id === this.me.id) return;
    this.typingUntil = Date.now() + 4000;
    setTimeout(() => this.onChange(), 4050);
  }

  on_presence(f) {
    if (this.kefu && f.user_id === this.kefu.id) this.kefuPresence = f.status;
  }

  on_rated() {
    this.phase = "rated";
    this.rateSid = null;
  }

  on_error(f) {
    if (f.ref && this.outbox.items.has(f.ref)) {
      if (f.code === "rate_limited") { // not stored: resent, same id, when the window allows
        setTimeout(() => this.flush(), 1000 * (f.retry_after || 5));
      } else if (RETRY_CODES.has(f.code)) {
        setTimeout(() => this.flush(), 2000);
        return;
      } else {
        this.outbox.fail(f.ref, f.code);
      }
    }
    if (f.code === "already_rated") this.on_rated();
    if (f.code === "already_in_session") return;
    toast(has(`err.${f.code}`) ? t(`err.${f.code}`) : f.message, "error");
  }

  // --- actions -----------------------------------------------------------------------

  markRead() {
    const conv = this.current && this.convs.get(this.current);
    if (!conv || document.hidden) return;
    if (conv.maxSeq > conv.myRead) {
      conv.myRead = conv.maxSeq;
      this.socket.send({ type: "read", session_id: conv.sid, seq: conv.maxSeq });
    }
  }

  send(content, contentType = "Text", url = null) {
    if (!content.trim()) return false;
    const frame = { type: "message", client_msg_id: newId(), content, content_type: contentType };
    if (url) frame.url = url;
    if (this.phase !== "active" && this.phase !== "waiting") this.phase = "requesting";
    this.outbox.put(frame);
    this.socket.send(frame);
    this.lastTyping = 0; // the next keystroke says "typing" again at once
    this.changed();
    return true;
  }

  typing() {
    const now = Date.now();
    if (this.phase !== "active" || now - (this.lastTyping || 0) < 2000) return;
    this.lastTyping = now;
    this.socket.send({ type: "typing", session_id: this.current });
  }

  rate(score, comment) {
    if (!this.rateSid) return;
    this.socket.send({ type: "rate", session_id: this.rateSid, score, comment: comment || null });
  }

  again() {
    this.phase = "requesting";
    this.rateSid = null;
    this.socket.send(this.serviceRequest());
    this.changed();
  }
}
