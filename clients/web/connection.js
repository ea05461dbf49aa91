// The WebSocket to the engine, reconnected automatically.
//
//   const conn = new Connection(url, {onHello, onAudio, onMessage, onStatus});
//   conn.open();
//   conn.send({type: "ping", id: 1});        // false when not connected
//
// Status: "connecting" -> "live" (after the hello) -> "reconnecting" (after any close the
// page did not ask for; retried with backoff: 0.25 s doubling to 3 s, randomised) -> "live"
// ... A reconnection is a new listener for the server: it joins at the live edge, and the
// page starts its buffer afresh. A connection that is open but silent for `staleMs`
// (pings are answered, so silence means a dead link) is closed and retried.

import { decodeAudio, parseText, pingMessage, ProtocolError } from "./protocol.js";

export class Connection {
  constructor(url, handlers = {}, options = {}) {
    this.url = url;
    this.h = { onHello() {}, onAudio() {}, onMessage() {}, onStatus() {}, onProtocolError() {},
      ...handlers };
    this.baseDelayMs = options.baseDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 3000;
    this.pingMs = options.pingMs ?? 2000;
    this.staleMs = options.staleMs ?? 8000;
    this.helloMs = options.helloMs ?? 5000;
    this.ws = null;
    this.status = "closed";
    this.attempt = 0; // failed attempts since the last hello
    this.connections = 0; // hellos received
    this.lastClose = null; // {code, reason, at}
    this.retryAt = null; // performance.now() of the next attempt
    this.lastMessage = 0;
    this.rttMs = null;
    this.pong = null; // the last pong with the time it arrived
    this.wanted = false;
    this.timers = [];
    this.pingId = 0;
    this.pings = new Map();
  }

  setStatus(status) {
    this.status = status;
    this.h.onStatus(status, this);
  }

  open() {
    this.wanted = true;
    this.connect();
  }

  close() {
    this.wanted = false;
    this.clearTimers();
    if (this.ws) this.ws.close(1000, "the page closed the connection");
    this.setStatus("closed");
  }

  connect() {
    this.clearTimers();
    this.setStatus(this.connections || this.attempt ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (error) {
      this.lastClose = { code: 0, reason: String(error.message || error), at: Date.now() };
      this.retry();
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.hello = false;
    this.lastMessage = performance.now();
    ws.onmessage = (e) => this.receive(ws, e.data);
    ws.onclose = (e) => this.closed(ws, e.code, e.reason);
    ws.onerror = () => {}; // a close event follows with the code
    this.timers.push(setTimeout(() => {
      if (ws === this.ws && !this.hello) ws.close(4000, "no hello from the server");
    }, this.helloMs));
  }

  receive(ws, data) {
    if (ws !== this.ws) return;
    const now = performance.now();
    this.lastMessage = now;
    try {
      if (data instanceof ArrayBuffer) {
        if (this.hello) this.h.onAudio(decodeAudio(data), now);
        return;
      }
      const msg = parseText(data);
      if (msg.type === "hello") {
        this.hello = true;
        this.attempt = 0;
        this.connections += 1;
        this.retryAt = null;
        this.setStatus("live");
        this.startPings(ws);
        this.h.onHello(msg, this);
      } else if (msg.type === "pong" && this.pings.has(msg.id)) {
        this.rttMs = now - this.pings.get(msg.id);
        this.pings.delete(msg.id);
        this.pong = { ...msg, receivedMs: now };
        this.h.onMessage(msg, this);
      } else {
        this.h.onMessage(msg, this);
      }
    } catch (error) {
      if (error instanceof ProtocolError) this.h.onProtocolError(error, this);
      else throw error;
    }
  }

  startPings(ws) {
    const tick = () => {
      if (ws !== this.ws) return;
      if (performance.now() - this.lastMessage > this.staleMs) {
        ws.close(4000, "the server went silent");
        return;
      }
      this.pingId += 1;
      const id = `ping-${this.pingId}`;
      this.pings.set(id, performance.now());
      if (this.pings.size > 8) this.pings.delete(this.pings.keys().next().value);
      this.send(pingMessage(id));
    };
    tick();
    this.timers.push(setInterval(tick, this.pingMs));
  }

  closed(ws, code, reason) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.clearTimers();
    this.lastClose = { code, reason: reason || closeMeaning(code), at: Date.now() };
    if (!this.wanted) {
      this.setStatus("closed");
      return;
    }
    this.retry();
  }

  retry() {
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** this.attempt) *
      (0.75 + 0.5 * Math.random());
    this.attempt += 1;
    this.retryAt = performance.now() + delay;
    this.setStatus("reconnecting");
    this.timers.push(setTimeout(() => this.connect(), delay));
  }

  clearTimers() {
    for (const t of this.timers) {
      clearTimeout(t);
      clearInterval(t);
    }
    this.timers = [];
  }

  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.hello) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }
}

// What a close code means, for the status line.
export function closeMeaning(code) {
  return {
    1000: "closed normally", 1001: "the engine is shutting down",
    1006: "the connection dropped (engine stopped or network lost)",
    1008: "closed by the engine's policy (message flood or wrong tokens)",
    1009: "a message was too large", 1011: "the engine had an internal error",
    4000: "the server went silent", 4001: "this page fell behind the live edge too often",
  }[code] || `closed with code ${code}`;
}
