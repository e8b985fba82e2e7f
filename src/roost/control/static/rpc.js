// The page's one connection to the gateway's WebSocket API (docs/protocol.md).
//
// The token travels in Sec-WebSocket-Protocol ("roost.bearer.<base64url>"): a browser
// cannot set an Authorization header on a WebSocket, and a query string is kept in
// histories and proxy logs.

export class GatewayError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const REFUSALS = {
  4401: "Wrong token: the gateway refused it.",
  4403: "The gateway refused this page's address (see gateway.allowed_hosts / allowed_origins).",
  4429: "Too many failed sign-ins from here: wait a minute, then try again.",
};
// Said instead of "Wrong token" when a gateway that took the token refuses it on a
// reconnect: the user typed nothing wrong, the gateway's token changed (a restart with
// another one).
const TOKEN_NO_LONGER_VALID =
  "The gateway no longer accepts this token (was it changed?): sign in with the current one.";

export function bearerProtocol(token) {
  const bytes = new TextEncoder().encode(token);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return "roost.bearer." + btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function clientId() {
  // One mailbox per tab (ws:<id>): replies that arrive while it reconnects wait for it.
  let id = sessionStorage.getItem("roost.client");
  if (!id) {
    const random = crypto.getRandomValues(new Uint8Array(6));
    id = "control-" + Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
    sessionStorage.setItem("roost.client", id);
  }
  return id;
}

export class Gateway {
  constructor(token) {
    this.token = token;
    this.listeners = new Map();
    this.pending = new Map();
    this.nextId = 1;
    this.socket = null;
    this.topics = new Set();
    this.closedByUs = false;
    this.onStatus = () => {};
    this.onRefused = () => {};
    this.hello = null;
  }

  /** Resolves with the hello event's data; rejects with a GatewayError saying why. */
  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/ws?client=${encodeURIComponent(clientId())}`;
    return new Promise((resolve, reject) => {
      let opened = false;
      const socket = new WebSocket(url, ["roost", bearerProtocol(this.token)]);
      this.socket = socket;
      socket.addEventListener("message", (message) => {
        const frame = JSON.parse(message.data);
        if (!opened && frame.type === "event" && frame.event === "hello") {
          opened = true;
          this.hello = frame.data;
          this.onStatus("connected");
          this.resubscribe();
          resolve(frame.data);
          return;
        }
        this.dispatch(frame);
      });
      socket.addEventListener("close", (event) => {
        for (const { reject: fail } of this.pending.values()) {
          fail(new GatewayError("disconnected", "the connection to the gateway closed"));
        }
        this.pending.clear();
        const refusal = REFUSALS[event.code];
        if (!opened) {
          reject(new GatewayError(String(event.code),
            refusal || "Cannot reach the gateway: is `roost run` running?"));
          return;
        }
        if (refusal) {
          this.onRefused(event.code === 4401 ? TOKEN_NO_LONGER_VALID : refusal);
        } else if (!this.closedByUs) {
          this.reconnect(1000);
        }
      });
    });
  }

  /** Try again after `delay` ms, then twice as long each time (at most 15 s), until the
   * gateway answers or refuses: a restart of `roost run` is waited out, signed in. */
  reconnect(delay) {
    // Signed out meanwhile (a connect in flight was closed by us): nothing to retry.
    if (this.closedByUs) return;
    this.onStatus("reconnecting");
    setTimeout(() => {
      if (this.closedByUs) return;
      this.connect().catch((error) => {
        if (this.closedByUs) return;
        if (error.code === "4401") this.onRefused(TOKEN_NO_LONGER_VALID);
        else if (error.code === "4403") this.onRefused(error.message);
        else this.reconnect(Math.min(delay * 2, 15000));
      });
    }, delay);
  }

  close() {
    this.closedByUs = true;
    if (this.socket) this.socket.close(1000, "signed out");
  }

  dispatch(frame) {
    if (frame.type === "res") {
      const waiting = this.pending.get(frame.id);
      if (!waiting) return;
      this.pending.delete(frame.id);
      if (frame.ok) waiting.resolve(frame.result);
      else waiting.reject(new GatewayError(frame.error.code, frame.error.message));
    } else if (frame.type === "event") {
      for (const listener of this.listeners.get(frame.event) || []) listener(frame.data, frame.event);
      for (const listener of this.listeners.get("*") || []) listener(frame.data, frame.event);
    }
  }

  call(method, params) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new GatewayError("disconnected", "not connected to the gateway"));
    }
    const id = String(this.nextId++);
    const frame = { type: "req", id, method };
    if (params) frame.params = params;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify(frame));
    });
  }

  /** Listen to an event ("*" for all); returns the function that stops listening. */
  on(event, listener) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(listener);
    return () => this.listeners.get(event).delete(listener);
  }

  async subscribe(...topics) {
    const fresh = topics.filter((topic) => !this.topics.has(topic));
    if (!fresh.length) return;
    fresh.forEach((topic) => this.topics.add(topic));
    await this.call("subscribe", { topics: fresh });
  }

  resubscribe() {
    if (this.topics.size) this.call("subscribe", { topics: [...this.topics] }).catch(() => {});
  }
}
