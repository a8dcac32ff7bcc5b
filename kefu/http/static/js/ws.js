// The chat WebSocket with the reconnect rules of docs/protocol.md §7–8: backoff 0.5 s,
// 1, 2, 4 … 30 s with jitter (reset on hello), 1–2 s after server_closing / 1001,
// an application ping every 25 s (no pong within 10 s → reconnect), 4401 → log in again.
import { wsUrl } from "./api.js";

const PING_EVERY_MS = 25000;
const PONG_WITHIN_MS = 10000;

export class ChatSocket {
  /**
   * @param {string} token
   * @param {{onFrame: (f: object) => void, onState: (s: string) => void}} handlers
   *   onState receives "connecting", "open" (after hello), "down" or "unauthorized".
   */
  constructor(token, { onFrame, onState }) {
    this.token = token;
    this.onFrame = onFrame;
    this.onState = onState;
    this.ws = null;
    this.delay = 500;
    this.stopped = false;
    this.timer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.ready = false; // hello received on the current socket
    this.onOnline = () => this.reconnectSoon(0);
    this.onOffline = () => this.drop(); // the browser knows the network went: say so now
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    clearTimeout(this.timer);
    this.clearPing();
    if (this.ws) this.ws.close(1000, "bye");
    this.ws = null;
  }

  connect() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.ready = false;
    this.onState("connecting");
    const ws = new WebSocket(wsUrl(this.token));
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame.type === "hello") {
        this.ready = true;
        this.delay = 500;
        this.startPing();
        this.onState("open");
      } else if (frame.type === "pong") {
        clearTimeout(this.pongTimer);
        return;
      } else if (frame.type === "server_closing") {
        this.delay = 1000 + Math.random() * 1000;
      }
      this.onFrame(frame);
    };
    ws.onclose = (ev) => {
      if (ws === this.ws) this.lost(ev.code);
    };
  }

  /** The link is gone (closed, or given up on): "down", then reconnect with backoff. */
  lost(code) {
    this.ws = null;
    this.ready = false;
    this.clearPing();
    if (code === 4401) {
      this.stopped = true;
      this.onState("unauthorized");
      return;
    }
    this.onState("down");
    if (code === 1001) this.delay = Math.max(this.delay, 1000 + Math.random() * 1000);
    this.reconnectSoon(this.delay);
    this.delay = Math.min(this.delay * 2, 30000);
  }

  reconnectSoon(ms) {
    if (this.stopped) return;
    clearTimeout(this.timer);
    if (ms === 0 && this.ws && this.ws.readyState <= 1) return; // already (re)connecting
    const jitter = ms ? Math.random() * Math.min(ms / 2, 1000) : 0;
    this.timer = setTimeout(() => this.connect(), ms + jitter);
  }

  /** Send a frame now; false when not connected (the caller keeps it for later). */
  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.ready) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Give up on the link: a missed pong, the browser going offline (and the reconnect
   * tests). Down at once — a dead link may take a minute to report its close (issue 15:
   * the console said 已连接 with the network down). */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.lost(4000);
    try {
      ws.close(4000, "dropped by client");
    } catch {
      /* already closing */
    }
  }

  startPing() {
    this.clearPing();
    this.pingTimer = setInterval(() => {
      if (!this.send({ type: "ping" })) return;
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.drop(), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  clearPing() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }
}
