// UI text: Chinese by default, English when the browser's language starts with "en".
import { EN } from "./i18n-en.js";
import { ZH } from "./i18n-zh.js";

export const lang = (navigator.language || "").toLowerCase().startsWith("en") ? "en" : "zh";
const table = lang === "en" ? EN : ZH;

/** The text of `key` with {name} placeholders filled (falls back to Chinese, then the key). */
export function t(key, params = {}) {
  const raw = table[key] ?? ZH[key] ?? key;
  return raw.replace(/\{(\w+)\}/g, (_, name) => (params[name] ?? "").toString());
}

/** Set <html lang> and the title; fill elements marked data-i18n="key". */
export function applyLang(titleKey) {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  if (titleKey) document.title = t(titleKey);
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}

/** True when `key` has a text (e.g. an error code the UI knows). */
export function has(key) {
  return key in ZH;
}
