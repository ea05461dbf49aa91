// What the performer changes: throttled control messages and the log of every change.
//
//   const sender = new ControlSender((msg) => conn.send(msg), log);
//   sender.set({budget: 0.4});            // coalesced: at most one control per 100 ms
//   sender.playback("pause");             // at once
//   sender.ack(msg); sender.error(msg);   // from the server, by id
//   log.update(playingSample, rate, heardAt);  // marks changes heard as playback passes them
//
// Sliders fire dozens of events a second and the engine applies controls only at hop
// boundaries, so the sender keeps the newest value of each key and sends them together:
// the first change goes at once, later ones at most every `minIntervalMs`, and never more
// than `maxInFlight` unanswered (the server allows a few waiting per connection and rate
// limits the rest). Nothing the performer set last is dropped: the final value always goes.

export class ChangeLog {
  constructor(limit = 40) {
    this.limit = limit;
    this.items = []; // newest last
    this.byId = new Map();
    this.version = 0; // bumped on every change (the view redraws when it moves)
  }

  add(id, kind, what, origin = "page") {
    const item = { id, kind, what, origin, sentMs: performance.now(), sentAt: Date.now(),
      status: "sent", appliedAt: null, settledAt: null, liveSample: null, restarted: false,
      heardMs: null, error: null, epoch: this.epoch || 0 };
    this.items.push(item);
    this.byId.set(id, item);
    while (this.items.length > this.limit) this.byId.delete(this.items.shift().id);
    this.version += 1;
    return item;
  }

  // An ack; one for a change this page did not type itself (its MIDI controller: ids midi-N;
  // the engine's own MIDI input, reported in state messages) starts a new item.
  ack(msg, origin = "midi") {
    let item = this.byId.get(msg.id);
    if (!item) item = this.add(msg.id, "control", msg.applied || {}, origin);
    item.status = "acked";
    item.appliedAt = msg.applied_at_sample;
    item.settledAt = msg.settled_at_sample ?? msg.applied_at_sample;
    item.liveSample = msg.live_sample ?? null;
    item.restarted = Boolean(msg.restarted);
    item.ackMs = performance.now();
    this.version += 1;
    return item;
  }

  error(msg) {
    const item = msg.id !== undefined ? this.byId.get(msg.id) : null;
    if (!item) return null;
    item.status = "error";
    item.error = msg;
    this.version += 1;
    return item;
  }

  // A new connection. Unanswered changes will never be answered; acked ones will still be
  // heard if the stream is the same (a network blip), never if the engine restarted (its
  // sample numbering started again).
  reconnected(restarted) {
    if (restarted) this.epoch = (this.epoch || 0) + 1;
    for (const item of this.items) {
      if (item.status === "sent" || (restarted && item.status === "acked")) {
        item.status = "lost";
      }
    }
    this.version += 1;
  }

  // Playback reached `playing` (stream sample index) at context time `time`; `heardAt(t)`
  // maps a context time to performance.now() at the speaker.
  update(playing, rate, time, heardAt) {
    if (playing === null || playing === undefined) return;
    for (const item of this.items) {
      if (item.status !== "acked" || item.epoch !== (this.epoch || 0)) continue;
      if (playing >= item.appliedAt) {
        item.status = "heard";
        item.heardMs = heardAt(time - (playing - item.appliedAt) / rate);
        this.version += 1;
      }
    }
  }
}

export class ControlSender {
  constructor(send, log, { minIntervalMs = 100, maxInFlight = 4 } = {}) {
    this.send = send;
    this.log = log;
    this.minIntervalMs = minIntervalMs;
    this.maxInFlight = maxInFlight;
    this.pending = {};
    this.inFlight = new Map(); // id -> performance.now() when sent
    this.staleMs = 15000; // an id unanswered this long (a dropped message) stops counting
    this.lastSent = -Infinity;
    this.timer = null;
    this.nextId = 0;
    this.token = null; // sent as an auth message by the app, not with every control
  }

  id() {
    this.nextId += 1;
    return `web-${this.nextId}`;
  }

  // Queue settings (merged with what waits); returns at once.
  set(settings) {
    Object.assign(this.pending, settings);
    this.schedule();
  }

  playback(action) {
    const id = this.id();
    if (!this.send({ type: "playback", id, action })) return null;
    this.inFlight.set(id, performance.now());
    return this.log.add(id, "playback", { action });
  }

  schedule() {
    if (this.timer !== null || !Object.keys(this.pending).length) return;
    const wait = Math.max(0, this.lastSent + this.minIntervalMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }

  flush() {
    if (!Object.keys(this.pending).length) return;
    const now = performance.now();
    for (const [id, at] of this.inFlight) if (now - at > this.staleMs) this.inFlight.delete(id);
    if (this.inFlight.size >= this.maxInFlight) { // an ack or error calls us again
      this.timer = setTimeout(() => { this.timer = null; this.flush(); }, 1000);
      return;
    }
    const id = this.id();
    const settings = this.pending;
    if (!this.send({ type: "control", id, set: settings })) return; // kept until reconnected
    this.pending = {};
    this.lastSent = now;
    this.inFlight.set(id, now);
    this.log.add(id, "control", settings);
  }

  answered(id) {
    if (!this.inFlight.delete(id)) return;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.schedule();
  }

  ack(msg) {
    this.answered(msg.id);
    return this.log.ack(msg);
  }

  error(msg) {
    this.answered(msg.id);
    return this.log.error(msg);
  }

  // The connection was replaced: unanswered messages never will be; what waits goes now.
  reconnected(restarted) {
    this.inFlight.clear();
    this.log.reconnected(restarted);
    this.schedule();
  }
}
