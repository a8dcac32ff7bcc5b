// Entry of the agent workspace (/console): sign in (token kept in localStorage), then
// the workspace. A revoked or expired token brings the sign-in form back.
import { store } from "./dom.js";
import { applyLang } from "./i18n.js";
import { showLogin } from "./login.js";
import { Workspace } from "./console-app.js";

const KEY = "kefu.console.auth";
const root = document.getElementById("app");

async function boot() {
  applyLang("console.title");
  let auth = store.get(KEY);
  if (!auth || !auth.token || !auth.user || auth.user.user_type !== "kefu") {
    auth = await showLogin(root, { role: "kefu", titleKey: "console.login_title" });
    store.set(KEY, auth);
  }
  const logout = () => {
    store.remove(KEY);
    location.reload();
  };
  new Workspace(root, auth, { onLogout: logout }).start();
}

boot();
