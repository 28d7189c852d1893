// The JavaScript API an app integrates with, in Chromium (WebGPU on
// SwiftShader): speech queued, interrupted, stopped and aborted; loads
// aborted; the per-frame event; the audio output node and volume; dispose()
// closing its AudioContext; no drawing off screen; reduced motion; the
// element's keyboard and accessibility; typed text spoken offline with
// subtitles and captions. Every wait is on a condition with a
// generous deadline, never on how many frames the software renderer draws
// in a fixed time.
//
// Needs: www/dist (scripts/web.sh).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from '../../www/node_modules/playwright-core/index.mjs';
import { ARGS, POLLING, repo, serve } from './lib.mjs';

const outDir = join(repo, 'tests', 'browser', 'out');
const report = {};
let site;
let profile;
let context;
let page;
const foreign = [];
const pageErrors = [];

// In the page: `until(cond, seconds)` polls a condition (deadline: an error
// naming it); `clip(seconds)` is that much of the sample speech at 16 kHz
// (repeated as needed).
const HELPERS = `
window.until = async (what, cond, seconds = 120) => {
  const end = performance.now() + seconds * 1000;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (performance.now() > end) throw new Error('waited ' + seconds + ' s for ' + what);
    await new Promise((r) => setTimeout(r, 50));
  }
};
window.clip = async (seconds, from = 0.5) => {
  window.__jfk ??= (await new OfflineAudioContext(1, 16000, 16000).decodeAudioData(await (await fetch('./assets/jfk.wav')).arrayBuffer())).getChannelData(0);
  const out = new Float32Array(Math.round(seconds * 16000));
  const jfk = window.__jfk;
  for (let i = 0; i < out.length; i++) out[i] = jfk[(Math.round(from * 16000) + i) % jfk.length];
  return out;
};
window.newAvatar = async (options = {}) => {
  const { Avatar } = await import('./synctalk/synctalk.js');
  const c = document.createElement('canvas');
  c.style.cssText = 'width: 128px; height: 128px; display: block';
  document.body.prepend(c);
  return Avatar.load(c, './assets/demo.stk', options);
};
`;

before(async () => {
  mkdirSync(outDir, { recursive: true });
  site = await serve(join(repo, 'www', 'dist'), '/api/');
  profile = mkdtempSync(join(tmpdir(), 'synctalk-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ARGS,
    viewport: { width: 800, height: 900 },
  });
  // Nothing but the site itself is contacted (the synthesiser included).
  const origin = new URL(site.url).origin;
  context.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:')) foreign.push(u);
  });
  page = await context.newPage();
  page.on('pageerror', (e) => {
    console.error('page error:', String(e));
    pageErrors.push(String(e));
  });
  await page.goto(site.url + 'index.html?test');
  await page.waitForFunction(() => window.__synctalkReady, null, { polling: POLLING, timeout: 120_000 });
  assert.equal(await page.evaluate(() => window.__synctalkReady), 'ok');
  await page.evaluate(HELPERS);
});

after(async () => {
  await context?.close();
  site?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  writeFileSync(join(outDir, 'api-report.json'), JSON.stringify(report, null, 2));
  assert.deepEqual(foreign, [], `requests to other origins: ${foreign.join(', ')}`);
  // The demo page's own handlers (captions, messages) must not throw either.
  assert.deepEqual(pageErrors, [], `errors in the page: ${pageErrors.join('; ')}`);
});

const LIMIT = { timeout: 240_000 };

