// Playback: an AudioContext, the jitter buffer (jitter-buffer.js), an analyser for the
// pictures.
//
//   const player = new Player({contextRate: null});      // null: the device's own rate
//   await player.start();                                // needs a user gesture in most browsers
//   player.configure(hello.sample_rate, hello.channels);  // after every hello
//   player.push(frame, performance.now());               // decoded audio blocks
//   player.onReport = (r) => ...;                        // ~20 times a second
//
// The buffer resamples from the engine's rate to the context's, in an AudioWorklet
// (player-worklet.js, the audio thread) where the page is a secure context (https, or
// localhost), else in a ScriptProcessorNode on this thread (a page served over plain http
// to another machine); `output: "script"` forces the latter. This side measures arrival
// jitter (jitter.js) and moves the buffer target with it.

import { JitterBuffer } from "./jitter-buffer.js";

import { bufferTarget, JitterMeter } from "./jitter.js";

const SCRIPT_FRAMES = 2048; // ScriptProcessorNode block (46 ms at 44.1 kHz)

export class Player {
  constructor({ contextRate = null, minMs, k, output = "auto" } = {}) {
    this.contextRate = contextRate;
    this.output = output; // "auto" | "worklet" | "script"
    this.backend = null; // what start() chose
    this.buffer = null; // the JitterBuffer, when it runs on this thread
    this.targetOptions = {};
    if (minMs !== undefined) this.targetOptions.minMs = minMs;
    if (k !== undefined) this.targetOptions.k = k;
    this.ctx = null;
    this.node = null;
    this.analyser = null;
    this.rate = 0;
    this.channels = 0;
    this.meter = null;
    this.targetMs = 0;
    this.report = null;
    this.firstAudible = null; // {pageMs, time}: first sample above -80 dBFS after a flush
    this.onReport = () => {};
    this.onFirstAudible = () => {};
    this.gap = null;
  }

  get running() {
    return this.ctx !== null && this.ctx.state === "running";
  }

  // Create the context and the worklet (idempotent); resolves once the context runs.
  async start() {
    if (!this.ctx) {
      const opts = { latencyHint: "interactive" };
      if (this.contextRate) opts.sampleRate = this.contextRate;
      this.ctx = new AudioContext(opts);
      if (this.ctx.audioWorklet && this.output !== "script") {
        await this.ctx.audioWorklet.addModule(new URL("./player-worklet.js", import.meta.url));
        this.node = new AudioWorkletNode(this.ctx, "presto-player", {
          numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [2],
        });
        this.node.port.onmessage = (e) => this.fromWorklet(e.data);
        this.backend = "worklet";
      } else {
        this.startScript();
      }
      this.analyser = this.ctx.createAnalyser();
      this.analyser.fftSize = 2048;
      this.analyser.smoothingTimeConstant = 0;
      this.node.connect(this.analyser);
      this.analyser.connect(this.ctx.destination);
      if (this.rate) this.sendConfig();
    }
    if (this.ctx.state !== "running") {
      // without a user gesture resume() waits for one: do not hang the caller on it
      await Promise.race([this.ctx.resume(), new Promise((r) => setTimeout(r, 300))]);
    }
    return this.ctx.state === "running";
  }

  // The fallback: the same buffer rendered in ScriptProcessorNode callbacks on this thread.
  startScript() {
    this.buffer = new JitterBuffer(this.ctx.sampleRate, {}, (m) => this.fromWorklet(m));
    this.node = this.ctx.createScriptProcessor(SCRIPT_FRAMES, 0, 2);
    let frame = 0;
    this.node.onaudioprocess = (e) => {
      const out = [e.outputBuffer.getChannelData(0), e.outputBuffer.getChannelData(1)];
      this.buffer.render(out, frame, e.playbackTime);
      frame += out[0].length;
    };
    this.backend = "script";
  }

  // A message for the buffer, in whichever thread it runs.
  toBuffer(msg, transfer) {
    if (this.buffer) this.buffer.onMessage(msg);
    else if (this.node) this.node.port.postMessage(msg, transfer || []);
  }

  async stop() {
    if (this.ctx && this.ctx.state === "running") await this.ctx.suspend();
    this.flush();
  }

  // After each hello: the engine's rate and channels; the buffer starts empty.
  configure(rate, channels) {
    const changed = rate !== this.rate || channels !== this.channels;
    this.rate = rate;
    this.channels = channels;
    this.meter = new JitterMeter(rate);
    this.targetMs = bufferTarget(0, 0, this.targetOptions);
    if (this.node && changed) this.sendConfig();
    else this.flush();
  }

  sendConfig() {
    this.toBuffer({ type: "config", rate: this.rate, channels: this.channels,
      target: this.targetFrames() });
    this.firstAudible = null;
  }

  targetFrames() {
    return Math.round((this.targetMs / 1000) * this.rate);
  }

  flush() {
    if (this.meter) this.meter.reset();
    this.firstAudible = null;
    this.toBuffer({ type: "flush" });
  }

  // Why no audio is coming ("paused", "disconnected") or null: running dry is then no underrun.
  setGap(reason) {
    if (reason === this.gap) return;
    if (this.gap && !reason && this.meter) this.meter.reset(); // the stream's timing restarts
    this.gap = reason;
    this.toBuffer({ type: "gap", reason });
  }

  // A decoded audio block: measure its arrival, hand it to the worklet (when listening).
  push(frame, nowMs) {
    if (!this.meter) return;
    this.meter.arrival(nowMs, frame.sample, frame.frames);
    const target = bufferTarget(this.meter.jitterMs(), this.meter.blockMs(), this.targetOptions);
    if (Math.abs(target - this.targetMs) >= 5) {
      this.targetMs = target;
      this.toBuffer({ type: "target", frames: this.targetFrames() });
    }
    if (this.node && this.running) {
      this.toBuffer({ type: "audio", sample: frame.sample, pcm: frame.pcm }, [frame.pcm.buffer]);
    }
  }

  // Seconds between a sample leaving the worklet and leaving the speaker.
  outputLatency() {
    if (!this.ctx) return 0;
    return (this.ctx.baseLatency || 0) + (this.ctx.outputLatency || 0);
  }

  fromWorklet(m) {
    if (m.type === "report") {
      this.report = m;
      this.onReport(m);
    } else if (m.type === "first-audible") {
      this.firstAudible = { pageMs: this.heardAt(m.time), time: m.time };
      this.onFirstAudible(this.firstAudible);
    }
  }

  // performance.now() at which context time `time` reaches the speaker.
  heardAt(time) {
    const ts = this.ctx.getOutputTimestamp ? this.ctx.getOutputTimestamp() : null;
    if (ts && ts.performanceTime > 0) return ts.performanceTime + (time - ts.contextTime) * 1000;
    return performance.now() + (time - this.ctx.currentTime + this.outputLatency()) * 1000;
  }

  jitterMs() {
    return this.meter ? this.meter.jitterMs() : 0;
  }
}
