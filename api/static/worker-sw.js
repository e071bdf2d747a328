// The service worker of /worker: the page and MapLibre from the project's vendor folder are cached when
// it installs, so the page opens with no network; the worker's reads are kept as last seen (network
// first, the cache when offline). Writes are never cached here: the page keeps them in its outbox.
const CACHE = "commgrid-worker-v1";
const VENDOR = "/static/vendor/maplibre-gl/";
const SHELL = [
  "/worker",
  VENDOR + "maplibre-gl.mjs",
  VENDOR + "maplibre-gl-shared.mjs",
  VENDOR + "maplibre-gl-worker.mjs",
  VENDOR + "maplibre-gl.css",
];
// reads the page shows again offline: who I am, my grid, my log, my incidents, my day, the categories
const READS = [/^\/whoami$/, /^\/worklog$/, /^\/incidents(\/taxonomy)?$/, /^\/collections\/grids\/items\//,
  /^\/patrols\/compliance$/, /^\/patrols\/me\b/];

self.addEventListener("install", event => {
  event.waitUntil(caches.open(CACHE).then(cache => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", event => {
  event.waitUntil(
    caches.keys()
      .then(keys => Promise.all(keys.filter(k => k.startsWith("commgrid-worker-") && k !== CACHE).map(k => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const kept = await cache.match(request, { ignoreVary: true });
    if (kept) return kept;
    throw error;
  }
}

async function cacheFirst(request) {
  const kept = await caches.match(request);
  return kept ?? networkFirst(request);
}

self.addEventListener("message", event => {
  // sign-out: what was kept of the worker's reads leaves the phone with the token
  if (event.data === "forget") event.waitUntil(caches.delete(CACHE));
});

self.addEventListener("fetch", event => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith(VENDOR)) {
    event.respondWith(cacheFirst(event.request));
  } else if (url.pathname === "/worker" || READS.some(r => r.test(url.pathname))) {
    event.respondWith(networkFirst(event.request));
  }
});
