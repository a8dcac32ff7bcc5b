// What the embedding site tells the widget (issue 15, customer context), by postMessage
// from embed.js (never in the URL, so no log or Referer holds it):
//   {kefu: "identify", identity: {site, user_id, user_hash, name?, email?, attributes?}}
//     a logged-in user of the site, signed by the site's server: the widget signs in as
//     the one customer bound to it (POST /api/auth/identify), the same on every device,
//     and shows its latest conversation;
//   {kefu: "attributes", attributes: {...}}
//     custom attributes of an anonymous visitor, sent with its pre-chat answers.
// Only the parent page may send them; the widget answers {kefu: "ready"} once it listens.
import { Api } from "./api.js";
import { store } from "./dom.js";
import { AUTH_KEY } from "./chat-state.js";

const IDENTITY_KEY = "kefu.chat.identity";

export function listenToSite(state) {
  if (window.parent === window) return;
  window.addEventListener("message", (ev) => {
    const d = ev.source === window.parent && ev.data && typeof ev.data === "object" ? ev.data : null;
    if (!d) return;
    if (d.kefu === "identify" && d.identity) {
      identify(state, d.identity).catch((err) => console.warn("kefu identify:", err.message));
    } else if (d.kefu === "attributes" && d.attributes && typeof d.attributes === "object") {
      state.pageAttributes = d.attributes;
    }
  });
  window.parent.postMessage({ kefu: "ready" }, "*");
}

/** Sign in as the site's user unless this browser already is that customer. */
export async function identify(state, who) {
  const key = `${who.site}|${who.user_id}`;
  if (state.auth && store.get(IDENTITY_KEY) === key) return;
  const body = { site: who.site, user_id: String(who.user_id), user_hash: who.user_hash };
  for (const name of ["name", "email", "attributes"]) if (who[name]) body[name] = who[name];
  const data = await new Api().post("/api/auth/identify", body);
  const auth = { token: data.token, user: data.user };
  // its latest conversation (any device) is shown, as a returning customer expects
  const history = await new Api(auth.token).get(
    `/api/customers/${encodeURIComponent(auth.user.id)}/sessions`, { limit: 1 });
  if (state.socket) state.socket.stop();
  state.forget();
  store.set(AUTH_KEY, auth);
  store.set(IDENTITY_KEY, key);
  state.auth = auth;
  state.current = history.sessions.length ? history.sessions[0].session_id : null;
  state.phase = "idle";
  state.connect();
  state.changed();
}
