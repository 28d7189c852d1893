// Service worker of the demo site: after the first visit the app, the wasm,
// the portrait and the sample speech come from this cache, so the page works
// offline. The cache name carries a hash of every file (written by
// scripts/web.sh); a new build installs a new cache and drops the old ones.
const CACHE = 'synctalk-__VERSION__';
const FILES = __FILES__;

self.addEventListener('install', (event) => {
  // Every file from the server, never from the browser's HTTP cache: a
  // static host sends no Cache-Control, so the browser may hold the last
  // build's index.html as fresh for a while (a tenth of its age), and a
  // precache filled from it would pin the old page under the new build's
  // name.
  const fresh = FILES.map((f) => new Request(f, { cache: 'reload' }));
  event.waitUntil(
    caches.open(CACHE).then((c) => c.addAll(fresh)).then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('synctalk-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const hit = await cache.match(req, { ignoreSearch: true });
      if (hit) return hit;
      const response = await fetch(req);
      // The speech synthesiser (tts/) is cached on first use, so typed text
      // is spoken offline from then on.
      if (response.ok && new URL(req.url).pathname.includes('/tts/')) await cache.put(req, response.clone());
      return response;
    }),
  );
});
