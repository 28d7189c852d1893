// The demo page: the demo portrait, sample speech, drag and drop, the
// microphone, an FPS and timing overlay, and a clear message where WebGPU is
// missing.
import { Avatar, SyncTalkError } from './synctalk/synctalk.js';

// Typed text is spoken by eSpeak NG (GPL-3.0-or-later: synctalk/tts/COPYING),
// which the package ships and loads on the first say().

const $ = (id) => document.getElementById(id);
const canvas = $('avatar');
const test = new URLSearchParams(location.search).has('test');
if (test) document.body.classList.add('test');

function message(text) {
  const m = $('message');
  m.textContent = text;
  m.hidden = false;
  window.__synctalkError = text;
}

function progress(loaded, total) {
  const p = $('progress');
  p.hidden = false;
  p.firstElementChild.style.width = total ? `${(100 * loaded) / total}%` : '50%';
}

async function main() {
  if ('serviceWorker' in navigator && !test) {
    // Caches the app, wasm and portrait for offline use (sub-path safe).
    navigator.serviceWorker.register('./sw.js').catch((e) => console.warn('service worker:', e));
  }
  let avatar;
  const t0 = performance.now();
  try {
    avatar = await Avatar.load(canvas, './assets/demo.stk', { onProgress: progress, autoStart: !test });
  } catch (e) {
    message(e instanceof SyncTalkError && e.code === 'NO_WEBGPU'
      ? `WebGPU is not available in this browser, so the portrait cannot be drawn. ${e.message}`
      : `The portrait could not be shown: ${e.message}`);
    window.__synctalkReady = 'error';
    return;
  }
  const loadMs = performance.now() - t0;
  $('progress').hidden = true;
  window.__synctalk = avatar;
  window.__synctalkLoadMs = loadMs;
  $('credits').textContent = `Portrait: ${avatar.info.name} — ${avatar.info.attribution} (${avatar.info.licence}). Sample speech: John F. Kennedy, inaugural address, 1961 (public domain).`;
  avatar.addEventListener('error', (e) => message(`Rendering stopped: ${e.detail.message}`));
  avatar.addEventListener('devicelost', () => message('The GPU device was lost; recovering…'));
  avatar.addEventListener('recovered', () => ($('message').hidden = true));

  const speak = async (source) => {
    $('stop').disabled = false;
    try {
      await avatar.speak(source);
    } catch (e) {
      message(e.message);
    } finally {
      $('stop').disabled = true;
    }
  };
  $('play').onclick = () => speak('./assets/jfk.wav');
  // Typed text: spoken offline, the word being heard shown under the portrait.
  const caption = $('caption');
  avatar.addEventListener('subtitle', (e) => {
    const { word, text, from, to } = e.detail;
    const mark = document.createElement('mark');
    if (text === undefined) {
      // A stream's word timings carry the word alone.
      mark.textContent = word;
      caption.replaceChildren(mark);
      return;
    }
    mark.textContent = text.slice(from, to);
    caption.replaceChildren(text.slice(0, from), mark, text.slice(to));
  });
  $('say').onsubmit = async (e) => {
    e.preventDefault();
    $('stop').disabled = false;
    $('sayButton').disabled = true;
    try {
      await avatar.say($('text').value, {
        voice: $('voice').value,
        onProgress: (loaded, total) => progress(loaded, total),
      });
    } catch (err) {
      message(err.message);
    } finally {
      $('progress').hidden = true;
      $('stop').disabled = true;
      $('sayButton').disabled = false;
      caption.replaceChildren();
    }
  };
  $('sayButton').disabled = false;
  $('stop').onclick = () => avatar.stop();
  $('file').onchange = (e) => e.target.files[0] && speak(e.target.files[0]);
  const stage = $('stage');
  stage.addEventListener('dragover', (e) => {
    e.preventDefault();
    stage.classList.add('drop');
  });
  stage.addEventListener('dragleave', () => stage.classList.remove('drop'));
  stage.addEventListener('drop', (e) => {
    e.preventDefault();
    stage.classList.remove('drop');
    const f = e.dataTransfer.files[0];
    if (f) speak(f);
  });
  // The microphone: the lips follow what it hears (nothing is played back).
  let mic = null;
  const micButton = $('mic');
  const stopMic = () => {
    mic?.getTracks().forEach((t) => t.stop());
    mic = null;
    micButton.setAttribute('aria-pressed', 'false');
    micButton.textContent = '🎤 Microphone';
  };
  micButton.onclick = async () => {
    if (mic) {
      avatar.stop();
      stopMic();
      return;
    }
    try {
      mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
      await avatar.listen(mic);
      micButton.setAttribute('aria-pressed', 'true');
      micButton.textContent = '🎤 Stop listening';
    } catch (e) {
      stopMic();
      message(`The microphone cannot be used: ${e.message}`);
    }
  };
  // Playing something else ends listening.
  avatar.addEventListener('speechend', () => mic && !avatar.listening && stopMic());
  $('play').disabled = $('file').disabled = false;
  micButton.disabled = !navigator.mediaDevices?.getUserMedia;

  const overlay = $('overlay');
  setInterval(() => {
    const s = avatar.stats();
    overlay.textContent =
      `${s.fps.toFixed(1)} fps  frame ${s.frameMs.toFixed(1)} ms\n` +
      `engine ${s.engineMs.toFixed(2)}  layers ${s.layersMs.toFixed(2)}  encode ${s.encodeMs.toFixed(2)} ms\n` +
      `${s.visible} splats  GPU ${(s.gpuBytes / 2 ** 20).toFixed(0)} MiB  heap ${(s.wasmHeapBytes / 2 ** 20).toFixed(0)} MiB\n` +
      `${s.speaking ? 'speaking' : 'idle'}  jawOpen ${s.jawOpen.toFixed(2)}  load ${loadMs.toFixed(0)} ms` +
      (avatar.listening ? `\nmic → pixels ≈ ${(1000 * s.audioLatency).toFixed(0)} ms` : '');
  }, 500);
  window.__synctalkReady = 'ok';
}

main();
