/* Doorstep's service worker: keeps the organizer's pages so they open without a signal.
 *
 * Pages (HTML navigations) are network first: a fresh copy when there is a signal, the
 * last saved copy when there is none. Static files are cache first (their names change
 * when they change). htmx partials are never saved: they share URLs with whole pages.
 * A page that turns out to be the login page (the session ran out) empties the saved
 * pages. Offline, saved pages are shown only as long as the session could still be
 * alive: past the idle time since the phone last heard from the server, they are removed,
 * as a shared phone must not show them to whoever holds it next. Knocks are not sent from
 * here; the page's outbox (outbox.js) owns them.
 */
const PAGES = "doorstep-pages-v1";
const STATIC = "doorstep-static-v1";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// When the server last answered a logged-in request, and how long a session lasts idle.
const SESSION = "/offline/session-seen";
const IDLE_MINUTES = 120; // until /offline/pages.json says

async function seen(cache, idleMinutes) {
  let idle = idleMinutes;
  if (!idle) {
    const before = await cache.match(SESSION);
    idle = before ? (await before.json()).idle : IDLE_MINUTES;
  }
  const body = JSON.stringify({ at: Date.now(), idle });
  await cache.put(SESSION, new Response(body, { headers: { "Content-Type": "application/json" } }));
}

async function sessionOver() {
  const saved = await caches.match(SESSION, { cacheName: PAGES });
  if (!saved) return true;
  const { at, idle } = await saved.json();
  return Date.now() - at > idle * 60 * 1000;
}

function offlinePage(message, link = " <a href='/'>Open Today</a>") {
  return new Response(
    "<!doctype html><meta name=viewport content='width=device-width'><title>Offline</title>" +
      `<p style='font:18px system-ui;padding:16px'>${message}${link}</p>`,
    { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } },
  );
}

function savable(response) {
  return response.ok && !response.redirected && response.type === "basic";
}

async function networkFirst(request) {
  try {
    const response = await fetch(request);
    if (new URL(response.url).pathname === "/login/") {
      // Logged out, or the session ran out: a shared phone keeps nobody's pages.
      await caches.delete(PAGES);
    } else if (savable(response)) {
      const cache = await caches.open(PAGES);
      await cache.put(request.url, response.clone());
      await seen(cache);
    }
    return response;
  } catch (error) {
    if (await sessionOver()) {
      await caches.delete(PAGES);
      return offlinePage(
        "You are offline, and the session on this phone has ended, so the pages saved on it " +
          "were removed. Knocks waiting to send are kept: log in once you have a signal.",
        "",
      );
    }
    const saved = await caches.match(request.url, { cacheName: PAGES });
    if (saved) return saved;
    return offlinePage("You are offline and this page was not saved on this phone.");
  }
}

async function cacheFirst(request) {
  const saved = await caches.match(request, { cacheName: STATIC });
  if (saved) return saved;
  const response = await fetch(request);
  if (savable(response)) (await caches.open(STATIC)).put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.headers.get("HX-Request")) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(cacheFirst(request));
  } else if (request.mode === "navigate") {
    event.respondWith(networkFirst(request));
  }
});

/* The page sends the list of the organizer's turf pages (and its own static files) to
 * keep while online, and is told when they are kept. */
self.addEventListener("message", (event) => {
  if (!event.data) return;
  if (event.data.type === "seen") {
    // The page heard from the server (an htmx request), with no navigation for us to see.
    event.waitUntil(caches.open(PAGES).then((cache) => seen(cache)));
    return;
  }
  if (event.data.type !== "keep") return;
  event.waitUntil(
    (async () => {
      const pages = await caches.open(PAGES);
      const statics = await caches.open(STATIC);
      for (const path of event.data.urls) {
        const url = new URL(path, self.location.origin);
        const cache = url.pathname.startsWith("/static/") ? statics : pages;
        try {
          const response = await fetch(url, { credentials: "same-origin" });
          if (new URL(response.url).pathname === "/login/") {
            await caches.delete(PAGES); // the session ended meanwhile
            return;
          }
          if (savable(response)) await cache.put(url.href, response);
        } catch (error) {
          return; // the signal went: keep what we have
        }
      }
      await seen(pages, event.data.idle_minutes);
      const clients = await self.clients.matchAll({ includeUncontrolled: true });
      clients.forEach((client) => client.postMessage({ type: "kept" }));
    })(),
  );
});
