// The JavaScript API an app integrates with, in Chromium (WebGPU on
// SwiftShader): speech queued, interrupted, stopped and aborted; loads
// aborted; the per-frame event; the audio output node and volume; dispose()
// closing its AudioContext; no drawing off screen; reduced motion; the
// element's keyboard and accessibility. Every wait is on a condition with a
// generous deadline, never on how many frames the software renderer draws
// in a fixed time.
//
// Needs: www/dist (scripts/web.sh).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from '../../www/node_modules/playwright-core/index.mjs';
import { ARGS, repo, serve } from './lib.mjs';

const outDir = join(repo, 'tests', 'browser', 'out');
const report = {};
let site;
let profile;
let context;
let page;

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
  page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', String(e)));
  await page.goto(site.url + 'index.html?test');
  await page.waitForFunction(() => window.__synctalkReady, null, { timeout: 120_000 });
  assert.equal(await page.evaluate(() => window.__synctalkReady), 'ok');
  await page.evaluate(HELPERS);
});

after(async () => {
  await context?.close();
  site?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  writeFileSync(join(outDir, 'api-report.json'), JSON.stringify(report, null, 2));
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
    // interrupt(): the long one ends at once, the queued one plays.
    const long = await window.clip(3);
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
  assert.ok(r.interrupted.first < 2.5, `the interrupted 3-s clip resolved after ${r.interrupted.first} s`);
  assert.ok(r.interrupted.second > r.interrupted.first + 0.9, `the queued clip: ${JSON.stringify(r.interrupted)}`);
  assert.equal(r.stopped.queued, 'AbortError');
  assert.equal(r.stopped.speaking, false);
});

test('an AbortSignal cancels speech, queued or playing, and a load', LIMIT, async () => {
  const r = await page.evaluate(async () => {
    const a = window.__synctalk;
    const long = await window.clip(3);
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
  assert.ok(r.playingSeconds < 2.5, `the aborted 3-s clip ended after ${r.playingSeconds} s`);
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
    a.canvas.style.cssText = 'width: 128px; height: 128px; position: absolute; top: 20000px';
    // Once the observer has seen it leave, the count stays put for 5 s.
    await new Promise((res) => setTimeout(res, 2000));
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
    await window.until('the preference to change', () => !a.reducedMotion, 10);
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
  await p.waitForFunction(() => document.querySelector('synctalk-avatar').avatar, null, { timeout: 120_000 });
  const r = await p.evaluate(() => {
    const el = document.querySelector('synctalk-avatar');
    window.__heard = [];
    document.addEventListener('speechstart', (e) => window.__heard.push(e.composedPath()[0].tagName));
    return { role: el.getAttribute('role'), label: el.getAttribute('aria-label'), tabIndex: el.tabIndex };
  });
  await p.focus('synctalk-avatar');
  await p.keyboard.press('Enter');
  await p.waitForFunction(() => window.__heard.length > 0, null, { timeout: 60_000 });
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
