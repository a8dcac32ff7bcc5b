// The agent workspace's DOM: a skeleton built once, dynamic parts re-rendered on the
// next animation frame after any change (the composer is never rebuilt, so typing and
// focus are not disturbed).
import { batched, clock, duration, h, keepFocus, mount } from "./dom.js";
import { t } from "./i18n.js";
import { renderTimeline, systemText } from "./timeline.js";
import { icon } from "./icons.js";
import { CannedPicker } from "./canned-picker.js";
import { attacher } from "./attachments.js";
import { CustomerPanel } from "./customer-panel.js";
import { confirmDialog, openLinkDialog, openReplyDialog, openTransferDialog } from "./dialogs.js";
import { TagEditor } from "./console-tags.js";
import { openSearchDialog, searchButton } from "./console-search.js";

export class ConsoleView {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.refresh = batched(() => this.draw());
    this.timelineSig = "";
    this.shownSid = undefined;
  }

  render() {
    const app = this.app;
    this.linkPill = h("span", { class: "pill", role: "status" });
    this.statusBtn = h("button", { type: "button", class: "btn status-btn",
      onclick: () => app.setStatus(app.status === "online" ? "away" : "online") });
    this.customerList = h("ul", { class: "customer-list", "aria-label": t("console.customers") });
    this.customerCount = h("span", { class: "count" });
    this.queueList = h("ul", { class: "queue-list", "aria-label": t("console.queue") });
    this.offerList = h("ul", { class: "offer-list", "aria-label": t("console.offers") });
    this.offerSection = h("section", { class: "side-section offers", hidden: true },
      h("h2", {}, t("console.offers")), this.offerList);
    this.leftList = h("ul", { class: "left-list", "aria-label": t("console.left") });
    this.leftCount = h("span", { class: "count" });
    this.queueCount = h("span", { class: "count" });
    this.headName = h("h2", { class: "chat-title" });
    this.headSub = h("div", { class: "chat-sub" });
    this.headActions = h("div", { class: "chat-actions" });
    this.tags = new TagEditor(app); // issue 15: tags on the conversation
    this.timeline = h("ol", { class: "timeline", "aria-live": "polite", "aria-label": t("console.timeline") });
    this.typingLine = h("div", { class: "typing-line", "aria-live": "polite" });
    this.input = h("textarea", { class: "composer-input", rows: 2, maxlength: 4000,
      "aria-label": t("console.input"), placeholder: t("console.placeholder") });
    this.picker = new CannedPicker(this.input, () => {
      const conv = app.focus ? app.convs.get(app.focus) : null;
      return { responses: app.canned, customer: conv ? conv.kehu_name : "", agent: app.me.name };
    }, (text) => app.saveDraft(app.focus, text));
    this.input.addEventListener("keydown", (ev) => {
      if (this.picker.key(ev)) return;
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.sendInput();
      }
    });
    this.input.addEventListener("input", () => {
      this.picker.update();
      app.saveDraft(app.focus, this.input.value);
      if (this.input.value) app.typing();
    });
    this.sendBtn = h("button", { type: "submit", class: "btn btn-primary" }, t("console.send"));
    this.noteMode = false; // Enter writes a private note to the other agents instead
    this.noteBtn = h("button", { type: "button", class: "btn note-btn", "aria-pressed": "false",
      title: t("console.note_title"), onclick: () => {
        this.noteMode = !this.noteMode;
        this.noteBtn.setAttribute("aria-pressed", String(this.noteMode));
        this.composer.classList.toggle("note-mode", this.noteMode);
        this.input.focus();
      } }, t("console.note"));
    this.linkBtn = h("button", { type: "button", class: "btn", title: t("console.link_title"),
      onclick: () => openLinkDialog((content, type, url) => app.send(content, type, url)) },
    icon("link", 16), t("console.link"));
    this.attach = attacher({ input: this.input, zone: null, // files and images (issue 15)
      target: () => { const c = app.focus && app.convs.get(app.focus); return c && c.status === "active" ? c.sid : false; },
      send: (sid, name, type, url) => app.send(name, type, url, sid) });
    this.composer = h("form", { class: "composer", onsubmit: (ev) => { ev.preventDefault(); this.sendInput(); } },
      this.picker.list, this.input, h("div", { class: "composer-actions" }, this.noteBtn, this.attach.button, this.linkBtn, this.sendBtn));
    this.empty = h("div", { class: "chat-empty" }, t("console.pick"));
    this.chatPane = h("main", { class: "chat-pane" },
      h("header", { class: "chat-head" },
        h("button", { type: "button", class: "btn back-btn", "aria-label": t("console.back"),
          onclick: () => {
            this.root.firstChild.classList.remove("show-chat");
            this.refresh();
          } }, "‹"),
        h("div", { class: "chat-who" }, this.headName, this.headSub), this.tags.el, this.headActions),
      this.empty, this.timeline, this.typingLine, this.attach.status, this.composer);
    this.attach.dropOn(this.chatPane);
    const page = h("div", { class: "ws-app" },
      h("header", { class: "topbar" },
        h("div", { class: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "客"),
          h("span", {}, t("console.title"))),
        this.linkPill,
        h("div", { class: "topbar-right" },
          searchButton(() => openSearchDialog(app)), app.notifier.menu(),
          h("span", { class: "me-name" }, app.me.name), this.statusBtn,
          h("button", { type: "button", class: "btn btn-ghost", onclick: () => app.logout() }, t("logout")))),
      h("div", { class: "ws-body" },
        h("aside", { class: "sidebar" },
          this.offerSection,
          h("section", { class: "side-section" },
            h("h2", {}, t("console.customers"), " ", this.customerCount), this.customerList),
          h("section", { class: "side-section" },
            h("h2", {}, t("console.queue"), " ", this.queueCount), this.queueList),
          h("section", { class: "side-section left-section" },
            h("h2", {}, t("console.left"), " ", this.leftCount), this.leftList)),
        this.chatPane));
    mount(this.root, page);
    const body = page.querySelector(".ws-body"); // the customer panel (issue 15) beside the chat
    this.panel = new CustomerPanel(app, body);
    body.append(this.panel.el);
    this.headActions.after(this.panel.toggle);
    this.draw();
  }

  /** Whether the conversation pane is on the screen (not a hidden tab, not the phone
   * layout's list view): only then are its messages read. */
  chatVisible() {
    return !document.hidden && this.chatPane.offsetParent !== null;
  }

  sendInput() {
    const text = this.input.value;
    if (!text.trim()) return;
    if (this.noteMode ? this.app.sendNote(text.trim()) : this.app.send(text)) {
      this.input.value = "";
      this.app.saveDraft(this.app.focus, "");
    }
  }

  /** Called when the focused customer changes: swap drafts; `show` the conversation
   * (on a phone it replaces the list) when the agent picked it. */
  focusChanged(show = false) {
    const sid = this.app.focus;
    if (this.shownSid !== sid) {
      this.input.value = (sid && this.app.drafts.get(sid)) || "";
      this.shownSid = sid;
      this.timelineSig = "";
    }
    if (sid && show) this.root.firstChild.classList.add("show-chat");
    if (!sid) this.root.firstChild.classList.remove("show-chat");
    this.refresh();
  }

  draw() {
    const app = this.app;
    const total = app.totalUnread();
    document.title = total ? `(${total}) ${t("console.title")}` : t("console.title");
    this.linkPill.textContent = t(`conn.${app.link}`);
    this.linkPill.className = `pill link-${app.link}`;
    this.statusBtn.textContent = t(`status.${app.status}`);
    this.statusBtn.className = `btn status-btn status-${app.status}`;
    this.statusBtn.setAttribute("aria-label", t("console.status_toggle", { status: t(`status.${app.status}`) }));
    this.drawOffers();
    this.drawCustomers();
    this.drawQueue();
    this.drawLeft();
    this.drawChat();
  }

  drawCustomers() {
    const app = this.app;
    const convs = [...app.convs.values()].sort((a, b) =>
      (a.status === "active" ? 0 : 1) - (b.status === "active" ? 0 : 1)
      || String((b.latest() || {}).timestamp || b.created_at || "")
        .localeCompare(String((a.latest() || {}).timestamp || a.created_at || "")));
    this.customerCount.textContent = String(convs.filter((c) => c.status === "active").length);
    const items = convs.map((conv) => {
      const unread = app.unread(conv);
      const waited = app.waitingFor(conv);
      const online = app.presence.get(conv.kehu_id) === "online";
      const last = conv.latest() || lastEarlier(conv); // a transferred-in chat: its history's
      return h("li", {},
        h("button", { type: "button", class: `customer${conv.sid === app.focus ? " active" : ""}${conv.status !== "active" ? " closed" : ""}`,
          dataset: { sid: conv.sid }, "aria-current": conv.sid === app.focus ? "true" : null,
          onclick: () => app.setFocus(conv.sid) },
        h("span", { class: `avatar${online ? " online" : ""}`, "aria-hidden": "true" }, (conv.kehu_name || "?").slice(0, 1)),
        h("span", { class: "customer-main" },
          h("span", { class: "customer-row" },
            h("span", { class: "customer-name" }, conv.kehu_name),
            h("time", { class: "customer-time" }, last ? clock(last.timestamp) : "")),
          h("span", { class: "customer-row" },
            h("span", { class: "customer-last" }, last ? lastText(last) : (conv.last_message || "")),
            unread ? h("span", { class: "badge", "aria-label": t("console.unread", { n: unread }) }, String(unread)) : null),
          conv.status !== "active"
            ? h("span", { class: "customer-tag" }, t(`sstatus.${conv.status}`))
            : waited !== null && waited >= 30
              ? h("span", { class: `customer-wait${waited > 120 ? " late" : ""}` },
                t("console.waiting", { d: duration(waited, t) }))
              : null)));
    });
    keepFocus(this.customerList, "sid", () => mount(this.customerList,
      items.length ? items : h("li", { class: "empty" }, t("console.no_customers"))));
  }

  /** Customers offered to this agent: accept or decline before the time runs out. */
  drawOffers() {
    const app = this.app;
    this.offerSection.hidden = !app.offers.size;
    const left = (o) => t("offer.left", { n: Math.max(0, Math.ceil((o.until - Date.now()) / 1000)) });
    const sig = [...app.offers.keys()].join(",");
    if (sig === this.offerSig) { // the same offers: only the countdowns move, so a
      // click on a button is never lost to a rebuild
      for (const el of this.offerList.querySelectorAll("[data-offer]")) {
        el.textContent = left(app.offers.get(el.dataset.offer));
      }
      return;
    }
    this.offerSig = sig;
    const items = [...app.offers.values()].map((o) => h("li", { class: "offer-item card" },
      h("div", { class: "offer-main" },
        h("span", { class: "customer-name" }, o.customer.name),
        h("span", { class: "offer-left", dataset: { offer: o.offer_id } }, left(o))),
      o.preview ? h("p", { class: "offer-preview" }, o.preview) : null,
      h("div", { class: "offer-actions" },
        h("button", { type: "button", class: "btn btn-primary btn-small", dataset: { accept: o.offer_id },
          onclick: () => app.answerOffer(o.offer_id, true) }, t("offer.accept")),
        h("button", { type: "button", class: "btn btn-small",
          onclick: () => app.answerOffer(o.offer_id, false) }, t("offer.decline")))));
    keepFocus(this.offerList, "accept", () => mount(this.offerList, items));
  }

  /** Messages customers left (outside hours, or instead of waiting): reply to each. */
  drawLeft() {
    const app = this.app;
    this.leftCount.textContent = String(app.leftMessages.length);
    const items = app.leftMessages.map((m) => h("li", { class: "left-item" },
      h("span", { class: "queue-main" },
        h("span", { class: "customer-name" }, m.name || m.kehu_name || m.kehu_id),
        h("span", { class: "queue-sub" }, m.content)),
      h("button", { type: "button", class: "btn btn-small", dataset: { reply: m.id },
        onclick: () => openReplyDialog(app, m) }, t("left.reply"))));
    keepFocus(this.leftList, "reply", () => mount(this.leftList,
      items.length ? items : h("li", { class: "empty" }, t("console.left_empty"))));
  }

  drawQueue() {
    const app = this.app;
    const full = [...app.convs.values()].filter((c) => c.status === "active").length
      >= (app.me.max_sessions || 5); // (a take would be refused kefu_full)
    this.queueCount.textContent = String(app.waiting.length);
    const items = app.waiting.map((w) => h("li", { class: "queue-item" },
      h("span", { class: `prio prio-${w.priority}` }, t(`prio.${w.priority}`)),
      h("span", { class: "queue-main" },
        h("span", { class: "customer-name" }, w.customer_name),
        h("span", { class: "queue-sub" },
          t("console.queue_pos", { n: w.position }), " · ",
          duration(Date.now() / 1000 - w.waiting_since, t),
          w.note ? ` · ${w.note}` : ""),
        w.preview ? h("span", { class: "queue-preview" }, w.preview) : null),
      h("button", { type: "button", class: "btn btn-small", dataset: { take: w.customer_id },
        disabled: full, title: full ? t("console.take_full") : null,
        onclick: () => app.take(w.customer_id) }, t("console.take"))));
    keepFocus(this.queueList, "take", () => mount(this.queueList,
      items.length ? items : h("li", { class: "empty" }, t("console.queue_empty"))));
  }

  drawChat() {
    const app = this.app;
    const conv = app.focus ? app.convs.get(app.focus) : null;
    this.panel.show(conv);
    this.empty.hidden = Boolean(conv);
    this.timeline.hidden = !conv;
    this.composer.hidden = !conv;
    this.typingLine.hidden = !conv;
    this.tags.show(conv);
    if (!conv) {
      mount(this.headName);
      mount(this.headSub);
      mount(this.headActions);
      this.headSig = "";
      return;
    }
    const online = app.presence.get(conv.kehu_id) === "online";
    mount(this.headName, conv.kehu_name);
    mount(this.headSub, h("span", { class: `dot${online ? " online" : ""}`, "aria-hidden": "true" }),
      t(online ? "presence.online" : "presence.offline"), " · ", conv.kehu_id,
      conv.status !== "active" ? ` · ${t(`sstatus.${conv.status}`)}` : "");
    const active = conv.status === "active";
    const headSig = `${conv.sid}|${conv.status}`;
    if (headSig !== this.headSig) this.drawActions(conv, active); // only when they change
    this.headSig = headSig;
    this.input.disabled = !active;
    this.sendBtn.disabled = !active;
    this.linkBtn.disabled = !active;
    this.attach.refresh();
    this.input.placeholder = active ? t("console.placeholder")
      : t(conv.status === "transferred" ? "console.transferred_placeholder" : "console.closed_placeholder");
    this.typingLine.textContent = app.isTyping(conv.sid) ? t("typing", { name: conv.kehu_name }) : "";
    const pending = app.outbox.forSession(conv.sid);
    const sig = [conv.sid, conv.messages.size, conv.lastSeq, conv.peerRead, conv.notes.length, app.names.size,
      conv.earlier.length, conv.status, pending.map((p) => p.state).join(), app.me.name].join("|");
    if (sig === this.timelineSig) return;
    this.timelineSig = sig;
    renderTimeline(this.timeline, timelineItems(app, conv, pending));
  }

  /** Transfer and End (active), or Close (ended): rebuilt only when they change, so a
   * keyboard user's focus on them survives live updates. */
  drawActions(conv, active) {
    const app = this.app;
    mount(this.headActions, active
      ? [h("button", { type: "button", class: "btn", onclick: () => openTransferDialog(app, conv) }, t("console.transfer")),
        h("button", { type: "button", class: "btn btn-danger", onclick: async () => {
          if (await confirmDialog(t("console.end_confirm", { name: conv.kehu_name }))) app.end(conv.sid);
        } }, t("console.end"))]
      : h("button", { type: "button", class: "btn", onclick: () => app.dismiss(conv.sid) }, t("console.dismiss")));
  }
}