test('speech queues in order; interrupt() moves to the next; stop() cancels the queue', LIMIT, async () => {
  const r = await page.evaluate(async () => {
    const a = window.__synctalk;
    const log = [];
    const t0 = performance.now();
    const at = () => ((performance.now() - t0) / 1000).toFixed(2);
    const on = (e) => log.push(`${e.type}@${at()}`);
    a.addEventListener('speechstart', on);
    a.addEventListener('speechend', on);
    const one = await window.clip(1);
    const done = [];
    const p = [1, 2, 3].map((k) => a.speak(one, 16000, { mute: true, queue: k > 1 }).then(() => done.push(k)));
    await Promise.all(p);
    const queued = { order: done.slice(), seconds: (performance.now() - t0) / 1000, events: log.slice() };
    // interrupt(): the long one (10 s) ends at once, the queued one plays.
    const long = await window.clip(10);
    const t1 = performance.now();
    const first = a.speak(long, 16000, { mute: true }).then(() => (performance.now() - t1) / 1000);
    const second = a.speak(one, 16000, { mute: true, queue: true }).then(() => (performance.now() - t1) / 1000);
    await window.until('speaking', () => a.speaking, 30);
    a.interrupt();
    const interrupted = { first: await first, second: await second };
    // stop(): the playing one resolves, the queued ones reject (AbortError).
    const s1 = a.speak(long, 16000, { mute: true });
    const s2 = a.speak(one, 16000, { mute: true, queue: true }).then(() => 'played', (e) => e.name);
    await window.until('speaking', () => a.speaking, 30);
    a.stop();
    await s1;
    const stopped = { queued: await s2, speaking: a.speaking };
    a.removeEventListener('speechstart', on);
    a.removeEventListener('speechend', on);
    return { queued, interrupted, stopped };
  });
  report.queue = r;
  assert.deepEqual(r.queued.order, [1, 2, 3]);
  assert.ok(r.queued.seconds >= 2.9, `three 1-s clips took ${r.queued.seconds} s`);
  assert.deepEqual(r.queued.events.map((e) => e.split('@')[0]), ['speechstart', 'speechend', 'speechstart', 'speechend', 'speechstart', 'speechend']);
  assert.ok(r.interrupted.first < 8, `the interrupted 10-s clip resolved after ${r.interrupted.first} s`);
  assert.ok(r.interrupted.second > r.interrupted.first + 0.9, `the queued clip: ${JSON.stringify(r.interrupted)}`);
  assert.equal(r.stopped.queued, 'AbortError');
  assert.equal(r.stopped.speaking, false);
});

test('an AbortSignal cancels speech, queued or playing, and a load', LIMIT, async () => {
  const r = await page.evaluate(async () => {
    const a = window.__synctalk;
    const long = await window.clip(10);
    const out = {};
    // Playing: rejects with the signal's reason, the lips stop.
    const c1 = new AbortController();
    const t0 = performance.now();
    const p1 = a.speak(long, 16000, { mute: true, signal: c1.signal }).then(() => 'resolved', (e) => e.message);
    await window.until('speaking', () => a.speaking, 30);
    c1.abort(new Error('enough'));
    out.playing = await p1;
    out.playingSeconds = (performance.now() - t0) / 1000;
    out.afterAbort = a.speaking;
    // Queued: rejects at once; the one playing goes on.
    const c2 = new AbortController();
    const first = a.speak(long, 16000, { mute: true });
    const queued = a.speak(long, 16000, { mute: true, queue: true, signal: c2.signal }).then(() => 'resolved', (e) => e.name);
    await window.until('speaking', () => a.speaking, 30);
    c2.abort();
    out.queued = await queued;
    out.firstStillSpeaking = a.speaking;
    a.stop();
    await first;
    // Aborted before it starts, and during the download.
    const { Avatar } = await import('./synctalk/synctalk.js');
    const c3 = new AbortController();
    c3.abort();
    out.loadBefore = await Avatar.load(document.createElement('canvas'), './assets/demo.stk', { signal: c3.signal }).then(() => 'loaded', (e) => e.name);
    const c4 = new AbortController();
    out.loadDuring = await Avatar.load(document.createElement('canvas'), './assets/demo.stk', {
      signal: c4.signal, onProgress: () => c4.abort(new Error('changed my mind')),
    }).then(() => 'loaded', (e) => e.message);
    return out;
  });
  report.abort = r;
  assert.equal(r.playing, 'enough');
  assert.ok(r.playingSeconds < 8, `the aborted 10-s clip ended after ${r.playingSeconds} s`);
  assert.equal(r.afterAbort, false);
  assert.equal(r.queued, 'AbortError');
  assert.equal(r.firstStillSpeaking, true);
  assert.equal(r.loadBefore, 'AbortError');
  assert.equal(r.loadDuring, 'changed my mind');
});

