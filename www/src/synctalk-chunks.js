// SyncTalk Web: the chunks a cloud TTS service streams, as mono Float32 PCM
// for the avatar: Float32Array (the default), 16-bit little-endian PCM
// (Int16Array or bytes), the same as base64 text, or MP3 bytes cut anywhere.
// A chunk may also be `{audio, words}`, `words` being `[{word, start, end}]`
// in seconds from the stream's start (a service's word timings), which
// become `subtitle` events as they are heard.

import { SyncTalkError } from './synctalk-errors.js';
import { join } from './synctalk-wav.js';

/** The formats `speak(stream, rate, {format})` takes. */
export const FORMATS = ['f32', 's16', 'base64-s16', 'mp3'];

const bad = (message) => new SyncTalkError('BAD_AUDIO', message);

/** Bytes of a chunk (a typed array, an ArrayBuffer). */
function bytesOf(value, what) {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw bad(`${what} chunks must be bytes (Uint8Array, ArrayBuffer), not ${Object.prototype.toString.call(value)}`);
}

/** 16-bit little-endian PCM bytes to samples; an odd byte waits in `carry`. */
function s16(bytes, state) {
  const all = state.carry ? join([state.carry, bytes], state.carry.length + bytes.length) : bytes;
  const n = all.length >> 1;
  state.carry = all.length & 1 ? all.slice(all.length - 1) : null;
  const view = new DataView(all.buffer, all.byteOffset, n * 2);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true) / 32768;
  return out;
}

