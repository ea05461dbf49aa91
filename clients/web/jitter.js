// Network jitter, measured from audio arrivals, and the jitter-buffer target it asks for.
//
//   const meter = new JitterMeter(44100);
//   meter.arrival(performance.now(), frame.sample, frame.frames);   // every audio block
//   const ms = bufferTarget(meter.jitterMs(), meter.blockMs());     // what to keep queued
//
// The server sends block j at t0 + j * block / rate (a real-time clock), so the arrival
// time minus the block's stream time (its first sample / rate) is a constant plus what the
// network, the server's event loop and this page's main thread added. The spread of that
// offset over the last `windowSeconds` (peak to peak: an underrun happens at the worst
// moment, not the average one) is the jitter the buffer must absorb, on top of one block:
// blocks arrive whole, so the fill saw-tooths by a block between arrivals.

export const DEFAULTS = Object.freeze({
  minMs: 150, // never less (a render quantum, timer slop, a GC pause)
  maxMs: 3000, // never more: past this, listening is no longer live
  k: 1.5, // jitter multiplier
  safetyMs: 20,
});

export class JitterMeter {
  constructor(rate, windowSeconds = 10, warmup = 3) {
    this.rate = rate;
    this.windowMs = windowSeconds * 1000;
    this.warmup = warmup; // arrivals after a reset left out: a page still loading delays them
    this.reset();
  }

  reset() {
    this.offsets = []; // [arrival ms, offset ms]
    this.seen = 0;
    this.lastArrival = null;
    this.lastFrames = 0;
    this.intervals = 0;
    this.intervalSum = 0;
  }

  arrival(nowMs, sample, frames) {
    const offset = nowMs - (sample / this.rate) * 1000;
    this.seen += 1;
    if (this.seen > this.warmup) this.offsets.push([nowMs, offset]);
    while (this.offsets.length && this.offsets[0][0] < nowMs - this.windowMs) this.offsets.shift();
    if (this.lastArrival !== null) {
      this.intervals += 1;
      this.intervalSum += nowMs - this.lastArrival;
    }
    this.lastArrival = nowMs;
    this.lastFrames = frames;
  }

  // Peak-to-peak spread of the arrival offsets in the window (0 with fewer than 2 blocks).
  jitterMs() {
    if (this.offsets.length < 2) return 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (const [, o] of this.offsets) {
      if (o < lo) lo = o;
      if (o > hi) hi = o;
    }
    return hi - lo;
  }

  // Duration of the last block received (ms).
  blockMs() {
    return (this.lastFrames / this.rate) * 1000;
  }

  meanIntervalMs() {
    return this.intervals ? this.intervalSum / this.intervals : 0;
  }
}

// The jitter buffer's target fill (ms): max(min, block + k * jitter + safety), at most max.
export function bufferTarget(jitterMs, blockMs, options = {}) {
  const o = { ...DEFAULTS, ...options };
  const want = blockMs + o.k * jitterMs + o.safetyMs;
  return Math.min(o.maxMs, Math.max(o.minMs, want));
}