test('the frame event carries each drawn frame\'s blendshapes', LIMIT, async () => {
  const r = await page.evaluate(async () => {
    const a = window.__synctalk;
    const frames = [];
    const onFrame = (e) => frames.push(e.detail);
    a.addEventListener('frame', onFrame);
    a.start();
    const done = a.speak(await window.clip(60, 0), 16000, { mute: true });
    await window.until('two drawn frames that follow speech', () => frames.filter((f) => f.speaking).length >= 2, 150);
    const last = frames[frames.length - 1];
    const jawIndex = a.constructor.blendshapeNames.indexOf('jawOpen');
    const stats = a.stats();
    a.removeEventListener('frame', onFrame);
    const n = frames.length;
    await window.until('another drawn frame', () => a.stats().framesRendered > stats.framesRendered, 60);
    a.pause();
    a.stop();
    await done;
    return {
      n, after: frames.length, length: last.blendshapes.length, type: last.blendshapes.constructor.name,
      jaw: last.blendshapes[jawIndex], statsJaw: stats.jawOpen, clockIncreases: frames.every((f, i) => i === 0 || f.clock >= frames[i - 1].clock),
      speechTimes: frames.filter((f) => f.speaking).map((f) => f.speechTime),
    };
  });
  report.frameEvent = r;
  assert.equal(r.length, 52);
  assert.equal(r.type, 'Float32Array');
  assert.ok(Math.abs(r.jaw - r.statsJaw) < 1e-6, `event jaw ${r.jaw}, stats jaw ${r.statsJaw}`);
  assert.ok(r.clockIncreases);
  assert.ok(r.speechTimes.every((t) => t >= 0 && t < 60), JSON.stringify(r.speechTimes));
  assert.equal(r.after, r.n, 'events after removeEventListener');
});

test('speech plays through the output node at the set volume', LIMIT, async () => {
  const r = await page.evaluate(async () => {
    const a = window.__synctalk;
    const ctx = a.output.context;
    const analyser = ctx.createAnalyser();
    a.output.disconnect();
    a.output.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    const loudness = async (volume) => {
      a.volume = volume;
      const done = a.speak(await window.clip(2), 16000);
      let peak = 0;
      await window.until('speaking', () => a.speaking, 30);
      const end = performance.now() + 1000;
      while (performance.now() < end) {
        analyser.getFloatTimeDomainData(buf);
        for (const x of buf) peak = Math.max(peak, Math.abs(x));
        await new Promise((res) => setTimeout(res, 20));
      }
      a.stop();
      await done;
      return peak;
    };
    const full = await loudness(1);
    const half = await loudness(0.25);
    const silent = await loudness(0);
    let bad = null;
    try {
      a.volume = -1;
    } catch (e) {
      bad = e.code;
    }
    a.volume = 1;
    a.output.disconnect();
    a.output.connect(ctx.destination);
    return { full, half, silent, bad };
  });
  report.output = r;
  assert.ok(r.full > 0.05, `peak ${r.full} at volume 1`);
  assert.ok(r.half < 0.5 * r.full && r.half > 0.05 * r.full, `peak ${r.half} at volume 0.25 against ${r.full}`);
  assert.equal(r.silent, 0);
  assert.equal(r.bad, 'BAD_ARGUMENT');
});

test('dispose() closes the AudioContext the avatar opened, not one it was given', LIMIT, async () => {
  const r = await page.evaluate(async () => {
    const own = await window.newAvatar({ autoStart: false });
    await own.speak(await window.clip(0.2), 16000, { mute: true });
    const ctx = own.output.context;
    own.dispose();
    await window.until('the context to close', () => ctx.state === 'closed', 30);
    const given = new AudioContext();
    const lent = await window.newAvatar({ autoStart: false, audioContext: given });
    await lent.speak(await window.clip(0.2), 16000, { mute: true });
    lent.dispose();
    await new Promise((res) => setTimeout(res, 500));
    const state = given.state;
    await given.close();
    let after = null;
    try {
      own.stats();
    } catch (e) {
      after = e.code;
    }
    return { own: ctx.state, given: state, after };
  });
  assert.equal(r.own, 'closed');
  assert.notEqual(r.given, 'closed');
  assert.equal(r.after, 'DISPOSED');
});

