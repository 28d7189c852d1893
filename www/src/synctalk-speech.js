// SyncTalk Web: speech for the engine: any source decoded to mono samples
// (or, for long WAV files, read as it plays), one-second pieces, and a
// stream paced by the audio clock for speech too long to hold.

import { SyncTalkError, wrap } from './synctalk-errors.js';
import { MAX_COMPRESSED_BYTES, isWav, join, openBytes, readWavHeader, wavChunks } from './synctalk-wav.js';

/** Mono mix of an AudioBuffer. */
export function mono(buffer) {
  const n = buffer.length;
  const out = new Float32Array(n);
  for (let c = 0; c < buffer.numberOfChannels; c++) {
    const ch = buffer.getChannelData(c);
    for (let i = 0; i < n; i++) out[i] += ch[i];
  }
  if (buffer.numberOfChannels > 1) {
    const k = 1 / buffer.numberOfChannels;
    for (let i = 0; i < n; i++) out[i] *= k;
  }
  return out;
}

/** Longer speech is streamed into the engine as it plays (see `paced`). */
export const LONG_SPEECH_SECONDS = 600;

/** The error for speech too long to prepare whole (`what` says how long it is). */
export function tooLongToPrepare(what) {
  return new SyncTalkError('BAD_AUDIO', `prepareSpeech() holds at most ${LONG_SPEECH_SECONDS / 60} minutes of speech `
    + `(${what}); speak() streams longer speech`);
}

/** `samples` in one-second pieces. */
export function* pieces(samples, rate) {
  for (let pos = 0; pos < samples.length; pos += rate) yield samples.subarray(pos, Math.min(pos + rate, samples.length));
}

/**
 * A stream of the chunks of `chunks` (an iterable or async iterable of mono
 * Float32Arrays at `rate` Hz) that runs at most `ahead` seconds in front of
 * `ctx`'s playback clock (read from its first pull): nothing further is
 * taken from `chunks` until playback comes near.
 */
export function paced(chunks, rate, ctx, ahead = 20) {
  const it = chunks[Symbol.asyncIterator]?.() ?? chunks[Symbol.iterator]();
  let pos = 0;
  let t0 = null;
  let cancelled = false;
  return new ReadableStream({
    async pull(controller) {
      t0 ??= ctx.currentTime;
      while (!cancelled && pos / rate - (ctx.currentTime - t0) > ahead) {
        await new Promise((r) => setTimeout(r, 250));
      }
      if (cancelled) return;
      const { done, value } = await it.next();
      if (done) {
        controller.close();
        return;
      }
      controller.enqueue(value);
      pos += value.length;
    },
    cancel() {
      cancelled = true;
      it.return?.();
    },
  }, { highWaterMark: 0 });
}

/**
 * Decodes a speech source to mono samples and a rate, or, for a WAV file
 * longer than LONG_SPEECH_SECONDS when `stream` is set, to `{chunks, rate}`:
 * its audio read as it is asked for. `context()` gives the AudioContext
 * that decodes compressed formats.
 */
export async function decodeSpeech(source, sampleRate, context, stream = false) {
  if (source instanceof Float32Array) {
    if (!(sampleRate > 0)) {
      throw new SyncTalkError('BAD_ARGUMENT', 'speak(Float32Array, sampleRate) needs the sample rate');
    }
    return { samples: source, rate: sampleRate };
  }
  if (typeof AudioBuffer !== 'undefined' && source instanceof AudioBuffer) {
    return { samples: mono(source), rate: source.sampleRate };
  }
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) {
    throw new SyncTalkError('BAD_ARGUMENT', 'a ReadableStream is spoken as it arrives: use speak(stream, sampleRate)');
  }
  let bytes;
  try {
    const reader = await openBytes(source, 'audio');
    if (await isWav(reader)) {
      const wav = await readWavHeader(reader);
      const long = wav.seconds === null || wav.seconds > LONG_SPEECH_SECONDS;
      if (long && stream) return { chunks: wavChunks(reader, wav), rate: wav.rate };
      if (long) {
        reader.cancel();
        throw tooLongToPrepare(`this WAV file is ${wav.seconds === null ? 'of unknown length' : `${(wav.seconds / 60).toFixed(1)} minutes`}`);
      }
      const parts = [...wav.head, await reader.rest(Infinity, 'audio')];
      bytes = join(parts, parts.reduce((n, h) => n + h.length, 0));
    } else {
      bytes = await reader.rest(MAX_COMPRESSED_BYTES, 'the audio file');
    }
  } catch (e) {
    throw wrap(e, 'BAD_AUDIO');
  }
  let buffer;
  try {
    // `bytes` is join()'s own copy: detaching it leaves the caller's buffer whole.
    buffer = await context().decodeAudioData(bytes.buffer);
  } catch (e) {
    throw new SyncTalkError('BAD_AUDIO', `cannot decode the audio (${e.message || e})`, { cause: e });
  }
  return { samples: mono(buffer), rate: buffer.sampleRate };
}
