// Web MIDI pass-through: a controller plugged into this computer steers the engine.
//
//   const midi = new MidiBridge((id, messages) => conn.send({type: "midi", id, messages}));
//   await midi.enable();                 // navigator.requestMIDIAccess (asks the user)
//   midi.select("all" | inputId);
//   midi.reply(msg);                     // the server's {"type": "midi"} answer
//   midi.feedback(msg.messages);         // {"type": "midi_out"}: LEDs and motor faders
//
// The page does not interpret MIDI: it forwards the raw channel messages (note on/off,
// CC, program change, ...) and the engine maps them with the same mapping file and code as
// its own MIDI input (engine.midi.router: curves, pick-up, 14-bit pairs, encoders,
// presets), so a knob does the same thing plugged into the laptop as into the server.
// Messages are batched: the first after a quiet spell goes at once, then at most one
// batch per `minIntervalMs` and while `maxInFlight` of the controls it caused wait for
// their acks; a knob storm costs one message per batch (the server keeps the last value).
// System messages (clock, active sensing, SysEx) are not forwarded.

export class MidiBridge {
  constructor(send, { minIntervalMs = 100, maxInFlight = 4, maxQueued = 4096 } = {}) {
    this.send = send; // (id, messages) -> bool
    this.minIntervalMs = minIntervalMs;
    this.maxInFlight = maxInFlight;
    this.maxQueued = maxQueued;
    this.access = null;
    this.selected = "all";
    this.allowed = false; // the page may steer (open engine or token accepted)
    this.queue = [];
    this.inFlight = new Map(); // control id caused by our MIDI -> performance.now()
    this.timer = null;
    this.lastSent = -Infinity;
    this.nextId = 0;
    this.counts = { received: 0, forwarded: 0, batches: 0, dropped: 0, ignored: 0, held: 0,
      controls: 0, feedback: 0 };
    this.last = null; // the last message received, as bytes
    this.onChange = () => {};
  }

  get available() {
    return typeof navigator !== "undefined" && typeof navigator.requestMIDIAccess === "function";
  }

  async enable() {
    if (!this.available) throw new Error("this browser offers no Web MIDI");
    if (!this.access) {
      this.access = await navigator.requestMIDIAccess({ sysex: false });
      this.access.onstatechange = () => this.listen();
    }
    this.listen();
    return this.inputs();
  }

  inputs() {
    if (!this.access) return [];
    return Array.from(this.access.inputs.values()).map((p) => ({ id: p.id, name: p.name,
      manufacturer: p.manufacturer, state: p.state }));
  }

  select(id) {
    this.selected = id;
    this.listen();
  }

  listen() {
    if (!this.access) return;
    for (const input of this.access.inputs.values()) {
      const on = this.selected === "all" || input.id === this.selected;
      input.onmidimessage = on ? (e) => this.received(e.data) : null;
    }
    this.onChange();
  }

  received(data) {
    this.counts.received += 1;
    const bytes = Array.from(data);
    this.last = bytes;
    if (!bytes.length || bytes[0] < 0x80 || bytes[0] >= 0xf0) {
      this.counts.ignored += 1; // running status never reaches us; system messages stay here
      this.onChange();
      return;
    }
    if (!this.allowed) {
      this.counts.held += 1;
      this.onChange();
      return;
    }
    if (this.queue.length >= this.maxQueued) {
      this.queue.shift();
      this.counts.dropped += 1;
    }
    this.queue.push(bytes);
    this.schedule();
    this.onChange();
  }

  schedule() {
    if (this.timer !== null || !this.queue.length) return;
    const wait = Math.max(0, this.lastSent + this.minIntervalMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }

  flush() {
    if (!this.queue.length) return;
    const now = performance.now();
    for (const [id, at] of this.inFlight) if (now - at > 15000) this.inFlight.delete(id);
    if (this.inFlight.size >= this.maxInFlight) {
      this.timer = setTimeout(() => { this.timer = null; this.flush(); }, 250);
      return;
    }
    this.nextId += 1;
    const messages = this.queue;
    if (!this.send(`webmidi-${this.nextId}`, messages)) return; // kept until reconnected
    this.queue = [];
    this.lastSent = now;
    this.counts.batches += 1;
    this.counts.forwarded += messages.length;
    this.onChange();
  }

  // The server's answer to a batch: the ids of the control messages it caused.
  reply(msg) {
    const now = performance.now();
    for (const id of msg.controls || []) this.inFlight.set(id, now);
    this.counts.controls += (msg.controls || []).length;
    this.onChange();
  }

  // An ack or error for one of those controls.
  answered(id) {
    if (this.inFlight.delete(id) && this.timer === null) this.schedule();
  }

  // Controller feedback from the engine: to the outputs named like the inputs we listen to.
  feedback(messages) {
    if (!this.access || !messages || !messages.length) return;
    const names = new Set(Array.from(this.access.inputs.values())
      .filter((p) => this.selected === "all" || p.id === this.selected).map((p) => p.name));
    for (const out of this.access.outputs.values()) {
      if (!names.has(out.name)) continue;
      for (const m of messages) out.send(m);
      this.counts.feedback += messages.length;
    }
  }

  // A new connection: nothing is in flight any more.
  reconnected() {
    this.inFlight.clear();
    this.schedule();
  }
}
