// The customer chat widget (/chat, also framed by /chat/embed.js): start as a guest,
// queue position and estimated wait, the agent's name, typing and read marks, a 1–5
// rating after the end. State and frames: chat-state.js.
import { batched, duration, h, mount } from "./dom.js";
import { applyLang, t } from "./i18n.js";
import { openLinkDialog } from "./dialogs.js";
import { renderTimeline } from "./timeline.js";
import { ChatState } from "./chat-state.js";
import { Api } from "./api.js";
import { icon } from "./icons.js";
import { PrechatFields } from "./prechat-form.js";
import { listenToSite } from "./widget-identity.js";
import { chatTools } from "./chat-end.js";
import { attacher } from "./attachments.js";

const params = new URLSearchParams(location.search);
const embedded = params.has("embed");
const fixedTeam = params.get("team"); // the embedding page's data-team
const root = document.getElementById("app");
const state = new ChatState(() => draw());
const tools = chatTools(state); // issue 15: end the chat, download the transcript

applyLang("chat.title");
if (embedded) document.body.classList.add("embedded");

// --- the skeleton (built once) ---------------------------------------------------------

const subtitle = h("div", { class: "chat-sub", role: "status" });
const avatar = h("span", { class: "avatar", "aria-hidden": "true" }, "客");
const pill = h("span", { class: "pill" });
const banner = h("div", { class: "queue-banner", role: "status", "aria-live": "polite" });
const timeline = h("ol", { class: "timeline", "aria-live": "polite", "aria-label": t("console.timeline") });
const typingLine = h("div", { class: "typing-line", "aria-live": "polite" });
const extra = h("div", { class: "chat-extra" });
const input = h("textarea", { class: "composer-input", rows: 1, maxlength: 4000,
  "aria-label": t("console.input"), placeholder: t("chat.placeholder") });
const attach = attacher({ input, zone: root, // files and images (issue 15): only once assigned
  target: () => (state.phase === "active" && state.current ? state.current : false),
  send: (_sid, name, type, url) => state.send(name, type, url) });
const composer = h("form", { class: "composer", onsubmit: (ev) => { ev.preventDefault(); sendInput(); } },
  input, attach.button,
  h("button", { type: "button", class: "btn btn-icon", "aria-label": t("console.link_title"),
    title: t("console.link_title"), onclick: () => openLinkDialog((c, ty, u) => state.send(c, ty, u)) }, icon("link")),
  h("button", { type: "submit", class: "btn btn-primary" }, t("console.send")));
const welcome = buildWelcome();

input.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    sendInput();
  }
});
input.addEventListener("input", () => {
  if (input.value) state.typing();
});
document.addEventListener("visibilitychange", () => state.markRead());

mount(root, h("div", { class: "widget" },
  h("header", { class: "widget-head" },
    avatar,
    h("div", { class: "widget-who" }, h("h1", {}, t("chat.title")), subtitle),
    pill, tools.el,
    embedded ? h("button", { type: "button", class: "btn btn-icon close-btn", "aria-label": t("chat.close"),
      onclick: () => parent.postMessage({ kefu: "close" }, "*") }, "×") : null),
  banner, welcome, timeline, typingLine, extra, attach.status, composer));

function sendInput() {
  if (state.send(input.value)) input.value = "";
}

function buildWelcome() {
  const name = h("input", { id: "guest-name", maxlength: 100, autocomplete: "name",
    placeholder: t("chat.name_ph") });
  const error = h("p", { class: "form-error", role: "alert" });
  const start = h("button", { type: "submit", class: "btn btn-primary btn-block" }, t("chat.start"));
  const nameLabel = h("label", { for: "guest-name" }, t("chat.name"));
  const prechat = new PrechatFields(name, nameLabel); // the admin's pre-chat form (issue 15)
  // the pre-chat choice of a team, when the site did not fix one and teams exist
  const team = h("select", { id: "guest-team" });
  const teamField = h("div", { class: "welcome-team", hidden: true },
    h("label", { for: "guest-team" }, t("chat.team")), team);
  // maintenance is said before the customer presses start, not after (issue 15)
  const notice = h("p", { class: "maintenance-notice", role: "alert", hidden: true });
  new Api().get("/api/system/health").then((health) => {
    if (!health.maintenance) return;
    notice.textContent = health.maintenance_message || t("chat.maintenance");
    notice.hidden = false;
    start.disabled = true;
  }).catch(() => {}); // (a refusal after start says it too)
  if (!fixedTeam) {
    new Api().get("/api/widget/teams").then((data) => {
      if (!data.teams.length) return;
      team.replaceChildren(h("option", { value: "" }, t("chat.team_any")),
        ...data.teams.map((tm) => h("option", { value: tm.id }, tm.name)));
      teamField.hidden = false;
    }).catch(() => {}); // no choice offered: any agent
  }
  return h("form", { class: "welcome", onsubmit: async (ev) => {
    ev.preventDefault();
    start.disabled = true;
    error.textContent = "";
    try {
      await state.startAsGuest(name.value.trim(), fixedTeam || team.value,
        prechat.answers(state.pageAttributes));
      input.focus();
    } catch (err) {
      const details = err.body && err.body.details ? Object.keys(err.body.details) : [];
      error.textContent = details.length ? `${err.message}: ${details.join(", ")}` : err.message;
    } finally {
      start.disabled = !notice.hidden;
    }
  } },
  h("div", { class: "welcome-art" }, icon("chat", 48)),
  notice,
  h("h2", {}, t("chat.welcome")),
  h("p", {}, t("chat.welcome_sub")),
  nameLabel, name, prechat.el, teamField, error, start);
}

