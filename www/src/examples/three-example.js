// A talking portrait inside a three.js scene. The avatar draws with WebGPU
// onto its own canvas (transparent: no background plate), which is never
// shown by itself: three.js (WebGL) uploads it as a texture each frame onto
// a plane in front of the scene, so the scene shows through around the head
// and torso. Any engine that can texture from a canvas works the same way.
// `?test`: a still scene (no cubes, no motion) for the browser tests.
import * as THREE from './three/three.module.js';
import { Avatar } from '../synctalk/synctalk.js';

const test = new URLSearchParams(location.search).has('test');
if (test) document.body.classList.add('test');
const status = document.getElementById('status');

async function main() {
  // The avatar's own canvas, kept out of the page. Drawn even though it is
  // not on screen (pauseWhenHidden: false), at the portrait's size.
  const avatarCanvas = document.createElement('canvas');
  const avatar = await Avatar.load(avatarCanvas, '../assets/demo.stk', {
    transparent: true, pauseWhenHidden: false, size: 'portrait', autoStart: !test,
  });

  const sceneCanvas = document.getElementById('scene');
  const renderer = new THREE.WebGLRenderer({ canvas: sceneCanvas, antialias: !test });
  renderer.setPixelRatio(1);
  renderer.setSize(512, 512, false);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(test ? 0x1e50c8 : 0x182030);

  // A camera looking straight at a 2 x 2 plane that fills its view.
  const fov = 30;
  const camera = new THREE.PerspectiveCamera(fov, 1, 0.1, 100);
  camera.position.set(0, 0, 1 / Math.tan(THREE.MathUtils.degToRad(fov / 2)));

  const texture = new THREE.CanvasTexture(avatarCanvas);
  texture.colorSpace = THREE.SRGBColorSpace;
  texture.minFilter = THREE.LinearFilter;
  texture.generateMipmaps = false;
  const plane = new THREE.Mesh(
    new THREE.PlaneGeometry(2, 2),
    new THREE.MeshBasicMaterial({ map: texture, transparent: true }),
  );
  scene.add(plane);

  // Behind the avatar: cubes turning in the light (not in the still test scene).
  const cubes = [];
  if (!test) {
    scene.add(new THREE.HemisphereLight(0xbfd4ff, 0x202030, 2.5));
    for (let i = 0; i < 12; i++) {
      const cube = new THREE.Mesh(
        new THREE.BoxGeometry(0.35, 0.35, 0.35),
        new THREE.MeshStandardMaterial({ color: new THREE.Color().setHSL(i / 12, 0.6, 0.55) }),
      );
      const a = (i / 12) * Math.PI * 2;
      cube.position.set(Math.cos(a) * 1.6, Math.sin(a) * 1.6, -2);
      scene.add(cube);
      cubes.push(cube);
    }
  }

  // Each frame: the avatar draws (its own loop), then three.js uploads its
  // canvas and draws the scene.
  const draw = (t) => {
    texture.needsUpdate = true;
    for (const [i, c] of cubes.entries()) c.rotation.set(t / 1000 + i, t / 1300, 0);
    renderer.render(scene, camera);
  };
  if (test) {
    // The tests draw explicitly: the avatar's frame, then the scene.
    window.__drawScene = (clock) => {
      avatar.renderAt(clock, undefined);
      draw(0);
    };
  } else {
    renderer.setAnimationLoop(draw);
  }
  const talk = document.getElementById('talk');
  talk.disabled = false;
  talk.onclick = () => avatar.speak('../assets/jfk.wav');
  status.textContent = `${avatar.info.name} (${avatar.info.licence})`;
  window.__avatar = avatar;
  window.__three = { renderer, THREE: THREE.REVISION };
  window.__ready = 'ok';
}

main().catch((e) => {
  status.textContent = `The scene could not start: ${e.message}`;
  window.__ready = 'error';
});
