// SyncTalk Web: sound into an Avatar: a clip played and followed, a stream
// of PCM chunks played as it arrives, live audio followed through an
// AudioWorklet, and the end of any of them. Functions of the Avatar (its
// engine `_inner`, its speech slot `_speech`, its audio output), kept apart
// from the class to keep each file to one idea.
//
// `avatar._speech` is what the lips follow now:
//   {kind: 'clip', startTime, node, finish}
//   {kind: 'stream', rate, at, offset, startTime, nodes, ended, reader, gain, finish}
//   {kind: 'listen', rate, lookahead, received, chunkSeconds, source, node, sink, lastChunk}

import { SyncTalkError, wrap } from './synctalk-errors.js';
import { workletUrl } from './synctalk-load.js';

/** A gain for one speech, into the avatar's output (`mute`: silent). */
function speechGain(avatar, ctx, mute) {
  const gain = ctx.createGain();
  gain.gain.value = mute ? 0 : 1;
  gain.connect(avatar.output);
  return gain;
}

/** Plays the prepared clip (`avatar._prepared`) and follows it; resolves
 * when it ends or is ended. */
export async function playClip(avatar, options) {
  const { samples, rate } = avatar._prepared;
  const ctx = avatar._context();
  if (ctx.state === 'suspended') await ctx.resume();
  const buffer = ctx.createBuffer(1, samples.length, rate);
  buffer.copyToChannel(samples, 0);
  const node = ctx.createBufferSource();
  node.buffer = buffer;
  const gain = speechGain(avatar, ctx, options.mute);
  node.connect(gain);
  const startTime = ctx.currentTime + 0.05;
  return new Promise((resolve) => {
    const speech = { kind: 'clip', startTime, node };
    speech.finish = () => {
      if (speech.done) return;
      speech.done = true;
      if (avatar._speech === speech) {
        avatar._speech = null;
        avatar._prepared = null;
        avatar._inner?.clearSpeech();
      }
      try {
        node.stop();
      } catch {
        /* not started yet */
      }
      gain.disconnect();
      avatar._emit('speechend');
      resolve();
    };
    avatar._speech = speech;
    node.onended = speech.finish;
    node.start(startTime);
    avatar._emit('speechstart');
  });
}

/**
 * Plays a stream of PCM chunks as they arrive (a TTS engine's output): each
 * chunk right after the previous one, the lips following it long before the
 * stream ends. Resolves when the last chunk has played. Word timings that
 * come with the chunks are added to `subtitles.words`.
 */
export async function playStream(avatar, stream, rate, options, subtitles = null) {
  if (rate !== 'stream' && !(rate > 0)) {
    throw new SyncTalkError('BAD_ARGUMENT', 'speak(stream, sampleRate) needs the sample rate of its PCM chunks');
  }
  avatar._end();
  const ctx = avatar._context();
  if (ctx.state === 'suspended') await ctx.resume();
  // The engine's stream starts at the first chunk's rate ('stream': the
  // chunks say it, as MP3 frames do).
  const begin = (r) => {
    try {
      avatar._inner.startStream(r, false);
    } catch (e) {
      throw wrap(e, 'BAD_AUDIO');
    }
    speech.rate = r;
  };
  const gain = speechGain(avatar, ctx, options.mute);
  const reader = stream.getReader();
  let resolve;
  let reject;
  const done = new Promise((res, rej) => ((resolve = res), (reject = rej)));
  // at: seconds of audio scheduled; offset: stream time of the engine's
  // current stream (after a device loss it starts anew).
  const speech = { kind: 'stream', rate: null, at: 0, offset: 0, startTime: null, nodes: new Set(), ended: false, reader, gain };
  if (rate !== 'stream') begin(rate);
  avatar._speech = speech;
  speech.finish = () => {
    if (speech.done) return;
    speech.done = true;
    if (avatar._speech === speech) {
      avatar._speech = null;
      avatar._inner?.clearSpeech();
    }
    reader.cancel().catch(() => {});
    for (const n of speech.nodes) {
      try {
        n.stop();
      } catch {
        /* not started yet */
      }
    }
    gain.disconnect();
    avatar._emit('speechend');
    resolve();
  };
  (async () => {
    for (;;) {
      const { done: end, value } = await reader.read();
      if (avatar._speech !== speech) return;
      if (end) break;
      // Float32Array chunks, or {samples, words} from decodeChunks (words:
      // a service's timings, in seconds from the stream's start).
      const chunk = value instanceof Float32Array ? value : value?.samples;
      if (!(chunk instanceof Float32Array)) throw new SyncTalkError('BAD_ARGUMENT', 'stream chunks must be Float32Arrays of mono PCM samples');
      if (value.words && subtitles) {
        for (const w of value.words) {
          if (!(Number.isFinite(w?.start) && typeof w.word === 'string')) {
            throw new SyncTalkError('BAD_ARGUMENT', `a word timing must be {word, start, end} in seconds, not ${JSON.stringify(w)}`);
          }
          subtitles.words.push({ word: w.word, start: w.start, end: Number.isFinite(w.end) ? w.end : w.start });
        }
      }
      if (chunk.length === 0) continue;
      if (speech.rate === null) begin(value.rate);
      avatar._inner.pushStream(chunk);
      const now = ctx.currentTime;
      if (speech.startTime === null) {
        speech.startTime = now + 0.1;
        avatar._emit('speechstart');
      } else if (speech.startTime + speech.at < now + 0.02) {
        // The stream fell behind playback: continue after a short gap.
        speech.startTime = now + 0.05 - speech.at;
      }
      const buffer = ctx.createBuffer(1, chunk.length, speech.rate);
      buffer.copyToChannel(chunk, 0);
      const node = ctx.createBufferSource();
      node.buffer = buffer;
      node.connect(gain);
      node.onended = () => {
        speech.nodes.delete(node);
        if (speech.ended && speech.nodes.size === 0) speech.finish();
      };
      speech.nodes.add(node);
      node.start(speech.startTime + speech.at);
      speech.at += chunk.length / speech.rate;
    }
    speech.ended = true;
    if (speech.rate !== null) avatar._inner?.endStream();
    if (speech.nodes.size === 0) speech.finish();
  })().catch((e) => {
    reject(wrap(e, 'BAD_AUDIO'));
    speech.finish();
  });
  return done;
}