test('nothing is drawn while the canvas is off screen; drawing resumes when it is back', LIMIT, async () => {
  const r = await page.evaluate(async () => {
    const a = await window.newAvatar();
    const frames = () => a.stats().framesRendered;
    const f0 = frames();
    await window.until('a frame on screen', () => frames() > f0, 120);
    // Once an observer (created after the avatar's, so told after it) has
    // seen the canvas leave, and one more animation frame has passed, the
    // count stays put for 5 s.
    const left = new Promise((res) => {
      const seen = new IntersectionObserver((entries) => {
        if (!entries[entries.length - 1].isIntersecting) {
          seen.disconnect();
          res();
        }
      });
      seen.observe(a.canvas);
    });
    a.canvas.style.cssText = 'width: 128px; height: 128px; position: absolute; top: 20000px';
    await left;
    await new Promise((res) => requestAnimationFrame(() => res()));
    const hidden0 = frames();
    await new Promise((res) => setTimeout(res, 5000));
    const hidden1 = frames();
    a.canvas.style.cssText = 'width: 128px; height: 128px; display: block';
    await window.until('a frame back on screen', () => frames() > hidden1, 120);
    a.dispose();
    a.canvas.remove();
    return { hidden0, hidden1 };
  });
  report.offscreen = r;
  assert.equal(r.hidden1, r.hidden0, `${r.hidden1 - r.hidden0} frames drawn off screen`);
});

test('reduced motion holds the head still and follows the viewer\'s setting', LIMIT, async () => {
  await page.emulateMedia({ reducedMotion: 'reduce' });
  const r = await page.evaluate(async () => {
    const a = await window.newAvatar({ autoStart: false });
    const pose = (t) => {
      a.renderAt(t, undefined);
      return a.stats().poseFrame;
    };
    const still = { reduced: a.reducedMotion, poses: [pose(0), pose(4), pose(9)] };
    window.__reduced = a;
    return still;
  });
  await page.emulateMedia({ reducedMotion: 'no-preference' });
  const moving = await page.evaluate(async () => {
    const a = window.__reduced;
    await window.until('the preference to change', () => !a.reducedMotion, 120);
    const poses = [0, 4, 9].map((t) => {
      a.renderAt(t, undefined);
      return a.stats().poseFrame;
    });
    a.setReducedMotion(true);
    const forced = a.reducedMotion;
    let bad = null;
    try {
      a.setReducedMotion('sometimes');
    } catch (e) {
      bad = e.code;
    }
    a.dispose();
    a.canvas.remove();
    return { reduced: false, poses, forced, bad };
  });
  report.reducedMotion = { still: r, moving };
  assert.equal(r.reduced, true);
  assert.equal(new Set(r.poses).size, 1, `poses ${r.poses} with reduced motion`);
  assert.ok(new Set(moving.poses).size > 1, `poses ${moving.poses} without it`);
  assert.equal(moving.forced, true);
  assert.equal(moving.bad, 'BAD_ARGUMENT');
});

test('the element is a labelled button that Enter activates, and its events bubble', LIMIT, async () => {
  const p = await context.newPage();
  await p.goto(site.url + 'element.html');
  await p.waitForFunction(() => document.querySelector('synctalk-avatar').avatar, null, { polling: POLLING, timeout: 120_000 });
  const r = await p.evaluate(() => {
    const el = document.querySelector('synctalk-avatar');
    window.__heard = [];
    document.addEventListener('speechstart', (e) => window.__heard.push(e.composedPath()[0].tagName));
    return { role: el.getAttribute('role'), label: el.getAttribute('aria-label'), tabIndex: el.tabIndex };
  });
  await p.focus('synctalk-avatar');
  await p.keyboard.press('Enter');
  await p.waitForFunction(() => window.__heard.length > 0, null, { polling: POLLING, timeout: 60_000 });
  const heard = await p.evaluate(() => {
    document.querySelector('synctalk-avatar').stop();
    return window.__heard;
  });
  await p.close();
  report.element = { ...r, heard };
  assert.equal(r.role, 'button');
  assert.equal(r.tabIndex, 0);
  assert.match(r.label, /^Talking portrait of .+: press to hear it speak$/);
  assert.deepEqual(heard, ['SYNCTALK-AVATAR']);
});

