// Speech files read as they arrive: a WAV file is parsed chunk by chunk, so
// that hours of it are spoken in the memory of seconds (the browser's
// decodeAudioData would hold the whole decoded file); other formats are
// read whole, up to a limit, for decodeAudioData.

/** The most bytes of a compressed file (MP3, Ogg, FLAC…) read for
 * decodeAudioData, which holds the whole decoded sound in memory (an hour of
 * 128 kb/s MP3 is 58 MB; decoded at 48 kHz in stereo, 1.4 GB). */
export const MAX_COMPRESSED_BYTES = 64 * 2 ** 20;

const fail = (message) => Object.assign(new Error(message), { code: 'BAD_AUDIO' });

/** The byte arrays `parts` (`len` bytes in all) joined into one. */
export function join(parts, len) {
  const out = new Uint8Array(len);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A stream's chunk as bytes. */
function asBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw fail(`the audio stream gave ${Object.prototype.toString.call(value)}, not bytes`);
}

/** Bytes from a stream, buffered just enough to parse a header. */
class ByteReader {
  constructor(reader, size) {
    this.reader = reader;
    this.size = size; // total bytes if known, else null
    this.buf = new Uint8Array(0);
    this.done = false;
  }

  /** The stream's next chunk as bytes, or null at its end. */
  async _pull() {
    if (this.done) return null;
    const { done, value } = await this.reader.read();
    if (done) {
      this.done = true;
      return null;
    }
    return asBytes(value);
  }

  /** Buffers at least `n` bytes; false if the stream ends first. */
  async fill(n) {
    const parts = [this.buf];
    let len = this.buf.length;
    for (let b; len < n && (b = await this._pull()); len += b.length) parts.push(b);
    if (parts.length > 1) this.buf = join(parts, len);
    return this.buf.length >= n;
  }

  /** The next `n` buffered bytes (call `fill(n)` first). */
  take(n) {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Everything left, at most `limit` bytes in all (else a BAD_AUDIO error). */
  async rest(limit, what) {
    const tooBig = (n) => fail(`${what} is ${(n / 2 ** 20).toFixed(0)} MB: a compressed audio file is decoded whole in the browser, `
      + `at most ${limit / 2 ** 20} MB of it (about an hour of MP3); give longer speech as a WAV file, which is read as it plays, `
      + 'or as a stream of PCM chunks');
    if (this.size !== null && this.size > limit) {
      this.cancel();
      throw tooBig(this.size);
    }
    const parts = [this.buf];
    let len = this.buf.length;
    for (let b; len <= limit && (b = await this._pull()); len += b.length) parts.push(b);
    if (len > limit) {
      this.cancel();
      throw tooBig(len);
    }
    this.buf = new Uint8Array(0);
    return join(parts, len);
  }

  cancel() {
    this.done = true;
    this.reader.cancel().catch(() => {});
  }
}

/** A ByteReader over a URL, Response, Blob, ArrayBuffer or typed array. */
export async function openBytes(source, what) {
  const fromBytes = (bytes) => {
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(bytes);
        c.close();
      },
    });
    return new ByteReader(stream.getReader(), bytes.byteLength);
  };
  if (source instanceof ArrayBuffer) return fromBytes(new Uint8Array(source));
  if (ArrayBuffer.isView(source)) return fromBytes(new Uint8Array(source.buffer, source.byteOffset, source.byteLength));
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new ByteReader(source.stream().getReader(), source.size);
  let response = source;
  if (typeof source === 'string' || source instanceof URL) {
    try {
      response = await fetch(source);
    } catch (e) {
      throw Object.assign(new Error(`cannot fetch ${what} ${source}: ${e.message}`), { code: 'NETWORK', cause: e });
    }
  }
  if (!(response instanceof Response)) {
    throw Object.assign(new Error(`${what} must be a URL, Response, Blob, ArrayBuffer or typed array`), { code: 'BAD_ARGUMENT' });
  }
  if (!response.ok) {
    throw Object.assign(new Error(`cannot fetch ${what} ${response.url}: HTTP ${response.status}`), { code: 'NETWORK' });
  }
  if (!response.body) return fromBytes(new Uint8Array(await response.arrayBuffer()));
  return new ByteReader(response.body.getReader(), Number(response.headers.get('content-length')) || null);
}

const ascii = (b, at) => String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);

/** Whether the reader's bytes start as a RIFF WAVE file (nothing is consumed). */
export async function isWav(bytes) {
  if (!(await bytes.fill(12))) return false;
  return ascii(bytes.buf, 0) === 'RIFF' && ascii(bytes.buf, 8) === 'WAVE';
}

/**
 * Reads a WAV header up to its `data` chunk: `{format, channels, rate,
 * blockAlign, bits, dataBytes, seconds, head}`, where `head` holds the bytes
 * consumed (to decode the whole file after all) and `seconds` is null when
 * the data size is not given (a streamed WAV: 0 or 0xFFFFFFFF).
 */