// --- rendering -------------------------------------------------------------------------

const draw = batched(() => {
  const phase = state.phase;
  welcome.hidden = phase !== "welcome";
  for (const el of [timeline, typingLine]) el.hidden = phase === "welcome";
  composer.hidden = phase === "welcome" || phase === "leave" || phase === "left";
  attach.refresh();
  pill.textContent = t(`conn.${state.link}`);
  pill.className = `pill link-${state.link}`;
  pill.hidden = phase === "welcome" || state.link === "open";
  subtitle.textContent = subtitleText();
  avatar.classList.toggle("online", phase === "active" && state.kefuPresence !== "offline");
  drawBanner();
  drawExtra();
  tools.draw();
  typingLine.textContent = state.typingUntil > Date.now() && state.kefu
    ? t("typing", { name: state.kefu.name }) : "";
  if (phase !== "welcome") renderTimeline(timeline, items());
});

function subtitleText() {
  switch (state.phase) {
    case "welcome": return t("chat.sub_welcome");
    case "requesting": return t("chat.sub_requesting");
    case "waiting": return t(state.connecting ? "chat.sub_connecting" : "chat.sub_waiting");
    case "leave": case "left": return t("chat.sub_leave");
    case "active": return state.kefu
      ? t(state.kefuPresence === "offline" ? "chat.sub_agent_away" : "chat.sub_agent", { name: state.kefu.name })
      : t("chat.sub_requesting");
    default: return t("chat.sub_ended");
  }
}

function drawBanner() {
  const q = state.queue;
  banner.hidden = state.phase !== "waiting" || !q;
  if (banner.hidden) return;
  mount(banner,
    h("strong", { class: "queue-pos" }, t("chat.queue_pos", { n: q.position })),
    h("span", {}, q.estimated_wait_seconds === null ? t("chat.queue_no_agent")
      : t("chat.queue_eta", { d: duration(q.estimated_wait_seconds, t) })));
}

function drawExtra() {
  const offer = state.leaveOffer;
  if (state.phase === "leave") {
    if (!extra.querySelector(".leave-form")) mount(extra, leaveForm());
  } else if (state.phase === "left") {
    mountLeft(t("chat.left_thanks"));
  } else if (state.phase === "waiting" && offer && offer.queued) {
    if (!extra.querySelector(".leave-offer")) {
      mount(extra, h("div", { class: "leave-offer card" },
        h("p", {}, t(`chat.leave_${offer.reason}`)),
        h("button", { type: "button", class: "btn", onclick: () => {
          state.phase = "leave";
          state.changed();
        } }, t("chat.leave_button"))));
    }
  } else if (state.phase === "ended" && state.rateSid) {
    if (!extra.querySelector(".rating")) mount(extra, ratingCard());
  } else if (state.phase === "rated") {
    if (!extra.querySelector(".rated")) {
      mount(extra, h("div", { class: "rated card" }, h("p", {}, t("chat.thanks")),
        h("button", { type: "button", class: "btn btn-primary", onclick: () => state.again() }, t("chat.again"))));
    }
  } else if ((state.leftMessages || []).some((m) => m.reply) && state.phase !== "active") {
    mountLeft(null);
  } else {
    mount(extra);
  }
}

