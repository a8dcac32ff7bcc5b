// The agent workspace's actions (REST calls, focus, drafts, sending) and derived
// figures (unread counts, waiting times). The frame handling is in console-app.js.
import { newId, store, toast } from "./dom.js";
import { t } from "./i18n.js";
import { confirmDialog } from "./dialogs.js";

const TYPING_SEND_MS = 2000;

export class WorkspaceActions {
  /** The kefu's own read marks at page load, from the unread counts of seed 2.1. */
  async loadUnread(sessions) {
    try {
      const data = await this.api.get(`/api/kefu/${encodeURIComponent(this.me.id)}/customers`);
      const lastSeq = new Map(sessions.map((s) => [s.session_id, s.last_seq || 0]));
      for (const c of data.customers) {
        const conv = this.convs.get(c.session_id);
        if (conv && lastSeq.has(c.session_id)) {
          conv.myRead = Math.max(conv.myRead, lastSeq.get(c.session_id) - c.unread_count);
        }
        this.presence.set(c.id, c.status === "Online" ? "online" : "offline");
      }
    } catch {
      /* unread counts start from live traffic only */
    }
  }

  /** The status this agent chose, as routing sees it (seed 2.2 ``set_status``). */
  async loadOwnStatus() {
    const asked = this.statusChanges || 0;
    try {
      const data = await this.api.get(`/api/kefu/${encodeURIComponent(this.me.id)}/workload`);
      if ((this.statusChanges || 0) !== asked) return; // the agent chose one meanwhile: it wins
      this.status = data.workload.set_status;
      this.view.refresh();
    } catch {
      /* keep the last known one */
    }
  }

  /** Whether a newly assigned customer is connected (presence frames only tell changes). */
  async loadPresence(conv) {
    try {
      const data = await this.api.get(`/api/sessions/${encodeURIComponent(conv.sid)}`);
      if (!this.presence.has(conv.kehu_id)) {
        this.presence.set(conv.kehu_id, data.participants.kehu.status === "Online" ? "online" : "offline");
      }
      this.view.refresh();
    } catch {
      /* unknown until the next presence frame */
    }
  }

  async checkStatus(conv) {
    try {
      const data = await this.api.get(`/api/sessions/${encodeURIComponent(conv.sid)}`);
      conv.update(data.session);
      this.view.refresh();
    } catch {
      /* keep what we know */
    }
  }

  // --- actions -----------------------------------------------------------------------

  setFocus(sid, tellServer = true) {
    const conv = this.convs.get(sid);
    if (!conv) return;
    this.focus = sid;
    if (tellServer) this.view.panel.picked();
    if (tellServer && conv.status === "active") {
      this.socket.send({ type: "switch", customer_id: conv.kehu_id });
    }
    if (conv.transferred_from && !conv.earlierLoaded) this.loadEarlier(conv);
    this.loadNotes(conv);
    this.view.focusChanged(tellServer); // on a phone, only the agent's own pick opens the chat
    this.markRead(sid);
  }

  markRead(sid) {
    const conv = sid && this.convs.get(sid);
    if (!conv || !this.view.chatVisible()) return; // read means seen on the screen
    const seq = conv.maxSeq;
    if (seq > conv.myRead) {
      conv.myRead = seq;
      this.socket.send({ type: "read", session_id: sid, seq });
    }
  }

  /** Earlier sessions of this customer (followed through transferred_from links). */
  async loadEarlier(conv) {
    if (conv.earlierLoaded) return;
    conv.earlierLoaded = true;
    const chain = [];
    let sid = conv.transferred_from;
    for (let i = 0; sid && i < 10; i += 1) {
      try {
        const detail = await this.api.get(`/api/sessions/${encodeURIComponent(sid)}`);
        const msgs = await this.api.sessionMessages(sid, true);
        chain.unshift({ session: detail.session, messages: msgs });
        this.learn(detail.session.kefu_id, detail.session.kefu_name);
        sid = detail.session.transferred_from;
      } catch {
        break;
      }
    }
    conv.earlier = chain;
    this.view.refresh();
  }

  send(content, contentType = "Text", url = null, sid = this.focus) {
    const conv = this.convs.get(sid); // (an upload names its session: issue 15)
    if (!conv || conv.status !== "active" || !content.trim()) return false;
    const frame = { type: "message", client_msg_id: newId(), content, content_type: contentType,
      session_id: conv.sid };
    if (url) frame.url = url;
    this.outbox.put(frame);
    this.socket.send(frame); // if down, flushOutbox resends after the next hello
    this.lastTypingSent = 0; // the next keystroke says "typing" again at once
    this.view.refresh();
    return true;
  }

  typing() {
    const now = Date.now();
    if (!this.focus || now - this.lastTypingSent < TYPING_SEND_MS) return;
    this.lastTypingSent = now;
    this.socket.send({ type: "typing", session_id: this.focus });
  }

