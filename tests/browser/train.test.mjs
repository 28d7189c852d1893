// The native trainer in a web page (issue 19, point 6): synctalk-train-web
// opens the six-frame dataset fixture from files the page fetched and takes
// training steps on Chromium's WebGPU (SwiftShader here), awaiting every
// read-back. The loss must fall and stay a number. The only deadline is a
// generous one on the whole run, never on how fast a step is drawn.
//
// Needs: tests/browser/out/train-site (scripts/browser-test.sh builds it).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from '../../www/node_modules/playwright-core/index.mjs';
import { ARGS, POLLING, repo, serve } from './lib.mjs';

const outDir = join(repo, 'tests', 'browser', 'out');
const siteDir = join(outDir, 'train-site');
const STEPS = 12;
let site;
let profile;
let context;

before(async () => {
  assert.ok(existsSync(join(siteDir, 'pkg', 'synctalk_train_web.js')), `${siteDir}: build it with scripts/browser-test.sh`);
  mkdirSync(outDir, { recursive: true });
  site = await serve(siteDir, '/train/');
  profile = mkdtempSync(join(tmpdir(), 'synctalk-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ARGS,
  });
});

after(async () => {
  await context?.close();
  site?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('the trainer takes steps in the page and the loss falls', { timeout: 1_200_000 }, async () => {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(site.url + 'index.html');
  await page.waitForFunction(() => window.__ready, null, { polling: POLLING, timeout: 60_000 });
  const t0 = Date.now();
  const report = await page.evaluate(([steps, points]) => window.train(steps, points), [STEPS, 800]);
  const seconds = (Date.now() - t0) / 1000;
  writeFileSync(join(outDir, 'train-report.json'), JSON.stringify({ ...report, seconds }, null, 1));
  assert.deepEqual(errors, []);
  assert.equal(report.backend, 'BrowserWebGpu');
  assert.deepEqual(report.size, [512, 512]);
  assert.equal(report.frames, 6);
  assert.ok(report.gaussians > 800, `${report.gaussians} Gaussians`);
  assert.equal(report.losses.length, STEPS);
  for (const [i, l] of report.losses.entries()) {
    assert.ok(l.every(Number.isFinite), `step ${i}: ${l}`);
  }
  const first = report.losses[0][0];
  const last = report.losses.at(-1)[0];
  const median = [...report.ms].sort((a, b) => a - b)[Math.floor(STEPS / 2)];
  console.log(`train in the page (${report.adapter || 'an unnamed WebGPU adapter'}): loss ${first.toFixed(4)} -> ${last.toFixed(4)} in ${STEPS} steps, `
    + `${report.gaussians} Gaussians, ${median.toFixed(0)} ms a step (median), ${seconds.toFixed(0)} s in all`);
  // On one frame from the same start, every step lowers the loss.
  for (let i = 1; i < STEPS; i++) {
    assert.ok(report.losses[i][0] < report.losses[i - 1][0], `step ${i}: ${report.losses[i][0]} after ${report.losses[i - 1][0]}`);
  }
  assert.ok(last < 0.97 * first, `the loss fell from ${first} to ${last} only`);
  // SSIM of the composite rises as the loss falls.
  assert.ok(report.losses.at(-1)[2] > report.losses[0][2], 'SSIM rose');
  await page.close();
});