test('say() speaks typed text offline, with subtitles, in several languages; bad input is refused', LIMIT, async () => {
  const r = await page.evaluate(async () => {
    const a = window.__synctalk;
    const text = 'Hello world, this is a test of typed speech.';
    const words = [];
    const onWord = (e) => words.push(e.detail);
    a.addEventListener('subtitle', onWord);
    let loaded = null;
    const jaw = [];
    let speaking = 0;
    const lips = new Set();
    const t0 = performance.now();
    const done = a.say(text, { mute: true, onProgress: (l, t) => (loaded = [l, t]) });
    const timer = setInterval(() => {
      jaw.push(a.blendshapes().jawOpen);
      speaking += a.speaking ? 1 : 0;
      if (a.speaking) lips.add(a.stats().lips);
    }, 40);
    await done;
    clearInterval(timer);
    const seconds = (performance.now() - t0) / 1000;
    const mean = jaw.reduce((x, y) => x + y, 0) / jaw.length;
    const jawStd = Math.sqrt(jaw.reduce((x, y) => x + (y - mean) ** 2, 0) / jaw.length);
    const english = { words: words.map((w) => [w.word, w.from, w.to, +w.start.toFixed(2), +w.end.toFixed(2)]), text, seconds, jawStd, speaking, samples: jaw.length, loaded, lips: [...lips] };
    // The same sentence with Face-Sync hearing it instead of its phones.
    lips.clear();
    const heard = a.say(text, { mute: true, lips: 'sound' });
    const timer2 = setInterval(() => a.speaking && lips.add(a.stats().lips), 40);
    await heard;
    clearInterval(timer2);
    english.lipsFromSound = [...lips];
    const others = {};
    for (const [voice, t] of [['de', 'Guten Tag, wie geht es Ihnen heute?'], ['fr', 'Bonjour, comment allez-vous aujourd\'hui ?'], ['es', 'Hola, ¿cómo estás hoy?']]) {
      words.length = 0;
      const t1 = performance.now();
      await a.say(t, { voice, mute: true });
      others[voice] = { words: words.map((w) => w.word), seconds: (performance.now() - t1) / 1000 };
    }
    a.removeEventListener('subtitle', onWord);
    const refuse = async (text, options) => a.say(text, { mute: true, ...options }).then(() => 'spoken', (e) => `${e.code}: ${e.message}`);
    const bad = {
      voice: await refuse('Hello', { voice: 'xx-nowhere' }),
      empty: await refuse('   '),
      long: await refuse('a'.repeat(10_001)),
      rate: await refuse('Hello', { rate: 9 }),
      lips: await refuse('Hello', { lips: 'mime' }),
    };
    return { english, others, bad };
  });
  report.say = r;
  const { english } = r;
  assert.equal(english.words[0][0], 'Hello', JSON.stringify(english.words));
  assert.ok(english.words.length >= 8, JSON.stringify(english.words));
  for (const [word, from, to] of english.words) assert.equal(english.text.slice(from, to), word);
  assert.ok(english.words.every((w, i) => i === 0 || (w[1] > english.words[i - 1][1] && w[3] >= english.words[i - 1][3])), 'words in order');
  assert.ok(english.seconds > 1.5 && english.seconds < 60, `said in ${english.seconds} s`);
  assert.ok(english.speaking > english.samples / 2, `speaking in ${english.speaking} of ${english.samples} samples`);
  assert.ok(english.jawStd > 0.01, `jaw std ${english.jawStd}`);
  // The mouth followed eSpeak's phones (the demo's Face-Sync has a shape
  // for each), or the sound when asked.
  assert.deepEqual(english.lips, ['phones']);
  assert.deepEqual(english.lipsFromSound, ['sound']);
  assert.ok(english.loaded === null || english.loaded[0] > 1e7, `synthesiser download ${english.loaded}`);
  assert.equal(r.others.de.words[0], 'Guten');
  assert.equal(r.others.fr.words[0], 'Bonjour');
  assert.equal(r.others.es.words[0], 'Hola');
  assert.match(r.bad.voice, /^BAD_ARGUMENT: unknown voice 'xx-nowhere'/);
  assert.match(r.bad.empty, /^BAD_ARGUMENT: say\(\) needs some text/);
  assert.match(r.bad.long, /^BAD_ARGUMENT: say\(\) takes at most 10000 characters/);
  assert.match(r.bad.rate, /^BAD_ARGUMENT: rate 9 must be/);
  assert.match(r.bad.lips, /^BAD_ARGUMENT: lips 'mime' must be 'phones'/);
});