/** The form a customer leaves a message with (and, optionally, how to reach it). */
function leaveForm() {
  const offer = state.leaveOffer;
  const content = h("textarea", { name: "content", rows: 4, maxlength: 4000, required: true,
    "aria-label": t("chat.leave_content"), placeholder: t("chat.leave_content") });
  const name = h("input", { name: "name", maxlength: 100, autocomplete: "name",
    value: state.me && state.me.name !== "访客" ? state.me.name : "" });
  const email = h("input", { name: "email", type: "email", maxlength: 254, autocomplete: "email" });
  const phone = h("input", { name: "phone", type: "tel", maxlength: 40, autocomplete: "tel" });
  const error = h("p", { class: "form-error", role: "alert" });
  const intro = offer && offer.reason === "outside_hours"
    ? t(offer.next_open ? "chat.leave_closed_until" : "chat.leave_closed",
      { when: offer.next_open ? new Date(offer.next_open).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "" })
    : t("chat.leave_intro");
  return h("form", { class: "leave-form card", onsubmit: async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try {
      await state.leaveMessage({ content: content.value.trim(), name: name.value.trim() || null,
        email: email.value.trim() || null, phone: phone.value.trim() || null });
    } catch (err) {
      error.textContent = err.message;
    }
  } },
  h("p", { class: "leave-intro" }, intro),
  content,
  h("label", { class: "field" }, h("span", {}, t("chat.name")), name),
  h("label", { class: "field" }, h("span", {}, t("chat.leave_email")), email),
  h("label", { class: "field" }, h("span", {}, t("chat.leave_phone")), phone),
  error,
  h("button", { type: "submit", class: "btn btn-primary" }, t("chat.leave_submit")));
}

/** The list of messages left, rebuilt only when a message or a reply changed. */
function mountLeft(title) {
  const sig = JSON.stringify([title, (state.leftMessages || []).map((m) => [m.id, m.reply])]);
  if (extra.querySelector(".left-list") && extra.dataset.sig === sig) return;
  extra.dataset.sig = sig;
  mount(extra, leftList(title));
}

/** The customer's messages left, each with the reply when there is one. */
function leftList(title) {
  return h("div", { class: "left-list card" },
    title ? h("p", { class: "left-title" }, title) : h("p", { class: "left-title" }, t("chat.left_yours")),
    h("ul", {}, (state.leftMessages || []).map((m) => h("li", { class: "left-item" },
      h("p", { class: "left-content" }, m.content),
      m.reply
        ? h("p", { class: "left-reply" }, t("chat.left_reply", { name: m.replied_by_name || m.replied_by }), m.reply)
        : h("p", { class: "left-pending" }, t("chat.left_pending"))))),
    h("button", { type: "button", class: "btn", onclick: () => state.again() }, t("chat.again")));
}

function ratingCard() {
  let score = 0;
  const stars = [1, 2, 3, 4, 5].map((n) => h("button", {
    type: "button", class: "star", role: "radio", "aria-checked": "false",
    "aria-label": t("chat.stars", { n }), dataset: { score: n },
    onclick: () => pick(n),
  }, "★"));
  const comment = h("textarea", { class: "rating-comment", rows: 2, maxlength: 1000,
    placeholder: t("chat.comment_ph"), "aria-label": t("chat.comment_ph") });
  const submit = h("button", { type: "submit", class: "btn btn-primary", disabled: true }, t("chat.rate_submit"));
  function pick(n) {
    score = n;
    stars.forEach((s, i) => {
      s.classList.toggle("on", i < n);
      s.setAttribute("aria-checked", String(i + 1 === n));
    });
    submit.disabled = false;
  }
  return h("form", { class: "rating card", onsubmit: (ev) => {
    ev.preventDefault();
    if (score) state.rate(score, comment.value.trim());
  } },
  h("p", { class: "rating-title" }, t("chat.rate_title")),
  h("div", { class: "stars", role: "radiogroup", "aria-label": t("chat.rate_title") }, stars),
  comment,
  h("div", { class: "rating-actions" },
    h("button", { type: "button", class: "btn", onclick: () => state.again() }, t("chat.again")), submit));
}

/** Every session of this customer (oldest first), then queued and unsent messages. */
function items() {
  const me = state.me ? state.me.id : null;
  const out = [];
  const convs = [...state.convs.values()].sort((a, b) =>
    String(a.created_at || "").localeCompare(String(b.created_at || "")));
  for (const conv of convs) {
    const notes = [...conv.notes];
    for (const m of conv.sorted()) {
      while (notes.length && notes[0].afterSeq < (m.seq ?? Infinity)) {
        const n = notes.shift();
        out.push(n.divider ? { kind: "divider", text: n.text } : { kind: "sys", text: n.text, ts: n.ts });
      }
      const mine = m.from === me;
      out.push({ kind: "msg", msg: m, mine,
        state: mine ? (m.seq <= conv.peerRead ? "read" : "delivered") : null,
        author: mine ? null : conv.kefu_name || m.from });
    }
    for (const n of notes) out.push(n.divider ? { kind: "divider", text: n.text } : { kind: "sys", text: n.text, ts: n.ts });
  }
  for (const m of state.waiting.sorted()) out.push({ kind: "msg", msg: m, mine: true, state: "queued" });
  for (const p of state.outbox.items.values()) {
    out.push({ kind: "msg", mine: true, state: p.state,
      msg: { ...p.frame, id: `pending-${p.frame.client_msg_id}`, timestamp: p.ts, seq: null } });
  }
  return out;
}

if (state.auth) state.connect();
if (embedded) listenToSite(state); // the site's signed identify and attributes (issue 15)
draw();
setInterval(draw, 15000);
