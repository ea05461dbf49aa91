// The page: connects to the engine that served it, plays the stream, steers it.
//
// URL options: ?format=s16le|f32le (audio on the wire; s16le halves the bytes),
// ?rate=engine|NUMBER (the AudioContext's rate; default: the device's own, the worklet
// resamples), ?buffer=MS (the jitter buffer's minimum), ?output=script (play through a
// ScriptProcessorNode, as pages that are not a secure context must).
//
// window.presto holds what the page knows (connection, worklet reports, jitter, latency,
// acks, errors, MIDI counts) for debugging and for the tests that drive this page in
// headless Chromium.

import { Connection } from "./connection.js";
import { LevelMeter } from "./meter.js";
import { MidiBridge } from "./midi.js";
import { Player } from "./player.js";
import { authMessage, socketUrl } from "./protocol.js";
import { Spectrogram } from "./spectrogram.js";
import { ChangeLog, ControlSender } from "./steering.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const TOKEN_KEY = "presto-live.control-token";

const presto = {
  status: "connecting", connections: 0, hello: null, state: null, report: null,
  audio: { blocks: 0, bytes: 0, frames: 0, skips: 0, energy: 0, values: 0 },
  firstAudibleMs: null, listening: false,
  jitterMs: 0, targetMs: 0, latencyMs: null, control: null, authorized: false,
  joined: null, // {liveSample: the hello's live edge, firstBlock: the first block's sample}
  output: null, // "worklet" | "script": where the jitter buffer runs
  errors: [], acks: [], lastClose: null, midi: null, spectrogram: null,
};
window.presto = presto;

// ---- the parts ------------------------------------------------------------------------------

const contextRate = params.get("rate");
const player = new Player({
  contextRate: contextRate && contextRate !== "engine" ? Number(contextRate) : null,
  minMs: params.has("buffer") ? Number(params.get("buffer")) : undefined,
  output: params.get("output") || "auto",
});
const log = new ChangeLog();
const conn = new Connection(socketUrl(location, params.get("format") || "s16le"), {
  onHello, onAudio, onMessage, onStatus, onProtocolError: (e) => showError("protocol", e.message),
});
const sender = new ControlSender((msg) => conn.send(msg), log);
const midi = new MidiBridge((id, messages) => conn.send({ type: "midi", id, messages }));
const spectrogram = new Spectrogram($("spectrogram"));
const meter = new LevelMeter($("meter-bar"), $("meter-peak"), $("meter-label"));
let newest = null; // {start, arrivalMs}: the newest audio block received
let authId = 0;

// ---- connection -----------------------------------------------------------------------------

function onStatus(status, c) {
  presto.status = status;
  presto.lastClose = c.lastClose;
  const badge = $("conn");
  badge.dataset.status = status;
  badge.textContent = status;
  let detail = "";
  if (status === "reconnecting" && c.lastClose) {
    const secs = c.retryAt ? Math.max(0, (c.retryAt - performance.now()) / 1000) : 0;
    detail = `${c.lastClose.reason}; retrying in ${secs.toFixed(1)} s (attempt ${c.attempt})`;
  }
  $("conn-detail").textContent = detail;
  player.setGap(status === "live" ? gapReason() : "disconnected");
}

function onHello(hello, c) {
  // a restarted engine numbers its samples from 0 again (read before the buffer is reset)
  const played = presto.report ? presto.report.playing ?? presto.report.newest : null;
  const restarted = played === null || hello.live_sample < played;
  presto.hello = hello;
  presto.connections = c.connections;
  presto.control = hello.control;
  presto.authorized = hello.control === "open";
  newest = null;
  presto.joined = { liveSample: hello.live_sample, firstBlock: null };
  player.configure(hello.sample_rate, hello.channels);
  if (c.connections > 1) {
    sender.reconnected(restarted);
    midi.reconnected();
    note(`reconnected: rejoined the stream at the live edge (sample ${hello.live_sample})`);
  }
  $("model").textContent = `${hello.model} on ${hello.provider}, ${hello.sample_rate} Hz`;
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (hello.control === "token" && token) authenticate(token);
  showAccess();
  onState(hello.state, true);
}

function authenticate(token) {
  authId += 1;
  conn.send(authMessage(`auth-${authId}`, token));
}