test('the element says its text on Enter and captions the word being heard', LIMIT, async () => {
  const p = await context.newPage();
  await p.goto(site.url + 'element.html');
  await p.waitForFunction(() => document.querySelector('synctalk-avatar').avatar, null, { polling: POLLING, timeout: 120_000 });
  await p.evaluate(() => {
    const el = document.querySelector('synctalk-avatar');
    el.id = 'talker';
    el.removeAttribute('audio');
    el.setAttribute('tts', 'synctalk/tts/espeak-ng.js');
    el.setAttribute('text', 'Good morning. Shall we begin?');
    window.__captions = [];
    el.addEventListener('subtitle', () => {
      const c = el.shadowRoot.querySelector('.captions');
      window.__captions.push({ hidden: c.hidden, text: c.textContent, mark: c.querySelector('mark')?.textContent, live: c.getAttribute('aria-live') });
    });
  });
  await p.focus('#talker');
  await p.keyboard.press('Enter');
  await p.waitForFunction(() => window.__captions.length >= 3, null, { polling: POLLING, timeout: 120_000 });
  const r = await p.evaluate(() => ({ captions: window.__captions, label: document.getElementById('talker').getAttribute('aria-label') }));
  await p.evaluate(() => document.querySelectorAll('synctalk-avatar').forEach((el) => el.remove()));
  await p.close();
  report.elementSay = r;
  assert.match(r.label, /press to hear it speak$/);
  const first = r.captions[0];
  assert.deepEqual([first.hidden, first.mark, first.live], [false, 'Good', 'polite']);
  assert.equal(first.text, 'Good morning.');
  assert.ok(r.captions.some((c) => c.text === 'Shall we begin?'), JSON.stringify(r.captions));
});

test('a TTS service\'s stream: 16-bit PCM, base64 and MP3 chunks cut anywhere, with word timings as subtitles', LIMIT, async () => {
  // An MP3 of the sample speech, as a service would send it.
  const mp3 = execFileSync('ffmpeg', ['-v', 'error', '-i', join(repo, 'www', 'assets', 'speech', 'jfk.wav'),
    '-codec:a', 'libmp3lame', '-b:a', '64k', '-f', 'mp3', '-'], { maxBuffer: 1 << 24 }).toString('base64');
  const r = await page.evaluate(async (mp3b64) => {
    const { decodeChunks } = await import('./synctalk/synctalk-chunks.js');
    const a = window.__synctalk;
    const pcm = await window.clip(3);
    const int16 = Int16Array.from(pcm, (x) => Math.max(-32768, Math.min(32767, Math.round(x * 32767))));
    const bytes = new Uint8Array(int16.buffer);
    // Cuts at odd places: a sample split between chunks.
    const cut = (b, size) => Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size));
    const streamOf = (items) => new ReadableStream({ start(c) { items.forEach((x) => c.enqueue(x)); c.close(); } });
    const collect = async (format, items, rate) => {
      const chunks = decodeChunks(streamOf(items), format, rate);
      const parts = [];
      const reader = chunks.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value.samples);
      }
      const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      return out;
    };
    const maxErr = (x, y) => {
      let m = x.length === y.length ? 0 : Infinity;
      for (let i = 0; i < Math.min(x.length, y.length); i++) m = Math.max(m, Math.abs(x[i] - y[i]));
      return m;
    };
    const s16 = await collect('s16', cut(bytes, 3333), 16000);
    const b64 = await collect('base64-s16', cut(bytes, 3001).map((b) => btoa(String.fromCharCode(...b))), 16000);
    // MP3 cut into 1000-byte pieces against the whole file decoded at once
    // (at its own rate, as the pieces are).
    const mp3 = Uint8Array.from(atob(mp3b64), (c) => c.charCodeAt(0));
    const whole = (await new OfflineAudioContext(1, 1, 16000).decodeAudioData(mp3.slice().buffer)).getChannelData(0);
    const pieces = await collect('mp3', cut(mp3, 1000));
    // The best alignment (the decoder's delay may differ by a frame) and the
    // SNR of the pieces against the whole.
    let best = { snr: -Infinity, shift: 0 };
    for (let shift = -1800; shift <= 1800; shift += 1) {
      let sig = 0;
      let err = 0;
      for (let i = 4800; i < Math.min(whole.length, pieces.length) - 4800; i += 13) {
        const y = pieces[i + shift];
        sig += whole[i] * whole[i];
        err += (whole[i] - y) ** 2;
      }
      const snr = 10 * Math.log10(sig / err);
      if (snr > best.snr) best = { snr, shift };
    }
    // End to end: base64 chunks with word timings, as a service streams them.
    const words = [];
    const onWord = (e) => words.push(e.detail.word);
    a.addEventListener('subtitle', onWord);
    const chunks = cut(bytes, 6400).map((b, i) => ({
      audio: btoa(String.fromCharCode(...b)),
      words: i === 0 ? [{ word: 'And', start: 0.1, end: 0.3 }, { word: 'so', start: 0.35, end: 0.5 }] : i === 3 ? [{ word: 'my', start: 0.9, end: 1.0 }] : [],
    }));
    const jaw = [];
    const timer = setInterval(() => jaw.push(a.blendshapes().jawOpen), 40);
    await a.speak(streamOf(chunks), 16000, { format: 'base64-s16', mute: true });
    clearInterval(timer);
    a.removeEventListener('subtitle', onWord);
    const mean = jaw.reduce((x, y) => x + y, 0) / jaw.length;
    const refuse = async (format, item, rate = 16000) => a.speak(streamOf([item]), rate, { format, mute: true }).then(() => 'spoken', (e) => `${e.code}: ${e.message}`);
    return {
      s16: { n: s16.length, want: int16.length, err: maxErr(s16, Float32Array.from(int16, (v) => v / 32768)) },
      b64: { err: maxErr(b64, s16) },
      mp3: { whole: whole.length, pieces: pieces.length, ...best },
      words,
      jawStd: Math.sqrt(jaw.reduce((x, y) => x + (y - mean) ** 2, 0) / jaw.length),
      bad: {
        format: await refuse('ogg', new Uint8Array(4)),
        base64: await refuse('base64-s16', '@@not base64@@'),
        mp3: await refuse('mp3', new Uint8Array(70000).fill(7)),
        f32: await refuse('f32', 'text'),
      },
    };
  }, mp3);
  report.streamFormats = r;
  assert.equal(r.s16.n, r.s16.want);
  assert.equal(r.s16.err, 0);
  assert.equal(r.b64.err, 0);
  assert.ok(Math.abs(r.mp3.pieces - r.mp3.whole) < 0.05 * r.mp3.whole, `MP3 in pieces: ${r.mp3.pieces} samples, whole: ${r.mp3.whole}`);
  assert.ok(r.mp3.snr > 25, `MP3 in 1000-byte pieces against the whole file: ${r.mp3.snr.toFixed(1)} dB (shift ${r.mp3.shift})`);
  assert.deepEqual(r.words, ['And', 'so', 'my']);
  assert.ok(r.jawStd > 0.01, `jaw std ${r.jawStd}`);
  assert.match(r.bad.format, /^BAD_ARGUMENT: format 'ogg' must be one of/);
  assert.match(r.bad.base64, /^BAD_AUDIO: a base64-s16 chunk is not valid base64/);
  assert.match(r.bad.mp3, /^BAD_AUDIO: the MP3 stream has no frame header/);
  assert.match(r.bad.f32, /^BAD_ARGUMENT: stream chunks must be Float32Arrays/);
});

