// The customer's own controls in the widget header (issue 15): end the chat (with a
// confirmation; its agent sees "the customer ended the conversation") and download the
// transcript of the latest conversation (GET /api/sessions/{id}/transcript, fetched
// with the customer's token and saved as a file), during the chat and after its end.
import { h, toast } from "./dom.js";
import { t } from "./i18n.js";
import { confirmDialog } from "./dialogs.js";

const DOWNLOAD = ["M12 4v11", "M7 10.5l5 5 5-5", "M5 20h14"];

export function chatTools(state) {
  const end = h("button", { type: "button", class: "btn btn-small end-chat", hidden: true,
    onclick: async () => {
      if (!state.current || !await confirmDialog(t("chat.end_confirm"))) return;
      try {
        await state.api.post(`/api/sessions/${encodeURIComponent(state.current)}/end`);
      } catch (err) {
        toast(err.message, "error");
      }
    } }, t("chat.end"));
  const transcript = h("button", { type: "button", class: "btn btn-icon transcript-btn", hidden: true,
    "aria-label": t("chat.transcript"), title: t("chat.transcript"), onclick: async () => {
      const sid = state.current;
      if (!sid) return;
      try {
        const day = new Date().toISOString().slice(0, 10);
        await state.api.download(`/api/sessions/${encodeURIComponent(sid)}/transcript?format=txt`,
          `${t("chat.transcript")}-${day}.txt`);
      } catch (err) {
        toast(err.message, "error");
      }
    } },
  h("svg:svg", { viewBox: "0 0 24 24", width: 18, height: 18, fill: "none", stroke: "currentColor",
    "stroke-width": 2, "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true",
    class: "icon" }, DOWNLOAD.map((d) => h("svg:path", { d }))));
  return {
    el: h("div", { class: "chat-tools" }, transcript, end),
    draw() {
      const conv = state.current && state.convs.get(state.current);
      end.hidden = state.phase !== "active" || !conv || conv.status !== "active";
      transcript.hidden = state.phase === "welcome" || !state.current || !state.api;
    },
  };
}
