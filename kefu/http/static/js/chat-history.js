// A returning customer's earlier conversations (issue 15): on connecting, the widget
// reads the customer's own latest sessions (GET /api/sessions/list, at most 3) and the
// last messages of each (at most 200), and shows them above the new one, each under a
// divider saying when it was; a new conversation after them starts under "本次对话".
import { clock } from "./dom.js";
import { t } from "./i18n.js";

const SESSIONS = 3;
const PAGE = 100;

/** Load the customer's earlier (not active) sessions into `state.convs`. */
export async function loadPast(state) {
  let sessions;
  try {
    sessions = (await state.api.get("/api/sessions/list", { limit: SESSIONS })).sessions;
  } catch {
    return; // (shown next time)
  }
  for (const s of sessions) {
    if (s.status === "active") continue;
    const conv = state.conv(s.session_id, s);
    conv.update(s);
    if (s.read) conv.peerRead = Math.max(conv.peerRead, s.read.kefu);
    try {
      const last = Math.max(1, Math.ceil(s.last_seq / PAGE));
      for (const page of last > 1 ? [last - 1, last] : [last]) {
        const data = await state.api.get(`/api/sessions/${encodeURIComponent(s.session_id)}/messages`,
          { page, limit: PAGE });
        for (const m of data.messages) conv.add(m);
      }
    } catch {
      continue;
    }
    if (s.status === "completed" && !conv.notes.some((n) => !n.divider)) conv.note(t("chat.note_ended"), s.ended_at);
    if (!conv.pastDivider) {
      const first = conv.sorted()[0];
      conv.pastDivider = true;
      conv.notes.unshift({ divider: true, afterSeq: 0,
        text: t("chat.earlier_on", { date: clock((first && first.timestamp) || s.created_at) }) });
    }
  }
  state.changed();
}

/** A conversation (re)starts: put "本次对话" under what this customer saw before. */
export function markNewConversation(state, conv) {
  const before = conv.maxSeq > 0 || [...state.convs.values()].some((c) => c !== conv && c.messages.size);
  if (before) conv.notes.push({ divider: true, afterSeq: conv.maxSeq, text: t("chat.current") });
}
