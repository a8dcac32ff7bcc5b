// The sign-in card of the agent workspace and the operator dashboard.
import { Api } from "./api.js";
import { h, mount } from "./dom.js";
import { t } from "./i18n.js";

/**
 * Show the sign-in form in `root`; resolves to {token, user} of a user whose
 * user_type is `role` (another role is refused with a clear message, not signed in).
 */
export function showLogin(root, { role, titleKey }) {
  return new Promise((resolve) => {
    const error = h("p", { class: "login-error", role: "alert" });
    const userId = h("input", { id: "login-user", name: "user_id", autocomplete: "username",
      required: true, maxlength: 64 });
    const password = h("input", { id: "login-password", name: "password", type: "password",
      autocomplete: "current-password", required: true, maxlength: 200 });
    const submit = h("button", { type: "submit", class: "btn btn-primary btn-block" }, t("login.submit"));
    const form = h("form", { class: "login-card", novalidate: true },
      h("div", { class: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "客"),
        h("span", {}, t("brand"))),
      h("h1", {}, t(titleKey)),
      h("label", { for: "login-user" }, t("login.user")), userId,
      h("label", { for: "login-password" }, t("login.password")), password,
      error, submit);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      if (!userId.value.trim() || !password.value) {
        error.textContent = t("login.missing");
        return;
      }
      submit.disabled = true;
      try {
        const api = new Api();
        const data = await api.post("/api/auth/login",
          { user_id: userId.value.trim(), password: password.value });
        if (data.user.user_type !== role) {
          const api2 = new Api(data.token);
          api2.post("/api/auth/logout").catch(() => {});
          error.textContent = t(role === "admin" ? "login.admin_only" : "login.kefu_only");
          return;
        }
        resolve({ token: data.token, user: data.user });
      } catch (err) {
        error.textContent = err.message;
      } finally {
        submit.disabled = false;
      }
    });
    mount(root, h("main", { class: "login-page" }, form));
    userId.focus();
  });
}