  saveDraft(sid, text) {
    if (!sid) return;
    if (text) this.drafts.set(sid, text);
    else this.drafts.delete(sid);
    store.set(this.draftKey, Object.fromEntries(this.drafts));
  }

  async setStatus(status) {
    this.statusChanges = (this.statusChanges || 0) + 1;
    try {
      await this.api.put(`/api/users/${encodeURIComponent(this.me.id)}/status`, { status });
      this.status = status;
    } catch (err) {
      toast(err.message, "error");
    }
    this.view.refresh();
  }

  take(customerId) {
    this.takeRequested = customerId;
    if (!this.socket.send({ type: "switch", customer_id: customerId })) {
      toast(t("conn.down"), "error");
    }
  }

  /** Accept or decline an offered customer (the answer comes back as offer_closed). */
  answerOffer(offerId, accept) {
    if (!this.socket.send({ type: accept ? "accept" : "decline", offer_id: offerId })) {
      toast(t("conn.down"), "error");
    }
  }

  /** ``to``: a kefu id, or ``team:<id>`` (the customer to the front of that team's queue). */
  async transfer(sid, to, reason, note) {
    const target = to.startsWith("team:") ? { to_team: to.slice(5) } : { to_kefu_id: to };
    await this.api.post(`/api/sessions/${encodeURIComponent(sid)}/transfer`,
      { ...target, reason: reason || null, note: note || null });
  }

  async end(sid) {
    try {
      await this.api.post(`/api/sessions/${encodeURIComponent(sid)}/end`);
    } catch (err) {
      toast(err.message, "error");
    }
  }

  dismiss(sid) {
    this.convs.delete(sid);
    this.saveDraft(sid, "");
    if (this.focus === sid) {
      this.focus = null;
      const next = [...this.convs.values()].find((c) => c.status === "active");
      if (next) this.setFocus(next.sid);
    }
    this.view.focusChanged();
  }

  /** A private note to the other agents of the focused conversation (never to the
   * customer); the server echoes it as a `note` frame. */
  sendNote(text) {
    if (!this.focus || !this.socket.send({ type: "note", session_id: this.focus, content: text })) {
      toast(t("conn.down"), "error");
      return false;
    }
    return true;
  }

  /** The conversation's private notes (once, when it is first shown). */
  async loadNotes(conv) {
    if (conv.notesLoaded) return;
    conv.notesLoaded = true;
    try {
      const data = await this.api.get(`/api/sessions/${encodeURIComponent(conv.sid)}/notes`);
      for (const n of data.notes) this.addNote(conv, n);
      this.view.refresh();
    } catch {
      conv.notesLoaded = false;
    }
  }

  addNote(conv, n) {
    conv.seenNotes = conv.seenNotes || new Set();
    if (conv.seenNotes.has(n.id)) return;
    conv.seenNotes.add(n.id);
    conv.note(() => t("note.private", { name: n.from_name || n.from, text: n.content }), n.timestamp);
  }

  /** The canned responses this agent may use (its own, its teams', everyone's). */
  async refreshCanned() {
    try {
      this.canned = (await this.api.get("/api/canned-responses")).responses;
    } catch {
      /* on the next hello */
    }
  }

  /** The open messages left that this agent may answer (its teams' and those without). */
  async refreshLeft() {
    try {
      this.leftMessages = (await this.api.get("/api/messages-left", { limit: 200 })).messages;
      this.view.refresh();
    } catch {
      /* on the next hello */
    }
  }

  /** Reply to a message left (once: another agent's reply first is a 409, shown). */
  async replyLeft(id, content) {
    try {
      await this.api.post(`/api/messages-left/${encodeURIComponent(id)}/reply`, { content });
    } finally {
      this.leftMessages = this.leftMessages.filter((m) => m.id !== id);
      this.view.refresh();
    }
  }

  async logout() {
    const active = [...this.convs.values()].filter((c) => c.status === "active").length;
    if (active && !(await confirmDialog(t("console.logout_warn", { n: active })))) return;
    this.socket.stop();
    try {
      await this.api.post("/api/auth/logout");
    } catch {
      /* the token is forgotten anyway */
    }
    this.onLogout();
  }

  // --- derived -----------------------------------------------------------------------

  unread(conv) {
    if (conv.sid === this.focus && this.view.chatVisible()) return 0;
    return conv.unreadFrom(conv.kehu_id);
  }

  totalUnread() {
    let n = 0;
    for (const conv of this.convs.values()) n += this.unread(conv);
    return n;
  }

  /** Seconds the customer has waited for a reply (its message is the latest), or null. */
  waitingFor(conv) {
    if (conv.status !== "active") return null;
    const last = conv.latest();
    if (!last || last.from !== conv.kehu_id) return null;
    return (Date.now() - new Date(last.timestamp).getTime()) / 1000;
  }

  isTyping(sid) {
    return (this.typingUntil.get(sid) || 0) > Date.now();
  }
}
