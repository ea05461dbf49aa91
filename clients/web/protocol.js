// Protocol 1 for the page (docs/protocol.md): audio frame decoding and message builders.
//
//   const frame = decodeAudio(arrayBuffer);   // {seq, sample, frames, channels, fmt, pcm}
//   ws.send(JSON.stringify(controlMessage("web-3", {budget: 0.5}, token)));
//
// No I/O and no DOM: app.js feeds it what the WebSocket delivers; the tests import it in
// a real Chromium page.

export const PROTOCOL = 1;
export const HEADER_BYTES = 24; // struct "<4sBBBBIQI"
export const FORMATS = { 1: "f32le", 2: "s16le" };
const MAGIC = [0x50, 0x52, 0x53, 0x54]; // "PRST"
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class ProtocolError extends Error {}

// One binary WebSocket message -> the decoded block. pcm is interleaved float32
// (frames * channels values), a new array the caller may transfer to the worklet.
export function decodeAudio(buffer) {
  if (buffer.byteLength < HEADER_BYTES) {
    throw new ProtocolError(`an audio message of ${buffer.byteLength} bytes is shorter than ` +
      `the ${HEADER_BYTES}-byte header`);
  }
  const view = new DataView(buffer);
  for (let i = 0; i < 4; i++) {
    if (view.getUint8(i) !== MAGIC[i]) throw new ProtocolError("audio message without PRST magic");
  }
  const version = view.getUint8(4);
  const channels = view.getUint8(5);
  const fmt = view.getUint8(6);
  if (version !== PROTOCOL) throw new ProtocolError(`audio protocol ${version}, expected 1`);
  if (!(fmt in FORMATS) || channels < 1) {
    throw new ProtocolError(`audio header with format ${fmt} and ${channels} channels`);
  }
  const seq = view.getUint32(8, true);
  const sample = Number(view.getBigUint64(12, true));
  const frames = view.getUint32(20, true);
  const width = fmt === 1 ? 4 : 2;
  const expected = HEADER_BYTES + frames * channels * width;
  if (buffer.byteLength !== expected) {
    throw new ProtocolError(`audio message of ${buffer.byteLength} bytes for ${frames} frames ` +
      `x ${channels} channels x ${width} bytes`);
  }
  const n = frames * channels;
  let pcm;
  if (fmt === 1 && LITTLE_ENDIAN) {
    pcm = new Float32Array(buffer.slice(HEADER_BYTES)); // the header keeps it 4-byte aligned
  } else if (fmt === 1) {
    pcm = new Float32Array(n);
    for (let i = 0; i < n; i++) pcm[i] = view.getFloat32(HEADER_BYTES + 4 * i, true);
  } else {
    pcm = new Float32Array(n);
    if (LITTLE_ENDIAN) {
      const s16 = new Int16Array(buffer, HEADER_BYTES, n);
      for (let i = 0; i < n; i++) pcm[i] = s16[i] / 32767;
    } else {
      for (let i = 0; i < n; i++) pcm[i] = view.getInt16(HEADER_BYTES + 2 * i, true) / 32767;
    }
  }
  return { seq, sample, frames, channels, fmt: FORMATS[fmt], pcm };
}

// A text message -> its object; ProtocolError when it is not a JSON object with a type.
export function parseText(text) {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch (error) {
    throw new ProtocolError(`the server sent text that is not JSON: ${error.message}`);
  }
  if (msg === null || typeof msg !== "object" || typeof msg.type !== "string") {
    throw new ProtocolError("the server sent JSON without a string \"type\"");
  }
  return msg;
}

function withToken(msg, token) {
  if (token) msg.token = token;
  return msg;
}

export function controlMessage(id, settings, token) {
  return withToken({ type: "control", id, set: settings }, token);
}

export function playbackMessage(id, action, token) {
  return withToken({ type: "playback", id, action }, token);
}

export function authMessage(id, token) {
  return { type: "auth", id, token };
}

export function pingMessage(id) {
  return { type: "ping", id };
}

// Raw MIDI messages (arrays of bytes) for the server's mapping (docs/protocol.md, "midi").
export function midiMessage(id, messages, token) {
  return withToken({ type: "midi", id, messages }, token);
}

// The WebSocket URL of the engine that served this page.
export function socketUrl(location, format) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws?format=${encodeURIComponent(format)}`;
}
