'use strict';

// The Live panel's AudioWorklet: the microphone's first channel, resampled to 24 kHz (linear),
// as PCM16 little-endian in 100 ms messages {pcm: ArrayBuffer, level: RMS 0..1}. A file, not
// inline: the page's Content-Security-Policy allows scripts from the relay only.

const TARGET_RATE = 24000;
const CHUNK = TARGET_RATE / 10; // samples in one message

class Pcm16Writer extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / TARGET_RATE; // input samples per output sample
    this.position = 0; // where the next output sample falls, in input samples from `previous`
    this.previous = 0; // the last input sample of the block before
    this.out = new Int16Array(CHUNK);
    this.filled = 0;
    this.sumSquares = 0;
  }

  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    // position runs over [previous, ...input]: index 0 is `previous`, index k is input[k-1].
    while (this.position <= input.length) {
      const i = Math.floor(this.position);
      const frac = this.position - i;
      const a = i === 0 ? this.previous : input[i - 1];
      const b = i < input.length ? input[i] : a;
      this.push(a + (b - a) * frac);
      this.position += this.step;
    }
    this.position -= input.length;
    this.previous = input[input.length - 1];
    return true;
  }

  push(sample) {
    const s = Math.max(-1, Math.min(1, sample));
    this.out[this.filled] = s < 0 ? s * 0x8000 : s * 0x7fff;
    this.sumSquares += s * s;
    this.filled += 1;
    if (this.filled === CHUNK) {
      const pcm = this.out.buffer;
      this.port.postMessage({ pcm, level: Math.sqrt(this.sumSquares / CHUNK) }, [pcm]);
      this.out = new Int16Array(CHUNK);
      this.filled = 0;
      this.sumSquares = 0;
    }
  }
}

registerProcessor('pcm16-writer', Pcm16Writer);
