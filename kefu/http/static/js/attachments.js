// Files and images in the chat (issue 15): the composer's attach button, paste and
// drag-and-drop (both pages), the upload itself (POST /api/uploads, with progress), and
// how an uploaded file shows in the timeline — an image as its thumbnail (click: the full
// image in a dialog), anything else as a card with its name, size and a download button.
// The pages hold their token in localStorage, so <img src> could not carry it: files are
// fetched with the token and shown through blob: URLs (kept for the page's life).
import { ApiError } from "./api.js";
import { h, toast } from "./dom.js";
import { t } from "./i18n.js";
import { icon } from "./icons.js";

const UPLOAD_URL = /^\/api\/uploads\/up_[0-9a-f]{32}$/;
const blobs = new Map(); // url → Promise<blob: URL>
const sizes = new Map(); // url → Promise<bytes | null>
let api = null; // the page's Api (its token), set by useUploads
let maxBytes = 10 * 1024 * 1024; // hello.limits.upload_max_bytes

/** The page's Api (for the token) and, from hello, the server's limits. */
export function useUploads(pageApi, limits = null) {
  api = pageApi;
  if (limits && limits.upload_max_bytes) maxBytes = limits.upload_max_bytes;
}

/** Is this message's url one of our uploads? */
export function isUpload(msg) {
  return typeof msg.url === "string" && UPLOAD_URL.test(msg.url);
}

function fetchBlob(url) {
  if (!blobs.has(url)) {
    const p = fetch(url, { headers: api ? api.headers() : {} }).then((res) => {
      if (!res.ok) throw new ApiError(res.status, `HTTP ${res.status}`, null);
      return res.blob();
    }).then((b) => URL.createObjectURL(b));
    p.catch(() => blobs.delete(url)); // tried again at the next render
    blobs.set(url, p);
  }
  return blobs.get(url);
}

function fetchSize(url) {
  if (!sizes.has(url)) {
    sizes.set(url, fetch(url, { method: "HEAD", headers: api ? api.headers() : {} })
      .then((res) => (res.ok ? Number(res.headers.get("Content-Length")) : null))
      .catch(() => null));
  }
  return sizes.get(url);
}

/** 1536 → "1.5 KB". */
export function humanSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The timeline body of a message carrying an upload; null for any other message. */
export function uploadBody(msg) {
  if (!isUpload(msg)) return null;
  const name = msg.content || "file";
  if (msg.content_type === "Image") {
    const img = h("img", { alt: t("up.image_alt", { name }), class: "msg-thumb" });
    fetchBlob(`${msg.url}/thumbnail`).then((src) => { img.src = src; }).catch(() => {
      img.alt = t("up.unavailable");
    });
    return h("button", { type: "button", class: "msg-image msg-upload-image",
      title: t("up.open"), onclick: () => openImage(msg.url, name) }, img);
  }
  const size = h("span", { class: "file-size" });
  fetchSize(msg.url).then((n) => { if (n !== null && !Number.isNaN(n)) size.textContent = humanSize(n); });
  return h("div", { class: "msg-file-card" },
    h("span", { class: "file-icon" }, icon("file", 20)),
    h("span", { class: "file-main" }, h("span", { class: "file-name" }, name), size),
    h("button", { type: "button", class: "btn btn-small file-download",
      "aria-label": t("up.download_name", { name }),
      onclick: () => download(msg.url, name) }, t("up.download")));
}

async function download(url, name) {
  try {
    await api.download(url, name);
  } catch (err) {
    toast(t("up.failed", { why: err.message }), "error");
  }
}

/** The full image in a modal dialog (Esc or the button closes it). */
function openImage(url, name) {
  const img = h("img", { alt: t("up.image_alt", { name }), class: "lightbox-img" });
  const close = h("button", { type: "button", class: "btn", onclick: () => dialog.close() }, t("up.close"));
  const dialog = h("dialog", { class: "dialog lightbox", "aria-label": name },
    img, h("div", { class: "dialog-actions" },
      h("button", { type: "button", class: "btn", onclick: () => download(url, name) }, t("up.download")),
      close));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
  fetchBlob(url).then((src) => { img.src = src; }).catch(() => { img.alt = t("up.unavailable"); });
}

