// The level meter: RMS and peak in dBFS from the worklet's reports, with a falling peak hold.
//
//   const meter = new LevelMeter(barElement, peakElement, labelElement);
//   meter.update(report.rms, report.peak);     // ~20 times a second

export const FLOOR_DB = -90;

export function toDb(x) {
  return x > 0 ? Math.max(FLOOR_DB, 20 * Math.log10(x)) : FLOOR_DB;
}

export class LevelMeter {
  constructor(bar, peak, label) {
    this.bar = bar;
    this.peak = peak;
    this.label = label;
    this.holdDb = FLOOR_DB;
    this.holdUntil = 0;
  }

  update(rms, peak) {
    const now = performance.now();
    const rmsDb = toDb(rms);
    const peakDb = toDb(peak);
    if (peakDb >= this.holdDb || now > this.holdUntil) {
      this.holdDb = peakDb >= this.holdDb ? peakDb : Math.max(peakDb, this.holdDb - 1.5);
      if (peakDb >= this.holdDb) this.holdUntil = now + 1000;
    }
    const pct = (db) => `${(100 * (db - FLOOR_DB)) / -FLOOR_DB}%`;
    this.bar.style.width = pct(rmsDb);
    this.peak.style.left = pct(this.holdDb);
    this.label.textContent = rms > 0 ? `${(20 * Math.log10(rms)).toFixed(1)} dBFS` : "silence";
  }
}
