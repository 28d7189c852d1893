// SyncTalk Web: how an Avatar fits the page it is on: the canvas's drawing
// size follows its CSS box and the device pixel ratio, nothing is drawn
// while no one can see it, and the head is held still for viewers who ask
// for reduced motion. Functions of the Avatar, kept apart from the class to
// keep each file to one idea.

import { wrap } from './synctalk-errors.js';

/**
 * The canvas's drawing size follows its CSS box times the device pixel
 * ratio, up to the portrait's own size (`size: 'auto'`, the default;
 * `'portrait'` keeps the portrait's size): a small avatar on a phone is
 * as sharp as a large one on a desktop, and never draws more pixels than
 * it shows. A canvas laid out at its own size (no CSS size) is given the
 * portrait's size in CSS pixels first, so that its drawing size cannot
 * change its layout.
 */
export function watchSize(avatar) {
  if (avatar._options.size === 'portrait' || typeof ResizeObserver === 'undefined') return;
  const c = avatar.canvas;
  const box = c.getBoundingClientRect();
  if (!c.style.width && !c.style.height && Math.round(box.width) === c.width && Math.round(box.height) === c.height) {
    c.style.width = `${avatar.info.width}px`;
    c.style.height = `${avatar.info.height}px`;
  }
  avatar._resizer = new ResizeObserver((entries) => {
    const e = entries[entries.length - 1];
    const device = e.devicePixelContentBoxSize?.[0];
    const dpr = globalThis.devicePixelRatio || 1;
    avatar._box = device ? [device.inlineSize, device.blockSize] : [e.contentRect.width * dpr, e.contentRect.height * dpr];
    applySize(avatar);
  });
  try {
    avatar._resizer.observe(c, { box: 'device-pixel-content-box' });
  } catch {
    avatar._resizer.observe(c);
  }
}

/** Sizes the canvas for its box (see `watchSize`); redraws the last
 * frame if the animation loop is not running (resizing clears it). */
export function applySize(avatar) {
  const b = avatar._box;
  if (!avatar._inner || !b || !(b[0] >= 1 && b[1] >= 1)) return;
  const before = `${avatar.canvas.width}x${avatar.canvas.height}`;
  avatar._inner.resize(Math.round(b[0]), Math.round(b[1]));
  if (`${avatar.canvas.width}x${avatar.canvas.height}` !== before && !avatar._raf && avatar._last) {
    try {
      avatar._draw(...avatar._last);
    } catch (e) {
      avatar._fail(wrap(e));
    }
  }
}

/** Whether drawing can be seen: the page is visible and the canvas on
 * screen (an IntersectionObserver and the page's visibility say so). */
export function watchVisibility(avatar) {
  if (avatar._options.pauseWhenHidden === false) return;
  if (typeof IntersectionObserver !== 'undefined') {
    avatar._observer = new IntersectionObserver((entries) => {
      avatar._shown.onScreen = entries[entries.length - 1].isIntersecting;
    });
    avatar._observer.observe(avatar.canvas);
  }
  if (typeof document !== 'undefined') {
    avatar._onVisibility = () => (avatar._shown.hidden = document.hidden);
    document.addEventListener('visibilitychange', avatar._onVisibility);
    avatar._onVisibility();
  }
}

/** Holds the head still (`value` true), lets it move (false), or follows
 * prefers-reduced-motion ('auto'): see Avatar.setReducedMotion. */
export function applyMotionPreference(avatar, value) {
  avatar._motionQuery?.removeEventListener('change', avatar._onMotionQuery);
  avatar._motionQuery = null;
  if (value === 'auto' && typeof matchMedia !== 'undefined') {
    avatar._motionQuery = matchMedia('(prefers-reduced-motion: reduce)');
    avatar._onMotionQuery = () => avatar._setting('setHeadStill', avatar._motionQuery.matches);
    avatar._motionQuery.addEventListener('change', avatar._onMotionQuery);
    avatar._onMotionQuery();
  } else {
    avatar._setting('setHeadStill', value === true);
  }
}
