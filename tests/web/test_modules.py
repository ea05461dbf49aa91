"""The page's pure modules (clients/web: protocol.js, jitter.js, steering.js) imported in
a real Chromium page."""

from __future__ import annotations

import struct

import numpy as np
import pytest


def test_audio_messages_decode_as_the_protocol_lays_them_out(blank) -> None:
    body = np.array([[0.5, -0.5], [0.25, 1.0], [0.0, -1.0]], "<f4")  # 3 frames x 2 channels
    f32 = struct.pack("<4sBBBBIQI", b"PRST", 1, 2, 1, 0, 9, 2**40 + 5, 3) + body.tobytes()
    s16 = struct.pack("<4sBBBBIQI", b"PRST", 1, 1, 2, 0, 10, 7, 2) + \
        np.array([16384, -32767], "<i2").tobytes()
    out = blank.evaluate("""async ([f32, s16, bad]) => {
        const { decodeAudio } = await import("/protocol.js");
        const buf = (a) => new Uint8Array(a).buffer;
        const errors = [];
        for (const b of bad) {
          try { decodeAudio(buf(b)); errors.push(null); } catch (e) { errors.push(e.message); }
        }
        const a = decodeAudio(buf(f32)), b = decodeAudio(buf(s16));
        return { a: { ...a, pcm: Array.from(a.pcm) }, b: { ...b, pcm: Array.from(b.pcm) }, errors };
    }""", [list(f32), list(s16), [list(f32[:20]), list(b"XXXX" + f32[4:]), list(f32[:-4])]])
    a, b = out["a"], out["b"]
    assert (a["seq"], a["sample"], a["frames"], a["channels"], a["fmt"]) == \
        (9, 2**40 + 5, 3, 2, "f32le")
    assert a["pcm"] == body.reshape(-1).tolist()  # interleaved, as sent
    assert (b["seq"], b["sample"], b["frames"], b["fmt"]) == (10, 7, 2, "s16le")
    assert b["pcm"] == pytest.approx([0.5, -1.0], abs=1e-4)
    assert "shorter than the 24-byte header" in out["errors"][0]
    assert "PRST" in out["errors"][1] and "frames" in out["errors"][2]


def test_the_buffer_target_follows_the_measured_jitter(blank) -> None:
    out = blank.evaluate("""async () => {
        const { JitterMeter, bufferTarget } = await import("/jitter.js");
        const rate = 44100, block = 4096, period = 1000 * block / rate;
        const steady = new JitterMeter(rate), shaky = new JitterMeter(rate);
        for (let j = 0; j < 100; j++) {
          steady.arrival(1000 + j * period, j * block, block);
          shaky.arrival(1000 + j * period + (j % 10 === 5 ? 120 : 0), j * block, block);
        }
        const old = new JitterMeter(rate);  // a late block 11 s ago has left the window
        old.arrival(0, 0, block); old.arrival(1, 0, block); old.arrival(2, 0, block);
        old.arrival(3, 0, block);
        old.arrival(11000 + 400, 11000 * rate / 1000, block);
        old.arrival(11100, (11100 - 3) * rate / 1000, block);
        return { steady: steady.jitterMs(), shaky: shaky.jitterMs(), old: old.jitterMs(),
                 tSteady: bufferTarget(steady.jitterMs(), steady.blockMs()),
                 tShaky: bufferTarget(shaky.jitterMs(), shaky.blockMs()),
                 tHuge: bufferTarget(10000, 93), tMin: bufferTarget(0, 0, { minMs: 80 }) };
    }""")
    assert out["steady"] == pytest.approx(0, abs=1e-6)
    assert out["shaky"] == pytest.approx(120, abs=1e-6)
    assert out["old"] == pytest.approx(400 - 3, abs=1e-6)  # only the two recent arrivals
    assert out["tSteady"] == 150  # the minimum: one block (93 ms) + 20 ms is less
    assert out["tShaky"] == pytest.approx(4096 / 44.1 + 1.5 * 120 + 20)
    assert out["tHuge"] == 3000 and out["tMin"] == 80


def test_slider_storms_become_few_control_messages_and_the_last_value_goes(blank) -> None:
    out = blank.evaluate("""async () => {
        const { ChangeLog, ControlSender } = await import("/steering.js");
        const sent = [];
        const log = new ChangeLog();
        const sender = new ControlSender((m) => { sent.push(m); return true; }, log,
                                         { minIntervalMs: 50, maxInFlight: 2 });
        const pause = (ms) => new Promise((r) => setTimeout(r, ms));
        sender.set({ budget: 0 });
        await pause(20);
        for (let i = 1; i <= 100; i++) sender.set({ budget: i / 100 });
        sender.set({ guidance: 3 });
        await pause(150);
        sender.set({ variation: 0.5 });
        await pause(200);
        const before = sent.length;          // 2 in flight: the rest waits for an ack
        sender.ack({ type: "ack", id: sent[0].id, applied_at_sample: 1000 });
        await new Promise((r) => setTimeout(r, 200));
        log.update(1500, 100, 10, (t) => t * 1000);
        return { sent, before, items: log.items };
    }""")
    sent = out["sent"]
    assert out["before"] == 2 and len(sent) == 3
    assert sent[0]["set"] == {"budget": 0.0}
    assert sent[1]["set"] == {"budget": 1.0, "guidance": 3}  # a storm: its last values
    assert sent[2]["set"] == {"variation": 0.5}  # held until an answer, then sent
    heard = out["items"][0]
    assert heard["status"] == "heard" and heard["appliedAt"] == 1000
    assert heard["heardMs"] == pytest.approx((10 - 500 / 100) * 1000)
