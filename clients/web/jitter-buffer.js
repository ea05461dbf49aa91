// The jitter buffer behind the page's audio output, free of any audio API.
//
//   const jb = new JitterBuffer(48000, {rate: 44100, channels: 1, target: 11025}, post);
//   jb.onMessage({type: "audio", sample: 88064, pcm: float32Interleaved});
//   jb.render([left, right], frame, time);    // fills the output arrays
//
// player-worklet.js runs it in an AudioWorklet (the audio thread); player.js runs it in a
// ScriptProcessorNode where AudioWorklet is missing (pages served over plain http to other
// machines are not a secure context, and AudioWorklet needs one).
//
// The ring holds the engine's samples at the engine's rate; render() reads it at
// rate / contextRate engine frames per output frame (4-point cubic Hermite interpolation),
// so an engine at 44.1 kHz plays on a 48 kHz context at the right pitch. A small drift
// correction (at most `drift`, default 0.5 %) nudges that ratio so the fill stays near
// the target: the server's clock and the sound card's are never quite the same.
//
// States: "idle" (nothing to play), "buffering" (waiting until the fill reaches the
// target), "playing". Running dry while playing is an underrun (counted, with the missing
// time) and the buffer refills to the target before it plays again, faded in. Running dry
// while a gap is expected (the engine paused, the connection is down) is not an underrun.
// A fill far above the target (a burst after a stall) is trimmed to the target (counted
// as a trim) so latency stays bounded.
//
// Messages in (onMessage): config {rate, channels, target, drift?}, audio {sample, pcm},
// target {frames}, gap {reason: "paused" | "disconnected" | null}, flush {}.
// Messages out (post): report (every ~50 ms), first-audible (once per flush).

const REPORT_SECONDS = 0.05;
const FADE_SECONDS = 0.004;
const SILENT = 1e-6; // -120 dBFS: the first sample above this is the first sound

export class JitterBuffer {
  // contextRate: the output's sample rate; post(message): where reports go
  constructor(contextRate, opts = {}, post = () => {}) {
    this.sampleRate = contextRate;
    this.post = post;
    this.channels = 1;
    this.rate = contextRate; // the engine's, once configured
    this.capacity = 0;
    this.ring = new Float32Array(0);
    this.target = Math.round(0.25 * contextRate); // engine frames
    this.frame = 0;
    this.time = 0;
    this.endFrame = 0;
    this.endTime = 0;
    this.drift = 0.005;
    this.counts = { underruns: 0, underrunFrames: 0, trims: 0, trimmedFrames: 0, gaps: 0,
      gapFrames: 0, late: 0, overflows: 0, blocks: 0, received: 0, played: 0,
      outputFrames: 0, audibleFrames: 0, producedFrames: 0, energy: 0 };
    this.state = "idle";
    this.gap = null;
    this.resetRing();
    this.level = { sum: 0, n: 0, peak: 0 };
    this.sinceReport = 0;
    this.adj = 0;
    this.fillAvg = 0;
    this.fade = 0; // output frames left in a fade-in
    if (opts.rate) this.configure(opts);
    if (opts.gap) this.gap = opts.gap;
    for (const block of opts.audio || []) this.push(block.sample, block.pcm);
  }

  resetRing() {
    this.write = 0; // absolute engine frames written
    this.read = 0; // absolute read position (fractional)
    this.segments = []; // [ringIndex, streamSample]: where the stream's numbering restarts
    this.nextSample = null; // stream sample expected next
    this.heard = false;
    this.state = "idle";
    this.fillAvg = 0;
    this.adj = 0;
  }

  configure(c) {
    this.rate = c.rate;
    this.channels = c.channels;
    this.capacity = Math.ceil(c.rate * 20); // 20 s: far above any target
    this.ring = new Float32Array(this.capacity * this.channels);
    if (c.target) this.target = c.target;
    if (c.drift !== undefined) this.drift = c.drift;
    this.resetRing();
  }

  onMessage(m) {
    if (m.type === "audio") this.push(m.sample, m.pcm);
    else if (m.type === "config") this.configure(m);
    else if (m.type === "target") this.target = Math.max(1, Math.round(m.frames));
    else if (m.type === "gap") this.gap = m.reason || null;
    else if (m.type === "flush") this.resetRing();
  }

  fill() {
    return this.write - this.read;
  }

  push(sample, pcm) {
    if (!this.capacity) return;
    const c = this.channels;
    const frames = Math.floor(pcm.length / c);
    this.counts.blocks += 1;
    this.counts.received += frames;
    let skip = 0;
    if (this.nextSample !== null && sample < this.nextSample) {
      skip = this.nextSample - sample; // overlaps what we have: keep only the new part
      if (skip >= frames) { this.counts.late += 1; return; }
    }
    if (this.nextSample === null || sample > this.nextSample) {
      if (this.nextSample !== null) {
        this.counts.gaps += 1;
        this.counts.gapFrames += sample - this.nextSample;
      }
      this.segments.push([this.write, sample]);
      if (this.segments.length > 64) this.segments.shift();
    }
    const room = this.capacity - 4 - this.fill();
    const n = frames - skip;
    if (n > room) { // never happens at sane targets: drop the oldest audio
      this.counts.overflows += 1;
      this.read += n - room;
    }
    const ring = this.ring;
    for (let i = skip; i < frames; i++) {
      const slot = (this.write % this.capacity) * c;
      for (let ch = 0; ch < c; ch++) ring[slot + ch] = pcm[i * c + ch];
      this.write += 1;
    }
    this.nextSample = sample + frames;
  }