function onAudio(frame, nowMs) {
  presto.audio.blocks += 1;
  presto.audio.frames += frame.frames;
  presto.audio.bytes += frame.pcm.byteLength;
  let e = 0;
  for (let i = 0; i < frame.pcm.length; i++) e += frame.pcm[i] * frame.pcm[i];
  presto.audio.energy += e; // before the worklet takes the samples (transferred)
  presto.audio.values += frame.pcm.length;
  newest = { start: frame.sample, arrivalMs: nowMs };
  if (presto.joined && presto.joined.firstBlock === null) presto.joined.firstBlock = frame.sample;
  player.push(frame, nowMs);
  presto.jitterMs = player.jitterMs();
  presto.targetMs = player.targetMs;
}

function onMessage(msg) {
  switch (msg.type) {
    case "state": onState(msg, false); break;
    case "ack": {
      midi.answered(msg.id);
      const item = sender.ack(msg);
      presto.acks.push({ id: msg.id, applied_at_sample: msg.applied_at_sample, at: item.ackMs });
      if (presto.acks.length > 50) presto.acks.shift();
      break;
    }
    case "error": onError(msg); break;
    case "auth":
      if (msg.ok) {
        presto.authorized = true;
        note("control token accepted: you can steer");
        showAccess();
      }
      break;
    case "skip":
      presto.audio.skips += 1;
      if (player.meter) player.meter.reset(); // the arrival offsets jump with the numbering
      note(`the engine skipped this page ${msg.frames} samples ahead (${msg.reason})`);
      break;
    case "midi": midi.reply(msg); break;
    case "midi_out": midi.feedback(msg.messages); break;
    default: break; // pong and anything newer than this page
  }
}

function onError(msg) {
  midi.answered(msg.id);
  sender.error(msg);
  if (msg.code === "unauthorized" && typeof msg.id === "string" && msg.id.startsWith("auth-")) {
    sessionStorage.removeItem(TOKEN_KEY);
    presto.authorized = false;
    showAccess();
  }
  showError(msg.code, msg.message, msg.field);
}

// ---- errors and notes -----------------------------------------------------------------------

let bannerTimer = null;

function showError(code, message, field) {
  presto.errors.push({ code, message, field, at: Date.now() });
  if (presto.errors.length > 50) presto.errors.shift();
  addMessage(`${code}${field ? ` (${field})` : ""}: ${message}`, "error");
  const banner = $("banner");
  banner.textContent = `The engine said: ${message}`;
  banner.hidden = false;
  clearTimeout(bannerTimer);
  bannerTimer = setTimeout(() => { banner.hidden = true; }, 10000);
}

function note(text) {
  addMessage(text, "note");
}

function addMessage(text, kind) {
  const li = document.createElement("li");
  li.className = kind;
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  const list = $("errors");
  list.prepend(li);
  while (list.children.length > 30) list.lastChild.remove();
}

// ---- engine state ---------------------------------------------------------------------------

const touched = new Map(); // control key -> performance.now() of the last local edit

function recentlyEdited(key) {
  return key in sender.pending || performance.now() - (touched.get(key) || -1e9) < 1500;
}

function gapReason() {
  return presto.state && presto.state.playing === false ? "paused" : null;
}

function onState(state, fromHello) {
  const before = presto.state;
  presto.state = { ...(before || {}), ...state };
  const s = presto.state;
  if (conn.status === "live") player.setGap(gapReason());
  for (const key of ["budget", "guidance", "variation"]) {
    if (typeof s[key] === "number" && !recentlyEdited(key)) {
      $(key).value = s[key];
      $(`${key}-out`).textContent = s[key].toFixed(2);
    }
  }
  const seedIdle = !recentlyEdited("seed") && document.activeElement !== $("seed");
  if (typeof s.seed === "number" && seedIdle) {
    $("seed").value = s.seed;
  }
  if (Array.isArray(s.prompts) && !recentlyEdited("prompts") && !blendDirty) showBlend(s.prompts);
  if (!fromHello && state.midi && Array.isArray(state.midi.acks)) {
    for (const a of state.midi.acks) { // the engine's own MIDI input (docs/midi.md)
      if (a.error) showError(a.error, `a MIDI control was refused: ${a.message}`);
      else log.ack({ ...a, id: `engine-${a.id}` }, "engine-midi");
    }
  }
  if (fromHello && s.prompt && !$("prompt").value) $("prompt").placeholder = s.prompt;
  $("en-playing").textContent = s.playing ? "playing" : "paused";
  $("en-steps").textContent = s.steps ?? "-";
  $("en-layers").textContent = typeof s.layer_budget === "number" ? s.layer_budget.toFixed(2) : "-";
  const gov = s.governor;
  $("en-reason").textContent = gov ? `${gov.reason ?? "-"}` : "-";
  $("en-hop").textContent = s.hop_seconds ? `${s.hop_seconds.toFixed(3)} s` : "-";
  $("en-speed").textContent = s.realtime_factor ? `${s.realtime_factor}x real time` : "-";
  $("en-ring").textContent = typeof s.ring_fill_seconds === "number"
    ? `${s.ring_fill_seconds.toFixed(2)} s` : "-";
  $("en-listeners").textContent = s.listeners ?? "-";
  $("en-hops").textContent =
    `${s.hops ?? 0} (${s.restarts ?? 0} redone, ${s.failures ?? 0} failed)`;
  $("en-underruns").textContent = s.underruns ?? "-";
  $("en-prompt").textContent = (s.prompts || []).map(([t, w]) =>
    s.prompts.length > 1 ? `${t} (${Number(w).toFixed(2)})` : t).join(" + ");
}

