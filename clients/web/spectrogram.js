// A scrolling spectrogram of what is playing: one column per animation frame.
//
//   const spec = new Spectrogram(canvas);
//   spec.attach(player.analyser);   // an AnalyserNode after the worklet
//   spec.start();                   // draws until stop()
//
// Frequencies run up the canvas on a log scale from `lowHz` to `highHz`; levels through a
// colour ramp from black at `rangeDb` below the top to pale yellow at the top, which
// follows the loudest bin of the last seconds (between -100 and 0 dBFS): quiet and loud
// streams both fill the picture. The counters (columns drawn, loudest bin) let a test see
// that something was drawn.

export class Spectrogram {
  constructor(canvas, { lowHz = 40, highHz = 16000, rangeDb = 70 } = {}) {
    this.canvas = canvas;
    this.g = canvas.getContext("2d", { alpha: false });
    this.lowHz = lowHz;
    this.highHz = highHz;
    this.rangeDb = rangeDb;
    this.topDb = -30; // follows the loudest bin: up at once, down slowly
    this.analyser = null;
    this.bins = null;
    this.rows = null; // for each canvas row (top = 0): [bin lo, bin hi]
    this.lut = colourRamp(256);
    this.running = false;
    this.columns = 0;
    this.loudestDb = -Infinity; // of the last column
    this.g.fillStyle = "#000";
    this.g.fillRect(0, 0, canvas.width, canvas.height);
  }

  attach(analyser) {
    this.analyser = analyser;
    this.bins = new Float32Array(analyser.frequencyBinCount);
    const h = this.canvas.height;
    const nyquist = analyser.context.sampleRate / 2;
    const hz = (bin) => (bin * nyquist) / analyser.frequencyBinCount;
    const binOf = (f) => Math.min(analyser.frequencyBinCount - 1, Math.max(1, Math.round(
      (f / nyquist) * analyser.frequencyBinCount)));
    const high = Math.min(this.highHz, hz(analyser.frequencyBinCount - 1));
    this.rows = [];
    for (let y = 0; y < h; y++) {
      const f0 = this.lowHz * (high / this.lowHz) ** ((h - 1 - y) / h);
      const f1 = this.lowHz * (high / this.lowHz) ** ((h - y) / h);
      const lo = binOf(f0);
      this.rows.push([lo, Math.max(lo, binOf(f1))]);
    }
    this.column = this.g.createImageData(1, h);
  }

  start() {
    if (this.running) return;
    this.running = true;
    const frame = () => {
      if (!this.running) return;
      this.draw();
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }

  stop() {
    this.running = false;
  }

  draw() {
    if (!this.analyser) return;
    const { canvas, g, bins, rows, column, lut } = this;
    this.analyser.getFloatFrequencyData(bins);
    const w = canvas.width;
    g.drawImage(canvas, 1, 0, w - 1, canvas.height, 0, 0, w - 1, canvas.height);
    const floor = this.topDb - this.rangeDb;
    let loudest = -Infinity;
    for (let y = 0; y < rows.length; y++) {
      const [lo, hi] = rows[y];
      let db = -Infinity;
      for (let b = lo; b <= hi; b++) if (bins[b] > db) db = bins[b];
      if (db > loudest) loudest = db;
      const v = Math.max(0, Math.min(255, Math.round(((db - floor) / this.rangeDb) * 255)));
      const o = 4 * y;
      column.data[o] = lut[3 * v];
      column.data[o + 1] = lut[3 * v + 1];
      column.data[o + 2] = lut[3 * v + 2];
      column.data[o + 3] = 255;
    }
    g.putImageData(column, w - 1, 0);
    this.columns += 1;
    this.loudestDb = loudest;
    if (Number.isFinite(loudest)) {
      const top = Math.max(-100, Math.min(0, loudest));
      this.topDb = top > this.topDb ? top : this.topDb + (top - this.topDb) * 0.005;
    }
  }
}

// 256 RGB triples: black -> deep blue -> magenta -> orange -> pale yellow.
function colourRamp(n) {
  const stops = [[0, 0, 0], [20, 20, 90], [140, 30, 130], [235, 110, 40], [255, 240, 180]];
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    const x = (i / (n - 1)) * (stops.length - 1);
    const k = Math.min(stops.length - 2, Math.floor(x));
    const t = x - k;
    for (let c = 0; c < 3; c++) {
      out[3 * i + c] = Math.round(stops[k][c] * (1 - t) + stops[k + 1][c] * t);
    }
  }
  return out;
}