test('the canvas draws at its CSS size times the device pixel ratio, up to the portrait\'s; transparent avatars show the page', LIMIT, async () => {
  // A browser whose screen has two device pixels per CSS pixel (a phone,
  // a HiDPI laptop), and a page with a red background.
  const dir = mkdtempSync(join(tmpdir(), 'synctalk-chromium-dpr2-'));
  const hidpi = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true,
    args: [...ARGS, '--force-device-scale-factor=2'], viewport: { width: 800, height: 900 }, deviceScaleFactor: 2,
  });
  const p = await hidpi.newPage();
  // A page of the site with nothing on it (the static server's listing of a folder).
  await p.goto(site.url + 'synctalk/');
  const r = await p.evaluate(async () => {
    document.body.replaceChildren();
    document.body.style.background = 'rgb(255, 0, 0)';
    const { Avatar } = await import('./synctalk.js');
    const until = async (cond) => {
      for (let i = 0; i < 600 && !cond(); i++) await new Promise((res) => setTimeout(res, 50));
      return cond();
    };
    const c = document.createElement('canvas');
    c.style.cssText = 'width: 200px; height: 200px; display: block; position: absolute; left: 0; top: 0';
    document.body.append(c);
    const a = await Avatar.load(c, '../assets/demo.stk', { autoStart: false, transparent: true });
    a.renderAt(0, undefined);
    await until(() => c.width === 400);
    const small = [c.width, c.height];
    c.style.width = c.style.height = '300px';
    await until(() => c.width === 512);
    const capped = [c.width, c.height];
    const { data } = await a.readPixels();
    // The portrait's own pixels: a corner (the background plate's place) is
    // transparent, the middle of the face is not.
    const alphaAt = (x, y) => data[4 * (y * 512 + x) + 3];
    a.renderAt(0, undefined);
    return { dpr: devicePixelRatio, small, capped, corner: alphaAt(5, 5), face: alphaAt(256, 250), info: [a.info.width, a.info.height] };
  });
  // The page through the canvas: red in the corner, the face in the middle.
  const shot = await p.screenshot({ clip: { x: 0, y: 0, width: 300, height: 300 }, scale: 'css' });
  const px = await p.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const g = c.getContext('2d');
    g.drawImage(bmp, 0, 0);
    const at = (x, y) => Array.from(g.getImageData(Math.round(x * bmp.width), Math.round(y * bmp.height), 1, 1).data.slice(0, 3));
    return { corner: at(0.02, 0.02), face: at(0.5, 0.48) };
  }, shot.toString('base64'));
  await hidpi.close();
  rmSync(dir, { recursive: true, force: true });
  report.sizeAndTransparency = { ...r, screenshot: px };
  assert.equal(r.dpr, 2);
  assert.deepEqual(r.small, [400, 400], 'a 200-px canvas at ratio 2 draws 400 pixels');
  assert.deepEqual(r.capped, r.info, 'a 300-px canvas at ratio 2 draws the portrait\'s 512');
  assert.ok(r.corner <= 5, `the background is transparent (alpha ${r.corner})`);
  assert.ok(r.face >= 250, `the face is opaque (alpha ${r.face})`);
  assert.deepEqual(px.corner, [255, 0, 0], 'the page shows through the corner');
  assert.notDeepEqual(px.face, [255, 0, 0], 'the face covers the page');
});

