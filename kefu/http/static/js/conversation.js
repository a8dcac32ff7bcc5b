// One session's messages as a client holds them (docs/protocol.md §8): deduplicated by
// message id, ordered by seq, with `lastSeq` = the highest seq up to which every message
// is held (what `resume` may claim), and both participants' read marks.

export class Conversation {
  constructor(meta) {
    this.sid = meta.session_id || null;
    this.messages = new Map(); // id → stored message
    this.seqs = new Set();
    this.lastSeq = 0;
    this.myRead = 0;
    this.peerRead = 0;
    this.earlier = []; // messages of the sessions this one was transferred from (REST)
    this.notes = []; // local system lines: {text (a string, or a function giving it), ts, afterSeq}
    this.update(meta);
  }

  /** Merge session fields (hello.sessions, assigned.session, transferred.session). */
  update(meta) {
    for (const key of ["kefu_id", "kefu_name", "kehu_id", "kehu_name", "status",
      "created_at", "transferred_from", "last_message"]) {
      if (meta[key] !== undefined && meta[key] !== null) this[key] = meta[key];
    }
    if (!this.status) this.status = "active";
  }

  /** Add a stored message; false if this id is already held with the same seq. */
  add(msg) {
    const old = this.messages.get(msg.id);
    if (old && old.seq === msg.seq) {
      if (msg.deleted && !old.deleted) this.messages.set(msg.id, msg);
      return false;
    }
    this.messages.set(msg.id, msg);
    if (Number.isInteger(msg.seq)) {
      this.seqs.add(msg.seq);
      while (this.seqs.has(this.lastSeq + 1)) this.lastSeq += 1;
    }
    if (msg.content_type !== "System") this.last_message = msg.content;
    return true;
  }

  remove(id) {
    return this.messages.delete(id);
  }

  get maxSeq() {
    let max = 0;
    for (const s of this.seqs) if (s > max) max = s;
    return max;
  }

  /** Messages in seq order (messages without a seq — a waiting kehu's — by time, last). */
  sorted() {
    return [...this.messages.values()].sort((a, b) => {
      const sa = Number.isInteger(a.seq) ? a.seq : Infinity;
      const sb = Number.isInteger(b.seq) ? b.seq : Infinity;
      if (sa !== sb) return sa - sb;
      return String(a.timestamp).localeCompare(String(b.timestamp));
    });
  }

  /** Messages from `otherId` after my read mark. */
  unreadFrom(otherId) {
    let n = 0;
    for (const m of this.messages.values()) {
      if (m.from === otherId && Number.isInteger(m.seq) && m.seq > this.myRead) n += 1;
    }
    return n;
  }

  /** The newest message (by seq), or null. */
  latest() {
    const all = this.sorted();
    return all.length ? all[all.length - 1] : null;
  }

  note(text, ts = new Date().toISOString()) {
    this.notes.push({ text, ts, afterSeq: this.maxSeq });
  }
}

/** Keeps sent-but-unacked messages (the outbox) by client_msg_id, in send order. */
export class Outbox {
  /** @param {(frames: object[]) => void} [save] called with the unsent frames on change */
  constructor(save = null) {
    this.items = new Map();
    this.save = save;
  }

  put(frame) {
    this.items.set(frame.client_msg_id, { frame, state: "sending", ts: new Date().toISOString() });
    if (this.save) this.save(this.toJSON());
  }

  ack(clientMsgId) {
    const had = this.items.delete(clientMsgId);
    if (had && this.save) this.save(this.toJSON());
    return had;
  }

  fail(clientMsgId, reason) {
    const item = this.items.get(clientMsgId);
    if (item) {
      item.state = "failed";
      item.reason = reason;
      if (this.save) this.save(this.toJSON());
    }
  }

  /** Still-sending frames (to resend after a reconnect, in their original order). */
  sending() {
    return [...this.items.values()].filter((i) => i.state === "sending").map((i) => i.frame);
  }

  /** Entries for one session id (null = a kehu's, any session). */
  forSession(sid) {
    return [...this.items.values()].filter(
      (i) => sid === null || i.frame.session_id === sid || !i.frame.session_id);
  }

  toJSON() {
    return [...this.items.values()].filter((i) => i.state === "sending").map((i) => i.frame);
  }
}
