// The page's audio output in the audio thread: jitter-buffer.js in an AudioWorklet.
//
//   await ctx.audioWorklet.addModule("player-worklet.js");
//   const node = new AudioWorkletNode(ctx, "presto-player", {outputChannelCount: [2],
//     processorOptions: {rate: 44100, channels: 1, target: 11025}});
//   node.port.postMessage({type: "audio", sample: 88064, pcm: float32Interleaved});
//   node.port.onmessage = (e) => e.data.type === "report" && show(e.data);
//
// processorOptions may also hold `gap` and `audio` (blocks to start with): the tests render
// it in an OfflineAudioContext that way.

import { JitterBuffer } from "./jitter-buffer.js";

class PrestoPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.buffer = new JitterBuffer(sampleRate, opts, (m) => this.port.postMessage(m));
    this.port.onmessage = (e) => this.buffer.onMessage(e.data);
  }

  process(inputs, outputs) {
    this.buffer.render(outputs[0], currentFrame, currentTime);
    return true;
  }
}

registerProcessor("presto-player", PrestoPlayer);
