// The REST client: bearer token, the seed's envelope, errors as ApiError.
import { lang } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body || {};
    this.code = (body && body.error) || null;
  }
}

export class Api {
  constructor(token = null) {
    this.token = token;
    this.onUnauthorized = null; // called on any 401 (token expired or revoked)
  }

  headers(extra = {}) {
    const h = { "Accept-Language": lang === "en" ? "en" : "zh-CN", ...extra };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return h;
  }

  /** Call an endpoint; resolve to the envelope's `data`, or throw ApiError. */
  async call(method, path, body = undefined) {
    let res;
    try {
      res = await fetch(path, {
        method,
        headers: this.headers(body === undefined ? {} : { "Content-Type": "application/json" }),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, String(err.message || err), null);
    }
    let payload = null;
    try {
      payload = await res.json();
    } catch {
      payload = null;
    }
    if (!res.ok || !payload || payload.success === false) {
      if (res.status === 401 && this.onUnauthorized) this.onUnauthorized();
      const msg = (payload && payload.message) || `HTTP ${res.status}`;
      throw new ApiError(res.status, msg, payload);
    }
    return payload.data;
  }

  get(path, query = null) {
    if (query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        if (v !== null && v !== undefined && v !== "") qs.set(k, String(v));
      }
      const s = qs.toString();
      if (s) path += `?${s}`;
    }
    return this.call("GET", path);
  }

  post(path, body = {}) {
    return this.call("POST", path, body);
  }

  put(path, body = {}) {
    return this.call("PUT", path, body);
  }

  del(path) {
    return this.call("DELETE", path);
  }

  /** Download an authenticated file (a backup): fetch with the token, save as a blob. */
  async download(path, filename) {
    const res = await fetch(path, { headers: this.headers() });
    if (!res.ok) {
      let body = null;
      try {
        body = await res.json();
      } catch {
        body = null;
      }
      throw new ApiError(res.status, (body && body.message) || `HTTP ${res.status}`, body);
    }
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = filename;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  /** Every message of a session, oldest first (follows the pages). */
  async sessionMessages(sid, includeSystem = true) {
    const out = [];
    for (let page = 1; page <= 100; page += 1) {
      const data = await this.get(`/api/sessions/${encodeURIComponent(sid)}/messages`, {
        page, limit: 200, include_system: includeSystem,
      });
      out.push(...data.messages);
      if (!data.pagination.has_more) break;
    }
    return out;
  }
}

/** The WebSocket URL of this server for a token. */
export function wsUrl(token) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}/ws?token=${encodeURIComponent(token)}`;
}
