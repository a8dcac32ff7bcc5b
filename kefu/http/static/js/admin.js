// Entry of the operator dashboard (/console/admin): sign in as an admin, then four
// sections chosen by the URL hash: overview, sessions, users, system.
import { Api } from "./api.js";
import { h, mount, store } from "./dom.js";
import { applyLang, t } from "./i18n.js";
import { showLogin } from "./login.js";
import { OverviewSection } from "./admin-overview.js";
import { SessionsSection } from "./admin-sessions.js";
import { UsersSection } from "./admin-users.js";
import { SystemSection } from "./admin-system.js";
import { CannedSection } from "./admin-canned.js";
import { WidgetSection } from "./admin-widget.js";
import { ChatSocket } from "./ws.js";
import { useUploads } from "./attachments.js";

const KEY = "kefu.admin.auth";
const root = document.getElementById("app");
const SECTIONS = { overview: OverviewSection, sessions: SessionsSection, users: UsersSection,
  canned: CannedSection, widget: WidgetSection, system: SystemSection };

async function boot() {
  applyLang("admin.title");
  let auth = store.get(KEY);
  if (!auth || !auth.token || !auth.user || auth.user.user_type !== "admin") {
    auth = await showLogin(root, { role: "admin", titleKey: "admin.login_title" });
    store.set(KEY, auth);
  }
  const api = new Api(auth.token);
  const logout = () => {
    store.remove(KEY);
    location.reload();
  };
  api.onUnauthorized = logout;
  useUploads(api); // transcripts show uploaded images and files (issue 15)
  const content = h("main", { class: "admin-main", id: "admin-main", tabindex: "-1" });
  const links = Object.keys(SECTIONS).map((name) => h("a", { href: `#${name}`, class: "nav-link",
    dataset: { section: name } }, t(`admin.nav.${name}`)));
  mount(root, h("div", { class: "admin-app" },
    h("header", { class: "topbar" },
      h("div", { class: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "客"),
        h("span", {}, t("admin.title"))),
      h("nav", { class: "admin-nav", "aria-label": t("admin.nav") }, links),
      h("div", { class: "topbar-right" }, h("span", { class: "me-name" }, auth.user.name),
        h("button", { type: "button", class: "btn btn-ghost", onclick: async () => {
          try {
            await api.post("/api/auth/logout");
          } finally {
            logout();
          }
        } }, t("logout")))),
    content));

  let current = null;
  // live figures are pushed (workload, waiting frames) to an admin's socket: no polling
  const live = new ChatSocket(auth.token, {
    onFrame: (f) => { if (current && current.onFrame) current.onFrame(f); },
    onState: (s) => { if (s === "unauthorized") logout(); },
  });
  live.start();
  window.kefuAdminSocket = live; // for the browser tests
  function show() {
    const name = SECTIONS[location.hash.slice(1)] ? location.hash.slice(1) : "overview";
    if (current) current.stop();
    for (const a of links) {
      a.classList.toggle("active", a.dataset.section === name);
      if (a.dataset.section === name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    current = new SECTIONS[name](api, auth.user);
    mount(content, current.render());
    current.start();
  }
  window.addEventListener("hashchange", show);
  show();
}

boot();