/**
 * Follows live audio (a microphone from `getUserMedia`): the lips move with
 * what it hears, `lookahead` seconds behind it. Nothing is played back.
 * Runs until the avatar's speech is ended.
 */
export async function listenTo(avatar, mediaStream, options) {
  if (typeof MediaStream === 'undefined' || !(mediaStream instanceof MediaStream) || mediaStream.getAudioTracks().length === 0) {
    throw new SyncTalkError('BAD_ARGUMENT', 'listen() needs a MediaStream with an audio track (e.g. from getUserMedia({audio: true}))');
  }
  const lookahead = options.lookahead ?? 0.1;
  if (!(lookahead >= 0 && lookahead <= 2)) {
    throw new SyncTalkError('BAD_ARGUMENT', `lookahead ${lookahead} must be between 0 and 2 seconds`);
  }
  avatar._end();
  const ctx = avatar._context();
  if (ctx.state === 'suspended') await ctx.resume();
  if (!avatar._worklet || avatar._worklet.ctx !== ctx) {
    avatar._worklet = { ctx, ready: ctx.audioWorklet.addModule(workletUrl()) };
  }
  try {
    await avatar._worklet.ready;
  } catch (e) {
    avatar._worklet = null;
    throw new SyncTalkError('INTERNAL', `cannot load the audio capture worklet: ${e.message || e}`, { cause: e });
  }
  const source = ctx.createMediaStreamSource(mediaStream);
  const chunk = 512;
  const node = new AudioWorkletNode(ctx, 'synctalk-capture', {
    numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1], processorOptions: { chunk },
  });
  // Pulled through a silent gain so the graph runs; nothing is heard.
  const sink = ctx.createGain();
  sink.gain.value = 0;
  source.connect(node).connect(sink).connect(ctx.destination);
  avatar._inner.startStream(ctx.sampleRate, true);
  const speech = {
    kind: 'listen', rate: ctx.sampleRate, lookahead, received: 0, chunkSeconds: chunk / ctx.sampleRate,
    source, node, sink, lastChunk: null,
  };
  speech.finish = () => {
    node.port.postMessage('stop');
    node.port.onmessage = null;
    source.disconnect();
    node.disconnect();
    sink.disconnect();
    avatar._inner?.clearSpeech();
    avatar._emit('speechend');
  };
  avatar._speech = speech;
  node.port.onmessage = (e) => {
    if (avatar._speech !== speech || !avatar._inner) return;
    try {
      speech.received = avatar._inner.pushStream(e.data.samples);
      speech.lastChunk = { time: e.data.time, at: performance.now() };
    } catch (err) {
      avatar._end();
      avatar._emit('error', wrap(err, 'BAD_AUDIO'));
    }
  };
  avatar._emit('speechstart');
}

/** The position in the speech being heard now, by the audio clock
 * (undefined: nothing is). */
export function speechTime(avatar) {
  const s = avatar._speech;
  if (!s) return undefined;
  // Listening: a look-ahead behind what has arrived.
  if (s.kind === 'listen') return s.received - s.lookahead;
  const ctx = avatar._audio;
  if (!ctx || s.startTime === null) return undefined;
  // What is heard now was scheduled outputLatency ago.
  const latency = ctx.outputLatency || ctx.baseLatency || 0;
  return ctx.currentTime - s.startTime - latency - (s.offset ?? 0);
}