// ---- access ---------------------------------------------------------------------------------

function showAccess() {
  const can = presto.authorized;
  $("controls").disabled = !can;
  midi.allowed = can;
  $("token-form").hidden = presto.control !== "token";
  let text;
  if (presto.control === "open") text = "Steering is open: every listener may steer this engine.";
  else if (can) text = "Control token accepted for this session: you can steer.";
  else text = "Listening only: this engine needs a control token to steer. Enter it below " +
    "(kept for this browser session).";
  $("access-text").textContent = text;
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const token = $("token").value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token").value = "";
  authenticate(token);
});
$("token-forget").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  if (presto.control === "token") {
    presto.authorized = false;
    showAccess();
    note("control token forgotten: reconnecting as a listener");
    conn.ws && conn.ws.close(1000, "token forgotten");
  }
});

// ---- steering -------------------------------------------------------------------------------

function edit(key, settings) {
  touched.set(key, performance.now());
  sender.set(settings);
}

for (const key of ["budget", "guidance", "variation"]) {
  $(key).addEventListener("input", () => {
    const v = Number($(key).value);
    $(`${key}-out`).textContent = v.toFixed(2);
    edit(key, { [key]: v });
  });
}

$("prompt-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("prompt").value.trim();
  if (!text) return showError("bad_value", "the prompt is empty: describe the music", "prompt");
  blendDirty = false;
  edit("prompts", { prompt: text });
});
$("prompt").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    $("prompt-form").requestSubmit();
  }
});

$("seed-send").addEventListener("click", () => sendSeed(Number($("seed").value)));
$("seed-new").addEventListener("click", () => {
  const seed = Math.floor(Math.random() * 2147483647);
  $("seed").value = seed;
  sendSeed(seed);
});
$("seed").addEventListener("keydown", (e) => {
  if (e.key === "Enter") sendSeed(Number($("seed").value));
});

function sendSeed(seed) {
  edit("seed", { seed }); // a seed out of range is the engine's to refuse, with its message
}

for (const action of ["play", "pause", "reset"]) {
  $(action).addEventListener("click", () => sender.playback(action));
}

// The blend: rows of [text, weight]. Moving a weight sends the blend at once; edited texts
// go with "Send blend" (or Enter in a row).
let blendDirty = false;

function showBlend(prompts) {
  const list = $("blend-list");
  list.replaceChildren();
  for (const [text, weight] of prompts) addBlendRow(text, weight);
}

function addBlendRow(text = "", weight = 1) {
  const li = document.createElement("li");
  li.innerHTML = `<input type="text" aria-label="blend prompt">
    <input type="range" min="0" max="1" step="0.01" aria-label="weight">
    <output></output><button type="button" class="quiet" aria-label="remove">&times;</button>`;
  const [textIn, weightIn, out, remove] = li.children;
  textIn.value = text;
  weightIn.value = Math.min(1, weight);
  out.textContent = Number(weight).toFixed(2);
  textIn.addEventListener("input", () => { blendDirty = true; });
  textIn.addEventListener("keydown", (e) => { if (e.key === "Enter") sendBlend(); });
  weightIn.addEventListener("input", () => {
    out.textContent = Number(weightIn.value).toFixed(2);
    if (!blendDirty) sendBlend();
  });
  remove.addEventListener("click", () => { li.remove(); blendDirty = true; });
  $("blend-list").append(li);
  return li;
}

