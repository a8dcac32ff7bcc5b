// Modal dialogs built on <dialog> (focus is trapped, Esc closes): confirm, send a link,
// transfer a session.
import { h, safeUrl } from "./dom.js";
import { t } from "./i18n.js";

/** Show a modal form; `onSubmit(form)` may throw to keep it open with an error. */
export function modal(title, fields, { submitText, onSubmit, danger = false }) {
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: `btn ${danger ? "btn-danger" : "btn-primary"}` },
    submitText || t("ok"));
  const cancel = h("button", { type: "button", class: "btn", onclick: () => dialog.close() }, t("cancel"));
  const form = h("form", { method: "dialog", class: "dialog-form" },
    h("h2", {}, title), ...fields, error, h("div", { class: "dialog-actions" }, cancel, submit));
  const dialog = h("dialog", { class: "dialog" }, form);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    try {
      await onSubmit(form);
      dialog.close();
    } catch (err) {
      error.textContent = err.message || String(err);
    } finally {
      submit.disabled = false;
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** Resolves true when the user confirms. */
export function confirmDialog(text, { danger = true } = {}) {
  return new Promise((resolve) => {
    let answered = false;
    const d = modal(t("confirm"), [h("p", {}, text)], {
      danger,
      submitText: t("ok"),
      onSubmit: () => {
        answered = true;
        resolve(true);
      },
    });
    d.addEventListener("close", () => {
      if (!answered) resolve(false);
    });
  });
}

function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}

/** Ask for an image / file / link URL and a title; calls send(content, type, url). */
export function openLinkDialog(send) {
  const type = h("select", { name: "type" },
    ["Image", "File", "Link"].map((v) => h("option", { value: v }, t(`ctype.${v}`))));
  const url = h("input", { name: "url", type: "url", required: true, placeholder: "https://", maxlength: 2048 });
  const title = h("input", { name: "title", maxlength: 200 });
  modal(t("link.dialog_title"), [field(t("link.type"), type), field(t("link.url"), url),
    field(t("link.name"), title)], {
    submitText: t("console.send"),
    onSubmit: () => {
      const safe = safeUrl(url.value);
      if (!safe) throw new Error(t("link.bad_url"));
      send(title.value.trim() || safe, type.value, safe);
    },
  });
  url.focus();
}

/** Reply to a message a customer left (it reads the reply when its widget opens). */
export function openReplyDialog(app, left) {
  const content = h("textarea", { name: "content", rows: 4, maxlength: 4000, required: true });
  const contact = [left.name, left.email, left.phone].filter(Boolean).join(" · ");
  return modal(t("left.reply_title", { name: left.name || left.kehu_name || left.kehu_id }), [
    h("blockquote", { class: "left-quote" }, left.content),
    contact ? h("p", { class: "left-contact" }, contact) : null,
    field(t("left.reply"), content)], {
    submitText: t("left.send"),
    onSubmit: () => app.replyLeft(left.id, content.value.trim()),
  });
}

/** Pick an online agent with room or a team, a reason and a note; transfer the session
 * (to a team: the customer goes to the front of its queue). */
export async function openTransferDialog(app, conv) {
  const select = h("select", { name: "to", required: true });
  const reason = h("input", { name: "reason", maxlength: 1000, placeholder: t("transfer.reason_ph") });
  const note = h("textarea", { name: "note", rows: 3, maxlength: 1000, placeholder: t("transfer.note_ph") });
  const d = modal(t("transfer.title", { name: conv.kehu_name }), [
    field(t("transfer.to"), select), field(t("transfer.reason"), reason), field(t("transfer.note"), note)], {
    submitText: t("console.transfer"),
    onSubmit: async () => {
      if (!select.value) throw new Error(t("transfer.none"));
      await app.transfer(conv.sid, select.value, reason.value.trim(), note.value.trim());
    },
  });
  select.append(h("option", { value: "" }, t("loading")));
  try {
    const [data, teams] = await Promise.all([app.api.get("/api/kefu/available"),
      app.api.get("/api/teams")]);
    for (const k of data.available_kefu) app.learn(k.kefu_id, k.kefu_name);
    const others = data.available_kefu.filter((k) => k.kefu_id !== app.me.id);
    const agents = others.map((k) => h("option", { value: k.kefu_id },
      `${k.kefu_name} (${k.current_load}/${k.max_capacity})`));
    const groups = teams.teams.length
      ? [h("optgroup", { label: t("transfer.agents") }, ...agents),
        h("optgroup", { label: t("transfer.teams") },
          ...teams.teams.map((tm) => h("option", { value: `team:${tm.id}` }, tm.name)))]
      : agents;
    select.replaceChildren(...(others.length || teams.teams.length ? groups
      : [h("option", { value: "" }, t("transfer.none"))]));
  } catch (err) {
    select.replaceChildren(h("option", { value: "" }, err.message));
  }
  select.focus();
  return d;
}