test('the three.js example shows the avatar as a texture in a 3D scene, the scene showing through', LIMIT, async () => {
  const p = await context.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.goto(site.url + 'examples/three.html?test');
  await p.waitForFunction(() => window.__ready, null, { polling: POLLING, timeout: 120_000 });
  assert.equal(await p.evaluate(() => window.__ready), 'ok', errors.join('\n'));
  // The avatar's own frame, as readPixels gives it (straight alpha).
  const frame = await p.evaluate(async () => {
    window.__drawScene(0);
    const { data } = await window.__avatar.readPixels();
    return btoa(Array.from(data, (c) => String.fromCharCode(c)).join(''));
  });
  await p.evaluate(() => new Promise((res) => requestAnimationFrame(() => res())));
  const box = await p.locator('#scene').boundingBox();
  const shot = await p.screenshot({ clip: { x: Math.round(box.x), y: Math.round(box.y), width: 512, height: 512 } });
  const r = await p.evaluate(async ([shotB64, frameB64]) => {
    const bytes = Uint8Array.from(atob(shotB64), (c) => c.charCodeAt(0));
    const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const g = c.getContext('2d');
    g.drawImage(bmp, 0, 0);
    const shown = g.getImageData(0, 0, bmp.width, bmp.height).data;
    const f = Uint8Array.from(atob(frameB64), (ch) => ch.charCodeAt(0));
    // The frame over the scene's blue, against what three.js drew.
    const blue = [30, 80, 200];
    let se = 0;
    let n = 0;
    let showing = 0;
    let through = 0;
    for (let i = 0; i < f.length; i += 4) {
      const a = f[i + 3] / 255;
      for (let k = 0; k < 3; k++) {
        const want = f[i + k] * a + blue[k] * (1 - a);
        se += (want - shown[i + k]) ** 2;
        n++;
      }
      if (a === 0) through += shown[i] === blue[0] && shown[i + 1] === blue[1] && shown[i + 2] === blue[2] ? 1 : 0;
      else showing++;
    }
    const transparent = f.filter((_, i) => i % 4 === 3 && f[i] === 0).length;
    return { psnr: 10 * Math.log10((255 * 255) / (se / n)), transparent, through, showing, size: [bmp.width, bmp.height] };
  }, [shot.toString('base64'), frame]);
  report.three = { ...r, revision: await p.evaluate(() => window.__three.THREE) };
  await p.close();
  assert.deepEqual(errors, []);
  assert.ok(r.psnr >= 30, `the scene vs the avatar's frame over its background: ${r.psnr.toFixed(1)} dB`);
  assert.ok(r.transparent > 10_000 && r.through > 0.95 * r.transparent, `${r.through} of ${r.transparent} transparent pixels show the scene`);
  assert.ok(r.showing > 50_000, `${r.showing} pixels of the avatar`);
});