function blendRows() {
  return Array.from($("blend-list").children).map((li) => [li.children[0].value.trim(),
    Number(li.children[1].value)]).filter(([text]) => text);
}

function sendBlend() {
  const prompts = blendRows();
  if (!prompts.length) return showError("bad_value", "the blend is empty: add a prompt", "prompts");
  blendDirty = false;
  edit("prompts", { prompts });
}

$("blend-add").addEventListener("click", () => {
  blendDirty = true;
  addBlendRow("", 0.5).children[0].focus();
});
$("blend-send").addEventListener("click", sendBlend);

// ---- changes: sent, applies at, heard ---------------------------------------------------------

function describe(item) {
  const w = item.what;
  if (item.kind === "playback") return w.action;
  return Object.entries(w).map(([k, v]) => {
    if (k === "prompts") {
      return `blend ${v.map(([t, x]) => `${t} ${Number(x).toFixed(2)}`).join(" + ")}`;
    }
    if (k === "prompt") return `prompt "${v}"`;
    return `${k} ${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(2) : v}`;
  }).join(", ");
}

function when(item, rate) {
  const t = (ms) => {
    const at = performance.timeOrigin + ms;
    const millis = String(Math.floor(at % 1000)).padStart(3, "0");
    return `${new Date(at).toLocaleTimeString(undefined, { hour12: false })}.${millis}`;
  };
  switch (item.status) {
    case "sent": return `sent ${t(item.sentMs)}, waiting for the engine`;
    case "acked": {
      const playing = presto.report && presto.report.playing;
      const base = `applies at sample ${item.appliedAt}`;
      if (playing === null || playing === undefined || !rate) return `${base} (listen to hear it)`;
      return `${base}: heard in ${Math.max(0, (item.appliedAt - playing) / rate).toFixed(1)} s`;
    }
    case "heard": return `heard ${t(item.heardMs)}, ` +
      `${((item.heardMs - item.sentMs) / 1000).toFixed(2)} s ` +
      `after it was sent (sample ${item.appliedAt}${item.restarted ? ", hop redone" : ""})`;
    case "error": return `refused: ${item.error.message}`;
    case "lost": return item.status === "lost" && item.appliedAt !== null
      ? "not heard: the engine restarted before it played"
      : "no answer: the connection was lost before the engine answered";
    default: return item.status;
  }
}

let drawnVersion = -1;

function drawChanges(force) {
  const waiting = log.items.some((i) => i.status === "acked"); // their countdowns move
  if (!force && log.version === drawnVersion && !waiting) return;
  drawnVersion = log.version;
  const rate = presto.hello ? presto.hello.sample_rate : 0;
  const list = $("change-list");
  list.replaceChildren(...log.items.slice().reverse().map((item) => {
    const li = document.createElement("li");
    li.dataset.status = item.status;
    li.dataset.id = item.id;
    const what = document.createElement("span");
    what.className = "what";
    const origin = { midi: "MIDI: ", "engine-midi": "MIDI (engine): " }[item.origin] || "";
    what.textContent = `${origin}${describe(item)}`;
    const w = document.createElement("span");
    w.className = "when";
    w.textContent = when(item, rate);
    li.append(what, w);
    return li;
  }));
}

// ---- playback and what it shows ------------------------------------------------------------

player.onReport = (r) => {
  presto.report = r;
  meter.update(r.rms, r.peak);
  const rate = r.rate;
  if (r.playing !== null) log.update(r.playing, rate, r.time, (t) => player.heardAt(t));
  const now = performance.now();
  if (newest && r.playing !== null) {
    const rtt = conn.rttMs || 0;
    // the server sends each block when its first sample is due: its live position now
    const edge = newest.start + ((now - newest.arrivalMs) / 1000) * rate;
    presto.latencyMs = ((edge - r.playing) / rate) * 1000 + rtt / 2 + player.outputLatency() * 1000;
  } else {
    presto.latencyMs = null;
  }
  $("st-buffered").textContent = `${((r.buffered / rate) * 1000).toFixed(0)} ms`;
  $("st-target").textContent = `${player.targetMs.toFixed(0)} ms`;
  $("st-jitter").textContent = `${player.jitterMs().toFixed(1)} ms`;
  $("st-latency").textContent =
    presto.latencyMs === null ? "-" : `${presto.latencyMs.toFixed(0)} ms`;
  $("st-underruns").textContent = `${r.underruns}` +
    (r.underruns ? ` (${((r.underrunFrames / rate) * 1000).toFixed(0)} ms)` : "");
  $("st-rates").textContent = r.contextRate === rate ? `${rate} Hz`
    : `${rate} -> ${r.contextRate} Hz (resampled)`;
  $("st-rates").title = `output: ${player.backend === "script" ? "ScriptProcessorNode"
    : "AudioWorklet"}`;
  const received = presto.audio.frames / (presto.hello?.sample_rate || 1);
  $("st-received").textContent = `${received.toFixed(1)} s`;
  drawChanges(false);
};