export async function readWavHeader(bytes) {
  const head = [];
  const take = (n) => {
    const b = bytes.take(n);
    head.push(b.slice());
    return b;
  };
  take(12);
  let fmt = null;
  for (;;) {
    if (!(await bytes.fill(8))) throw fail('WAV: the file ends before its audio data (truncated)');
    const h = take(8);
    const v = new DataView(h.buffer, h.byteOffset, 8);
    const id = ascii(h, 0);
    const size = v.getUint32(4, true);
    if (id === 'data') {
      if (!fmt) throw fail('WAV: audio data before the `fmt ` chunk');
      const known = size !== 0 && size !== 0xffffffff;
      const seconds = known ? size / fmt.blockAlign / fmt.rate : null;
      return { ...fmt, dataBytes: known ? size : Infinity, seconds, head };
    }
    const padded = size + (size & 1);
    if (id === 'fmt ') {
      if (size < 16 || size > 4096) throw fail(`WAV: a \`fmt \` chunk of ${size} bytes`);
      if (!(await bytes.fill(padded))) throw fail('WAV: the file ends inside its `fmt ` chunk (truncated)');
      const b = take(padded);
      const f = new DataView(b.buffer, b.byteOffset, size);
      let format = f.getUint16(0, true);
      if (format === 0xfffe && size >= 26) format = f.getUint16(24, true); // WAVE_FORMAT_EXTENSIBLE: its subformat
      fmt = { format, channels: f.getUint16(2, true), rate: f.getUint32(4, true), blockAlign: f.getUint16(12, true), bits: f.getUint16(14, true) };
      if (!fmt.channels || !fmt.rate || !fmt.blockAlign) {
        throw fail(`WAV: ${fmt.channels} channels at ${fmt.rate} Hz, ${fmt.blockAlign} bytes a frame`);
      }
    } else {
      // Other chunks (LIST, fact…) are skipped, in pieces.
      let left = padded;
      while (left > 0) {
        const n = Math.min(left, 1 << 20);
        if (!(await bytes.fill(n))) throw fail(`WAV: the file ends inside its \`${id}\` chunk (truncated)`);
        take(n);
        left -= n;
      }
    }
  }
}

/** A reader of one sample (as a number in [-1, 1]) at a byte offset, for a WAV format. */
function sampleReader(wav) {
  const { format, bits } = wav;
  if (format === 1 && bits === 16) return (v, i) => v.getInt16(i, true) / 32768;
  if (format === 1 && bits === 24) return (v, i) => ((v.getInt8(i + 2) << 16) | (v.getUint16(i, true))) / 8388608;
  if (format === 1 && bits === 32) return (v, i) => v.getInt32(i, true) / 2147483648;
  if (format === 1 && bits === 8) return (v, i) => (v.getUint8(i) - 128) / 128;
  if (format === 3 && bits === 32) return (v, i) => v.getFloat32(i, true);
  if (format === 3 && bits === 64) return (v, i) => v.getFloat64(i, true);
  throw fail(`WAV: format ${format} with ${bits}-bit samples is not read as it plays (PCM of 8, 16, 24 or 32 bits and `
    + '32- or 64-bit float are); convert it, or give it as a stream of PCM chunks');
}

/**
 * The audio of a WAV file after its header, as mono Float32Arrays of about
 * a second each (channels averaged), read from the stream only as they are
 * asked for. A file that ends early ends the audio there.
 */
export function wavChunks(bytes, wav) {
  let read;
  try {
    read = sampleReader(wav);
  } catch (e) {
    bytes.cancel();
    throw e;
  }
  const { channels, blockAlign } = wav;
  const step = blockAlign / channels;
  if (step * channels !== blockAlign || step < Math.ceil(wav.bits / 8)) {
    bytes.cancel();
    throw fail(`WAV: ${blockAlign} bytes a frame for ${channels} channels of ${wav.bits} bits`);
  }
  return pcm(bytes, wav, read, step);
}

async function* pcm(bytes, wav, read, step) {
  const { channels, blockAlign } = wav;
  const second = blockAlign * wav.rate;
  let left = wav.dataBytes;
  try {
    while (left >= blockAlign) {
      const want = Math.min(second, left);
      await bytes.fill(want);
      const n = Math.floor(Math.min(bytes.buf.length, want) / blockAlign) * blockAlign;
      if (n === 0) return;
      const raw = bytes.take(n);
      left -= n;
      const v = new DataView(raw.buffer, raw.byteOffset, n);
      const out = new Float32Array(n / blockAlign);
      for (let k = 0, at = 0; k < out.length; k++, at += blockAlign) {
        let s = 0;
        for (let c = 0; c < channels; c++) s += read(v, at + c * step);
        out[k] = s / channels;
      }
      yield out;
    }
  } finally {
    bytes.cancel();
  }
}
