// The live WebSocket (/ws): connects, reconnects with backoff and jitter, and keeps the page's
// lossy subscriptions (pictures, meters) across reconnections. Topics are counted per
// (instance, topic): the hub is asked once, and told to stop when the last watcher leaves.

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;

export class LiveSocket {
  // handlers: onMessage(message), onOpen(), onClose({opened, reason, retryAt}).
  constructor({ token, handlers }) {
    this.token = token;
    this.handlers = handlers;
    this.socket = null;
    this.attempt = 0;
    this.retryAt = 0;
    this.retryTimer = null;
    this.paused = false;
    this.watchers = new Map(); // "instance\ntopic" -> count
  }

  url() {
    const url = new URL("/ws", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const token = this.token();
    if (token) url.searchParams.set("token", token);
    return url.toString();
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.paused = false;
    let opened = false;
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      opened = true;
      this.attempt = 0;
      this.resubscribe();
      this.handlers.onOpen();
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      this.handlers.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.paused) return;
      this.attempt += 1;
      const base = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** (this.attempt - 1));
      const delay = base / 2 + Math.random() * (base / 2); // jitter: many tabs do not return at once
      this.retryAt = Date.now() + delay;
      this.retryTimer = setTimeout(() => this.connect(), delay);
      this.handlers.onClose({ opened, reason: event.reason, retryAt: this.retryAt });
    });
  }

  // Stops reconnecting (the page needs a token first).
  pause() {
    this.paused = true;
    clearTimeout(this.retryTimer);
  }

  reconnectNow() {
    const old = this.socket;
    this.socket = null;
    if (old) old.close();
    this.attempt = 0;
    this.connect();
  }

  live() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  send(message) {
    if (this.live()) this.socket.send(JSON.stringify(message));
  }

  // Starts watching a lossy topic; answers the function that stops.
  watch(instance, topic) {
    const key = `${instance}\n${topic}`;
    const count = this.watchers.get(key) || 0;
    this.watchers.set(key, count + 1);
    if (count === 0) this.send({ type: "subscribe", instance, topics: [topic] });
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      const left = (this.watchers.get(key) || 1) - 1;
      if (left > 0) {
        this.watchers.set(key, left);
        return;
      }
      this.watchers.delete(key);
      this.send({ type: "unsubscribe", instance, topics: [topic] });
    };
  }

  // A new connection knows nothing of the old one's subscriptions.
  resubscribe() {
    const byInstance = new Map();
    for (const key of this.watchers.keys()) {
      const [instance, topic] = key.split("\n");
      if (!byInstance.has(instance)) byInstance.set(instance, []);
      byInstance.get(instance).push(topic);
    }
    for (const [instance, topics] of byInstance) this.send({ type: "subscribe", instance, topics });
  }
}
