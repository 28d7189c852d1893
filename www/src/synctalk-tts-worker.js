// SyncTalk Web: the speech synthesiser's worker. It runs eSpeak NG (compiled
// to JavaScript, a separate GPL-3.0-or-later program in the package's tts/
// folder: see NOTICE) off the main thread, so that synthesis (a tenth of a second per
// sentence) never stalls drawing. Messages, each answered with the same `id`:
//   {id, type: 'load', script, data}      -> {id, voices: [{id, name, languages}]}
//                                            (progress: {id, progress: [loaded, total]})
//   {id, type: 'say', text, voice, rate, pitch}
//                                         -> {id, samples: Float32Array, sampleRate,
//                                             words: [{start, end, from, to}], phonemes: [{start, end, id}]}
// Errors: {id, error: {code, message}}. Nothing is fetched but `script` and `data`.

let engine = null; // {espeak: the eSpeakNGWorker, voices}

const post = (msg, transfer = []) => self.postMessage(msg, transfer);

/** The data file, with progress. */
async function fetchData(url, id) {
  const response = await fetch(url);
  if (!response.ok) {
    throw Object.assign(new Error(`cannot fetch the synthesiser's voices ${url}: HTTP ${response.status} `
      + '(serve the package\'s tts/ folder with the app, or say where it is with init({tts}))'), { code: 'NETWORK' });
  }
  const total = Number(response.headers.get('content-length')) || null;
  const reader = response.body.getReader();
  const parts = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    post({ id, progress: [loaded, total] });
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out.buffer;
}

async function load({ id, script, data }) {
  if (!engine) {
    const [buffer, module] = await Promise.all([
      fetchData(data, id),
      import(script).catch((e) => {
        throw Object.assign(new Error(`cannot load the synthesiser ${script}: ${e.message} `
          + '(serve the package\'s tts/ folder with the app, or say where it is with init({tts}))'), { code: 'NETWORK' });
      }),
    ]);
    const m = await module.default({ getPreloadedPackage: () => buffer });
    const espeak = new m.eSpeakNGWorker();
    const voices = espeak.list_voices().map((v) => ({
      id: v.identifier, name: v.name, languages: v.languages.map((l) => l.name),
    }));
    engine = { espeak, voices };
  }
  post({ id, voices: engine.voices });
}

/** eSpeak reads its input as SSML: the text's own markup characters are escaped. */
const escape = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function say({ id, text, voice, rate, pitch }) {
  const { espeak } = engine;
  // eSpeak's status: 0 is success.
  if (espeak.set_voice(voice) !== 0) {
    throw Object.assign(new Error(`unknown voice '${voice}' (the synthesiser has ${engine.voices.length} languages, `
      + 'e.g. en-us, en-gb, de, fr, es, it, pt, nl, pl, ru, cmn, ja, hi; a variant after +, e.g. en-us+f3)'), { code: 'BAD_ARGUMENT' });
  }
  espeak.set_rate(Math.round(175 * rate));
  espeak.set_pitch(Math.round(50 * pitch));
  const chunks = [];
  const events = [];
  const escaped = escape(text);
  espeak.synthesize(escaped, (samples, evs) => {
    if (samples?.length) chunks.push(samples);
    events.push(...evs);
    return false;
  });
  const sampleRate = espeak.get_samplerate();
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const samples = new Float32Array(n);
  let at = 0;
  for (const c of chunks) {
    for (let i = 0; i < c.length; i++) samples[at + i] = c[i] / 32768;
    at += c.length;
  }
  const seconds = n / sampleRate;
  // Event times are milliseconds into the audio; a word ends where the next
  // word (or the audio) starts. Positions (1-based characters) are in the
  // escaped text: mapped back to the caller's text.
  const toText = escapedToText(text);
  const words = [];
  const phonemes = [];
  for (const e of events) {
    if (e.type === 'word') {
      const from = toText(e.text_position - 1);
      const to = toText(e.text_position - 2 + e.word_length) + 1;
      words.push({ start: e.audio_position / 1000, from, to });
    } else if (e.type === 'phoneme') {
      phonemes.push({ start: e.audio_position / 1000, id: e.id });
    }
  }
  const close = (list) => list.forEach((x, i) => (x.end = i + 1 < list.length ? list[i + 1].start : seconds));
  close(words);
  close(phonemes);
  post({ id, samples, sampleRate, words, phonemes }, [samples.buffer]);
}

/** Index in the escaped text -> index in `text`. */
function escapedToText(text) {
  const map = [];
  for (let i = 0; i < text.length; i++) {
    const len = text[i] === '&' ? 5 : text[i] === '<' || text[i] === '>' ? 4 : 1;
    for (let k = 0; k < len; k++) map.push(i);
  }
  map.push(text.length);
  return (j) => map[Math.max(0, Math.min(map.length - 1, j))];
}

self.onmessage = async (e) => {
  const msg = e.data;
  try {
    if (msg.type === 'load') await load(msg);
    else if (msg.type === 'say') say(msg);
  } catch (err) {
    post({ id: msg.id, error: { code: err.code ?? 'INTERNAL', message: err.message ?? String(err) } });
  }
};