/** Base64 text to bytes. */
function base64(text) {
  if (typeof text !== 'string') throw bad(`base64-s16 chunks must be strings, not ${Object.prototype.toString.call(text)}`);
  let raw;
  try {
    raw = atob(text.replace(/\s+/g, ''));
  } catch {
    throw bad('a base64-s16 chunk is not valid base64');
  }
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

// MPEG audio layer III frame headers: bit rates (kb/s) by version and index,
// sample rates by version and index.
const BITRATES = {
  1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const RATES = { 1: [44100, 48000, 32000], 2: [22050, 24000, 16000], 2.5: [11025, 12000, 8000] };

/** The length in bytes of the layer III frame whose header starts at `i`
 * (0: no frame header there). */
function frameLength(b, i) {
  if (b[i] !== 0xff || (b[i + 1] & 0xe0) !== 0xe0) return 0;
  const version = [2.5, 0, 2, 1][(b[i + 1] >> 3) & 3];
  const layer = (b[i + 1] >> 1) & 3;
  const bitrate = (BITRATES[version === 1 ? 1 : 2] ?? [])[(b[i + 2] >> 4) & 15];
  const rate = (RATES[version] ?? [])[(b[i + 2] >> 2) & 3];
  if (!version || layer !== 1 || !bitrate || !rate) return 0;
  const padding = (b[i + 2] >> 1) & 1;
  return Math.floor(((version === 1 ? 144000 : 72000) * bitrate) / rate) + padding;
}

/** Frames decoded again before each group and dropped: a frame's data may
 * begin up to 511 bytes back (the bit reservoir, two or three frames), and
 * its sound overlaps the frame before it. */
const WARM_FRAMES = 4;

/**
 * MP3 bytes cut anywhere, decoded in groups of whole frames as they arrive,
 * at the stream's own rate (the browser's decodeAudioData in an
 * OfflineAudioContext of that rate: no resampling, so no seams between
 * groups). Each group is decoded with the frames before it and their sound
 * dropped.
 */
class Mp3Decoder {
  constructor() {
    this.buf = new Uint8Array(0);
    this.frames = []; // whole frames not yet decoded
    this.previous = []; // the last frames decoded, to warm the decoder
    this.started = false;
    this.rate = null; // the stream's sample rate, from its first frame
  }

  /** Samples of the whole frames in `bytes` and before (maybe none yet). */
  async push(bytes, flush = false) {
    this.buf = join([this.buf, bytes], this.buf.length + bytes.length);
    let i = 0;
    if (!this.started) {
      // An ID3v2 tag first: skipped.
      if (this.buf.length < 10) return new Float32Array(0);
      if (this.buf[0] === 0x49 && this.buf[1] === 0x44 && this.buf[2] === 0x33) {
        const size = 10 + ((this.buf[6] << 21) | (this.buf[7] << 14) | (this.buf[8] << 7) | this.buf[9]);
        if (this.buf.length < size) return new Float32Array(0);
        i = size;
      }
    }
    for (;;) {
      if (i + 4 > this.buf.length) break;
      const n = frameLength(this.buf, i);
      if (!n) {
        if (!this.started && i < 64 * 1024) {
          i++; // junk before the first frame
          continue;
        }
        throw bad(`the MP3 stream has no frame header at byte ${i} of a chunk (not MP3, or damaged)`);
      }
      if (i + n > this.buf.length) break;
      if (!this.started) {
        this.rate = RATES[[2.5, 0, 2, 1][(this.buf[i + 1] >> 3) & 3]][(this.buf[i + 2] >> 2) & 3];
        this.ctx = new OfflineAudioContext(1, 1, this.rate);
      }
      this.started = true;
      this.frames.push(this.buf.subarray(i, i + n));
      i += n;
    }
    this.buf = this.buf.slice(i);
    if (!flush && this.frames.length < 8) return new Float32Array(0);
    if (this.frames.length === 0) return new Float32Array(0);
    const frames = this.frames.map((f) => f.slice());
    this.frames = [];
    const group = [...this.previous, ...frames];
    let decoded;
    try {
      decoded = await this.ctx.decodeAudioData(join(group, group.reduce((a, f) => a + f.length, 0)).buffer);
    } catch (e) {
      throw bad(`cannot decode the MP3 stream (${e.message || e})`);
    }
    // Layer III frames hold 1152 samples (MPEG-1) or 576 (MPEG-2 and 2.5).
    const perFrame = ((frames[0][1] >> 3) & 3) === 3 ? 1152 : 576;
    const skip = this.previous.length * perFrame;
    const want = frames.length * perFrame;
    this.previous = [...this.previous, ...frames].slice(-WARM_FRAMES);
    const mono = new Float32Array(Math.max(0, Math.min(want, decoded.length - skip)));
    for (let c = 0; c < decoded.numberOfChannels; c++) {
      const ch = decoded.getChannelData(c);
      for (let k = 0; k < mono.length; k++) mono[k] += ch[skip + k] / decoded.numberOfChannels;
    }
    return mono;
  }
}

/**
 * `stream`'s chunks in `format` as a stream of `{samples, words, rate}`
 * (words: the service's word timings or null; rate: the samples' rate, the
 * stream's own `rate`, or for MP3 its frames' once the first has come).
 */
export function decodeChunks(stream, format, rate) {
  if (!FORMATS.includes(format)) {
    throw new SyncTalkError('BAD_ARGUMENT', `format '${format}' must be one of ${FORMATS.join(', ')}`);
  }
  const state = { carry: null };
  const mp3 = format === 'mp3' ? new Mp3Decoder() : null;
  const samplesOf = async (audio) => {
    switch (format) {
      case 'f32':
        if (audio instanceof Float32Array) return audio;
        if (audio instanceof ArrayBuffer) return new Float32Array(audio);
        throw new SyncTalkError('BAD_ARGUMENT', 'stream chunks must be Float32Arrays of mono PCM samples (or say their format: {format: "s16"}, "base64-s16", "mp3")');
      case 's16':
        return s16(bytesOf(audio, 's16'), state);
      case 'base64-s16':
        return s16(base64(audio), state);
      default:
        return mp3.push(bytesOf(audio, 'mp3'));
    }
  };
  const reader = stream.getReader();
  const out = new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        if (mp3) {
          const tail = await mp3.push(new Uint8Array(0), true);
          if (tail.length) controller.enqueue({ samples: tail, words: null, rate: mp3.rate });
        }
        controller.close();
        return;
      }
      const framed = value !== null && typeof value === 'object' && 'audio' in value && !ArrayBuffer.isView(value);
      const audio = framed ? value.audio : value;
      const words = framed && Array.isArray(value.words) ? value.words : null;
      const samples = audio == null ? new Float32Array(0) : await samplesOf(audio);
      controller.enqueue({ samples, words, rate: mp3 ? mp3.rate : rate });
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return out;
}