function lastText(msg) {
  if (msg.content_type === "Image") return t("msg.image");
  if (msg.content_type !== "Text") return `[${t(`ctype.${msg.content_type}`)}] ${msg.content}`;
  return msg.content;
}

/** The focused conversation as timeline items: earlier sessions, then this one. */
function timelineItems(app, conv, pending) {
  const items = [];
  for (const old of conv.earlier) {
    items.push({ kind: "divider", text: t("console.earlier", {
      kefu: old.session.kefu_name || old.session.kefu_id, date: clock(old.session.created_at) }) });
    for (const m of old.messages) items.push(itemOf(app, conv, m, old.session));
  }
  if (conv.earlier.length) items.push({ kind: "divider", text: t("console.current") });
  const notes = [...conv.notes];
  for (const m of conv.sorted()) {
    while (notes.length && notes[0].afterSeq < (m.seq ?? Infinity)) {
      const n = notes.shift();
      items.push({ kind: "sys", text: noteText(n), ts: n.ts });
    }
    items.push(itemOf(app, conv, m, conv));
  }
  for (const n of notes) items.push({ kind: "sys", text: noteText(n), ts: n.ts });
  for (const p of pending) {
    items.push({ kind: "msg", mine: true, state: p.state,
      msg: { ...p.frame, id: `pending-${p.frame.client_msg_id}`, timestamp: p.ts, seq: null } });
  }
  return items;
}

function noteText(note) {
  return typeof note.text === "function" ? note.text() : note.text;
}

function itemOf(app, conv, m, session) {
  if (m.content_type === "System") return { kind: "sys", text: systemText(m), ts: m.timestamp };
  const mine = m.from !== conv.kehu_id;
  let state = null;
  if (m.from === app.me.id && session === conv) state = m.seq <= conv.peerRead ? "read" : "delivered";
  const author = mine && m.from !== app.me.id ? (session.kefu_name || m.from) : null;
  return { kind: "msg", msg: m, mine, state, author };
}

/** The last chat message of the sessions a conversation was transferred from. */
function lastEarlier(conv) {
  for (let i = conv.earlier.length - 1; i >= 0; i -= 1) {
    const msgs = conv.earlier[i].messages.filter((m) => m.content_type !== "System");
    if (msgs.length) return msgs[msgs.length - 1];
  }
  return null;
}