/** POST one file into session `sid` (null: a customer's active one) → the upload record.
 * `progress(fraction)` is called as it goes. Rejects with an ApiError in the user's
 * language (the server's message). */
export function uploadFile(file, sid, progress = () => {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", sid ? `/api/uploads?session_id=${encodeURIComponent(sid)}` : "/api/uploads");
    for (const [k, v] of Object.entries(api ? api.headers() : {})) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) progress(ev.loaded / ev.total); };
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status === 200 && body && body.success) resolve(body.data.upload);
      else reject(new ApiError(xhr.status, (body && body.message) || `HTTP ${xhr.status}`, body));
    };
    xhr.onerror = () => reject(new ApiError(0, t("up.network"), null));
    const form = new FormData();
    form.append("file", file, file.name || "file");
    xhr.send(form);
  });
}

/**
 * The composer's attach button, with paste (on `input`) and drag-and-drop (on `zone`, or
 * later on any element with `dropOn`).
 * `target()` → the session id to upload into (or null: a customer's own; false: none,
 * the control is off); `send(sid, name, contentType, url)` sends the chat message.
 * Returns {button, status, dropOn, refresh}: put the first two in the page; call
 * `refresh()` when the target may have changed.
 */
export function attacher({ input, zone, target, send }) {
  const picker = h("input", { type: "file", hidden: true, tabindex: -1, multiple: true,
    class: "attach-picker" });
  document.body.append(picker);
  const button = h("button", { type: "button", class: "btn btn-icon attach-btn",
    "aria-label": t("up.attach"), title: t("up.attach"), onclick: () => picker.click() },
  icon("file"));
  const status = h("div", { class: "upload-status", role: "status", "aria-live": "polite", hidden: true });
  let busy = 0;

  function show(text, kind = "info") {
    status.hidden = !text;
    status.textContent = text || "";
    status.className = `upload-status upload-${kind}`;
  }

  async function one(file) {
    const sid = target();
    if (sid === false) {
      show(t("up.wait_agent"), "error");
      return;
    }
    if (file.size > maxBytes) {
      show(t("up.too_big", { name: file.name, mb: (maxBytes / 1024 / 1024).toFixed(0) }), "error");
      return;
    }
    busy += 1;
    show(t("up.uploading", { name: file.name, pct: 0 }));
    try {
      const up = await uploadFile(file, sid, (f) =>
        show(t("up.uploading", { name: file.name, pct: Math.round(f * 100) })));
      send(up.session_id, up.name, up.image ? "Image" : "File", up.url);
      show("");
    } catch (err) {
      show(t("up.failed", { why: err.message }), "error");
    } finally {
      busy -= 1;
    }
  }

  async function many(files) {
    for (const file of files) await one(file); // in order, one at a time
  }

  picker.addEventListener("change", () => {
    const files = [...picker.files];
    picker.value = "";
    many(files);
  });
  input.addEventListener("paste", (ev) => {
    const files = [...((ev.clipboardData && ev.clipboardData.files) || [])];
    if (!files.length) return; // text: the usual paste
    ev.preventDefault();
    many(files);
  });
  function dropOn(zone) {
    zone.addEventListener("dragover", (ev) => {
      if (!ev.dataTransfer || ![...ev.dataTransfer.types].includes("Files")) return;
      ev.preventDefault();
      zone.classList.add("drop-target");
    });
    zone.addEventListener("dragleave", (ev) => {
      if (!zone.contains(ev.relatedTarget)) zone.classList.remove("drop-target");
    });
    zone.addEventListener("drop", (ev) => {
      zone.classList.remove("drop-target");
      const files = [...((ev.dataTransfer && ev.dataTransfer.files) || [])];
      if (!files.length) return;
      ev.preventDefault();
      many(files);
    });
  }
  if (zone) dropOn(zone);

  return {
    button,
    status,
    dropOn,
    refresh() {
      button.disabled = target() === false;
      if (!busy && status.classList.contains("upload-error") && !button.disabled
        && status.textContent === t("up.wait_agent")) show("");
    },
  };
}