  // The stream sample index at absolute ring position p (null before any audio).
  streamSample(p) {
    const segs = this.segments;
    for (let k = segs.length - 1; k >= 0; k--) {
      if (segs[k][0] <= p) return segs[k][1] + (p - segs[k][0]);
    }
    return null;
  }

  at(index, ch) {
    return this.ring[(index % this.capacity) * this.channels + ch];
  }

  // Fill `out` (one Float32Array per output channel, all the same length); `frame` and
  // `time` are the output's position (sample frames, seconds) at out[...][0].
  render(out, frame, time) {
    const sampleRate = this.sampleRate;
    const n = out[0].length;
    this.frame = frame;
    this.time = time;
    this.endFrame = frame + n;
    this.endTime = time + n / sampleRate;
    const outCh = out.length;
    const base = this.rate / sampleRate;
    this.counts.outputFrames += n;
    // the interpolation reads frames i-1 .. i+2 around the position i + t
    const needed = Math.ceil(n * base * (1 + this.drift)) + 3;
    if (this.state !== "playing") {
      if (this.fill() >= Math.max(this.target, needed)) {
        this.state = "playing";
        this.fade = Math.round(FADE_SECONDS * sampleRate);
        this.fillAvg = this.fill();
        if (this.read < 1) this.read = 1; // one frame of history for the interpolator
      } else {
        if (this.fill() === 0 && this.state === "buffering" && this.gap) this.state = "idle";
        this.meter(null, n);
        return;
      }
    }
    // trim a large excess (a burst after a stall) instead of carrying it as latency
    const excess = this.fill() - (2 * this.target + Math.round(0.5 * this.rate));
    if (excess > 0) {
      this.read += excess;
      this.counts.trims += 1;
      this.counts.trimmedFrames += excess;
      this.fade = Math.round(FADE_SECONDS * sampleRate);
      this.fillAvg = this.fill();
    }
    // drift correction: the fill's average against the target, a bounded speed nudge
    this.fillAvg += (this.fill() - this.fillAvg) * Math.min(1, n / (2 * sampleRate));
    const err = (this.fillAvg - this.target) / Math.max(this.target, 1);
    this.adj = Math.max(-this.drift, Math.min(this.drift, 0.01 * err));
    const step = base * (1 + this.adj);
    let produced = 0;
    for (let j = 0; j < n; j++) {
      const i = Math.floor(this.read);
      if (i + 2 >= this.write) break; // ran dry
      const t = this.read - i;
      for (let o = 0; o < outCh; o++) {
        const ch = o % this.channels;
        out[o][j] = hermite(this.at(i - 1, ch), this.at(i, ch), this.at(i + 1, ch),
          this.at(i + 2, ch), t);
      }
      if (this.fade > 0) {
        const g = 1 - this.fade / Math.round(FADE_SECONDS * sampleRate);
        for (let o = 0; o < outCh; o++) out[o][j] *= g;
        this.fade -= 1;
      }
      this.read += step;
      produced += 1;
    }
    this.counts.played += produced * step;
    if (produced < n) { // ran dry: fade the last few samples, silence the rest
      const tail = Math.min(produced, 32);
      for (let o = 0; o < outCh; o++) {
        for (let k = 0; k < tail; k++) out[o][produced - tail + k] *= 1 - (k + 1) / tail;
      }
      if (this.gap) {
        this.state = "idle";
      } else {
        this.state = "buffering";
        this.counts.underruns += 1;
        this.counts.underrunFrames += Math.round((n - produced) * base);
      }
    }
    this.meter(out, produced);
  }

  meter(out, produced) {
    const sampleRate = this.sampleRate;
    const lv = this.level;
    if (out) {
      this.counts.producedFrames += produced;
      for (let j = 0; j < produced; j++) {
        const x = out[0][j];
        const a = Math.abs(x);
        lv.sum += x * x;
        this.counts.energy += x * x;
        if (a > lv.peak) lv.peak = a;
        if (a > SILENT) {
          this.counts.audibleFrames += 1;
          if (!this.heard) {
            this.heard = true;
            this.post({ type: "first-audible", frame: this.frame + j,
              time: this.time + j / sampleRate });
          }
        }
      }
    }
    lv.n += out ? out[0].length : produced;
    this.sinceReport += out ? out[0].length : produced;
    if (this.sinceReport >= REPORT_SECONDS * sampleRate) this.report();
  }

  // The state after the block just rendered: `playing` is the stream sample that plays at
  // `time` (context seconds), the end of that block.
  report() {
    const sampleRate = this.sampleRate;
    const lv = this.level;
    const p = Math.floor(this.read);
    this.post({
      type: "report", time: this.endTime, frame: this.endFrame, state: this.state,
      gap: this.gap, playing: this.state === "playing" ? this.streamSample(p) : null,
      newest: this.nextSample, buffered: this.fill(), target: this.target,
      ratio: (this.rate / sampleRate) * (1 + this.adj), adjust: this.adj,
      rms: lv.n ? Math.sqrt(lv.sum / lv.n) : 0, peak: lv.peak, rate: this.rate,
      contextRate: sampleRate, ...this.counts,
    });
    lv.sum = 0;
    lv.n = 0;
    lv.peak = 0;
    this.sinceReport = 0;
  }
}

// 4-point, 3rd-order Hermite (Catmull-Rom) interpolation between x0 and x1 at t in [0, 1).
function hermite(xm1, x0, x1, x2, t) {
  const c1 = 0.5 * (x1 - xm1);
  const c2 = xm1 - 2.5 * x0 + 2 * x1 - 0.5 * x2;
  const c3 = 0.5 * (x2 - xm1) + 1.5 * (x0 - x1);
  return ((c3 * t + c2) * t + c1) * t + x0;
}
