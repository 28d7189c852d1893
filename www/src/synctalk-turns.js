// SyncTalk Web: whose turn it is to speak. An Avatar's speak() and say()
// wait in a queue or replace what plays, are cancelled by an AbortSignal,
// and route each source to its player (a clip, a stream read as it plays);
// say() synthesises the text first, fires its words as `subtitle` events
// by the audio clock and moves the mouth with its phones. Functions of the
// Avatar (its `_queue`, `_busy` and players), kept apart from the class to
// keep each file to one idea.

import { playClip, playStream, speechTime } from './synctalk-playback.js';
import { LONG_SPEECH_SECONDS, decodeSpeech, paced, pieces } from './synctalk-speech.js';
import { synthesize } from './synctalk-tts.js';
import { decodeChunks } from './synctalk-chunks.js';
import { SyncTalkError, wrap } from './synctalk-errors.js';

/** What the synthesiser said of each say()'s samples: `{words}` for its
 * `subtitle` events, and `phones` for its mouth (`lips: 'phones'`). */
const said = new WeakMap();

/** speak(): see Avatar.speak. */
export async function speakInTurn(avatar, source, sampleRate, options = {}) {
  avatar._live();
  const { signal } = options;
  signal?.throwIfAborted();
  if (!options.queue) {
    cancelQueue(avatar);
  } else if (avatar._busy || avatar._queue.length) {
    await new Promise((resolve, reject) => {
      const turn = { resolve, reject };
      avatar._queue.push(turn);
      signal?.addEventListener('abort', () => {
        const i = avatar._queue.indexOf(turn);
        if (i >= 0) {
          avatar._queue.splice(i, 1);
          reject(signal.reason);
        }
      }, { once: true });
    });
  }
  const mine = (avatar._busy = {});
  const onAbort = () => {
    if (avatar._busy === mine) avatar._end();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    avatar._live();
    await play(avatar, source, sampleRate, options);
    signal?.throwIfAborted();
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (avatar._busy === mine) {
      // The turn passes to the next queued speech (busy until it runs).
      const next = avatar._queue.shift();
      avatar._busy = next ?? null;
      next?.resolve();
    }
  }
}

/** say(): see Avatar.say. */
export async function sayInTurn(avatar, text, options = {}) {
  avatar._live();
  options.signal?.throwIfAborted();
  const lips = options.lips ?? 'phones';
  if (lips !== 'phones' && lips !== 'sound') {
    throw new SyncTalkError('BAD_ARGUMENT', `lips '${lips}' must be 'phones' (the synthesiser's phone timings move the mouth) or 'sound' (Face-Sync hears the speech)`);
  }
  const speech = await synthesize(text, options);
  options.signal?.throwIfAborted();
  const words = speech.words.map((w) => ({ word: text.slice(w.from, w.to), from: w.from, to: w.to, start: w.start, end: w.end, text }));
  said.set(speech.samples, { words, phones: lips === 'phones' ? speech.phonemes : null });
  return speakInTurn(avatar, speech.samples, speech.sampleRate, options);
}

/** Fires the `subtitle` events of the words heard by now (`state`:
 * `{words, next}` of the clip playing). */
function subtitleTick(avatar, state) {
  const t = speechTime(avatar);
  while (t !== undefined && state.next < state.words.length && state.words[state.next].start <= t) {
    avatar._emit('subtitle', state.words[state.next++]);
  }
}

/** Decodes `source` and plays it (see `speak`). */
async function play(avatar, source, sampleRate, options) {
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) {
    // A TTS service's stream, in its format, with its word timings as subtitles.
    const format = options.format ?? 'f32';
    const chunks = decodeChunks(source, format, sampleRate);
    const state = { words: [], next: 0 };
    const timer = setInterval(() => subtitleTick(avatar, state), 40);
    try {
      // MP3 says its own rate in its frames.
      return await playStream(avatar, chunks, format === 'mp3' ? 'stream' : sampleRate, options, state);
    } finally {
      clearInterval(timer);
    }
  }
  const decoded = await decodeSpeech(source, sampleRate, () => avatar._context(), true);
  avatar._live();
  if (decoded.chunks) {
    // A long WAV file: read from its source as it plays.
    return playStream(avatar, paced(decoded.chunks, decoded.rate, avatar._context()), decoded.rate, options);
  }
  if (decoded.samples.length / decoded.rate > LONG_SPEECH_SECONDS) {
    // Long speech enters the engine as it plays, a little ahead of the
    // sound: the wasm memory stays the same for an hour as for a minute.
    return playStream(avatar, paced(pieces(decoded.samples, decoded.rate), decoded.rate, avatar._context()), decoded.rate, options);
  }
  avatar._prepare(decoded.samples, decoded.rate);
  // The mouth of a say(): its phones, where the portrait's Face-Sync has a
  // shape for each (tools/tts_articulation.py measured this to articulate
  // better than Face-Sync hearing the synthesiser).
  const { words, phones } = said.get(decoded.samples) ?? {};
  if (phones?.length) {
    try {
      avatar._prepared.phones = avatar._inner.setSpeechPhones(
        phones.map((p) => p.id), Float64Array.from(phones, (p) => p.start), Float64Array.from(phones, (p) => p.end));
    } catch (e) {
      throw wrap(e, 'INTERNAL');
    }
  }
  // Subtitles of a say(), timed by the audio clock.
  const state = { words, next: 0 };
  const timer = words ? setInterval(() => subtitleTick(avatar, state), 40) : null;
  try {
    return await playClip(avatar, options);
  } finally {
    clearInterval(timer);
  }
}

/** Speech waiting its turn is dropped: each queued `speak()` rejects with
 * an AbortError. */
export function cancelQueue(avatar) {
  const queued = avatar._queue.splice(0);
  for (const turn of queued) turn.reject(new DOMException('the queued speech was cancelled by stop() or speak()', 'AbortError'));
}