player.onFirstAudible = (f) => {
  presto.firstAudibleMs = f.pageMs;
  $("st-first").textContent = `${(f.pageMs / 1000).toFixed(2)} s`;
  $("st-first").title = "from page load to the first audible sample";
};

const noted = {};

async function listen() {
  try {
    const ok = await player.start();
    presto.listening = ok;
    presto.output = player.backend;
    if (player.backend === "script" && !noted.script) {
      noted.script = true;
      note(window.isSecureContext ? "playing through a ScriptProcessorNode (?output=script)"
        : "this page is not a secure context (plain http to another machine): audio plays " +
          "through a ScriptProcessorNode on the page's thread and Web MIDI is unavailable; " +
          "open it over https or on localhost for the AudioWorklet");
    }
    if (ok && !spectrogram.analyser) {
      spectrogram.attach(player.analyser);
      spectrogram.start();
      presto.spectrogram = spectrogram;
    }
  } catch (error) {
    showError("audio", `could not start audio output: ${error.message}`);
  }
  $("listen").textContent = presto.listening ? "Stop" : "Listen";
  $("listen-hint").hidden = presto.listening;
}

$("listen").addEventListener("click", async () => {
  if (presto.listening) {
    presto.listening = false;
    await player.stop();
    $("listen").textContent = "Listen";
    $("listen-hint").hidden = false;
  } else {
    await listen();
  }
});

// ---- MIDI -----------------------------------------------------------------------------------

function showMidi() {
  presto.midi = { ...midi.counts, inputs: midi.inputs(), selected: midi.selected,
    inFlight: midi.inFlight.size, allowed: midi.allowed };
  if (!midi.available) {
    $("midi-text").textContent = "No Web MIDI here: Chrome and Edge offer it on secure pages " +
      "(https, or the engine's page opened as localhost).";
    $("midi-enable").hidden = true;
    return;
  }
  const inputs = midi.inputs();
  if (!midi.access) {
    $("midi-text").textContent = "Plug in a controller and press the button: the engine maps " +
      "it with its own MIDI mapping (knobs for budget and guidance, faders for blend weights, " +
      "pads for presets).";
  } else {
    $("midi-text").textContent = inputs.length
      ? `${inputs.length} input${inputs.length > 1 ? "s" : ""}: ` +
        inputs.map((p) => p.name).join(", ")
      + (midi.allowed ? "" : " (held back: steering needs the control token)")
      : "No MIDI input is plugged in.";
    const select = $("midi-input");
    select.hidden = false;
    const opts = [["all", "all inputs"], ...inputs.map((p) => [p.id, p.name])];
    if (select.options.length !== opts.length) {
      select.replaceChildren(...opts.map(([v, t]) => new Option(t, v, false, v === midi.selected)));
    }
  }
  const c = midi.counts;
  const hex = (bytes) => bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ");
  const last = midi.last ? ` last ${hex(midi.last)}` : "";
  $("midi-stats").textContent = `received ${c.received}, forwarded ${c.forwarded} in ` +
    `${c.batches} batches, ${c.controls} controls${last}`;
}

midi.onChange = showMidi;
$("midi-enable").addEventListener("click", async () => {
  try {
    await midi.enable();
    $("midi-enable").hidden = true;
  } catch (error) {
    showError("midi", `MIDI is not available: ${error.message}`);
  }
  showMidi();
});
$("midi-input").addEventListener("change", (e) => midi.select(e.target.value));

// ---- start ----------------------------------------------------------------------------------

setInterval(() => {
  if (conn.status === "reconnecting") onStatus(conn.status, conn);
  drawChanges(false);
}, 250);
showAccess();
showMidi();
conn.open();
listen(); // plays at once where the browser allows it; otherwise the Listen button does
