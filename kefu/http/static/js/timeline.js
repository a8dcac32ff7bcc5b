// Renders a conversation's timeline (bubbles, system lines, read marks) into a
// container. Used by the agent workspace, the customer widget and the admin transcript.
// Every user string goes in as text (see dom.js); links only for http(s) URLs.
import { clock, h, mount, safeUrl } from "./dom.js";
import { t } from "./i18n.js";
import { icon } from "./icons.js";
import { uploadBody } from "./attachments.js";

const LINK_TYPES = { File: "file", Video: "video", Voice: "voice", Link: "link" };

/** The body of one message bubble. */
export function messageBody(msg) {
  if (msg.deleted) return h("span", { class: "msg-deleted" }, t("msg.deleted"));
  const upload = uploadBody(msg); // an uploaded file or image (attachments.js)
  if (upload) return upload;
  const url = safeUrl(msg.url);
  if (msg.content_type === "Image" && url) {
    return h("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "msg-image" },
      h("img", { src: url, alt: msg.content, loading: "lazy" }),
      msg.content && msg.content !== msg.url ? h("span", { class: "msg-caption" }, msg.content) : null);
  }
  if (LINK_TYPES[msg.content_type] && url) {
    return h("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "msg-file" },
      icon(LINK_TYPES[msg.content_type], 16),
      h("span", {}, msg.content || url));
  }
  const body = h("span", { class: "msg-text" }, msg.content);
  if (url) {
    return h("span", {}, body, " ",
      h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url));
  }
  return body;
}

/**
 * items: [{kind: "msg", msg, mine, state, author}] | [{kind: "sys", text, ts}]
 *        | [{kind: "divider", text}]
 * state (own messages): "sending" | "failed" | "read" | "delivered".
 * Keeps the view pinned to the bottom when it was at the bottom.
 */
export function renderTimeline(container, items, { stick = true } = {}) {
  const atBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 60;
  const nodes = items.map((item) => {
    if (item.kind === "divider") {
      return h("li", { class: "tl-divider" }, h("span", {}, item.text));
    }
    if (item.kind === "sys") {
      return h("li", { class: "tl-sys" }, h("span", {}, item.text),
        item.ts ? h("time", { datetime: item.ts }, ` ${clock(item.ts)}`) : null);
    }
    const { msg, mine } = item;
    const cls = ["tl-msg", mine ? "mine" : "theirs", item.state ? `st-${item.state}` : ""];
    return h("li", {
      class: cls.join(" "),
      dataset: { id: msg.id || "", seq: msg.seq ?? "", cid: msg.client_msg_id || "" },
    },
    item.author ? h("div", { class: "tl-author" }, item.author) : null,
    h("div", { class: "bubble" }, messageBody(msg)),
    h("div", { class: "tl-meta" },
      h("time", { datetime: msg.timestamp || "" }, clock(msg.timestamp)),
      mine && item.state ? h("span", { class: "tl-state" }, t(`state.${item.state}`)) : null));
  });
  mount(container, nodes);
  if (stick && atBottom) container.scrollTop = container.scrollHeight;
  return atBottom;
}

/** A stored System message (REST include_system) as a timeline line. */
export function systemText(msg) {
  const ev = msg.event || {};
  switch (ev.event) {
    case "opened":
      return ev.transferred_from ? t("sys.opened_transfer") : t("sys.opened");
    case "transferred":
      return t("sys.transferred", { to: ev.to_kefu_id || "" });
    case "completed":
    case "ended":
      return t("sys.ended");
    default:
      return msg.content;
  }
}
