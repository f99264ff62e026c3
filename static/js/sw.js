/* Doorstep's service worker: keeps the organizer's pages so they open without a signal.
 *
 * Pages (HTML navigations) are network first: a fresh copy when there is a signal, the
 * last saved copy when there is none. Static files and the words of a page's language are
 * cache first (their URLs change when they change). htmx partials are never saved: they share URLs with whole pages.
 * A page that turns out to be the login page (the session ran out) empties the saved
 * pages. Offline, saved pages are shown only as long as the session could still be
 * alive: past the idle time since the phone last heard from the server, they are removed,
 * as a shared phone must not show them to whoever holds it next. Knocks are not sent from
 * here; the page's outbox (outbox.js) owns them.
 *
 * The turf is kept in passes the page asks for (outbox.js): each page comes with a version
 * from the server, and a pass fetches only the pages whose version changed since the last,
 * one pass at a time, and at most PASS_BYTES of them (the rest in the next pass).
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

// The language of the last page shown or kept, whose words (outbox_words.py, kept with the
// static files) the offline page speaks; English, the language this is written in, needs none.
const LANGUAGE = "/offline/language";
const WORDS = /^\/words\/[\w-]+\.json$/;
const wordsPath = (language) => `/words/${language}.json`;

async function wordsOf() {
  const language = await caches.match(LANGUAGE, { cacheName: PAGES });
  if (!language) return {};
  const kept = await caches.match(wordsPath(await language.text()), { cacheName: STATIC });
  return kept ? kept.json() : {};
}

async function offlinePage(message, withLink = true) {
  const words = await wordsOf().catch(() => ({}));
  const t = (text) => words[text] || text;
  const link = withLink ? ` <a href='/'>${t("Open Today")}</a>` : "";
  return new Response(
    `<!doctype html><meta name=viewport content='width=device-width'><title>${t("Offline")}</title>` +
      `<p style='font:18px system-ui;padding:16px'>${t(message)}${link}</p>`,
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
      await cache.put(LANGUAGE, new Response(response.headers.get("Content-Language") || "en"));
      await seen(cache);
    }
    return response;
  } catch (error) {
    if (await sessionOver()) {
      // Written first, in the language of the pages then removed.
      const page = await offlinePage(
        "You are offline, and the session on this phone has ended, so the pages saved on it " +
          "were removed. Knocks waiting to send are kept: log in once you have a signal.",
        false,
      );
      await caches.delete(PAGES);
      return page;
    }
    const path = new URL(request.url).pathname;
    const url = ADDED_ON_PHONE.test(path) ? new URL(ADDED_ON_PHONE_PAGE, request.url).href : request.url;
    const saved = await caches.match(url, { cacheName: PAGES });
    if (saved) return saved;
    return offlinePage("You are offline and this page was not saved on this phone.");
  }
}

/* The words: the copy kept here at once, and a fresh one kept for next time while online
 * (the browser asks the server at most hourly: outbox_words.py). */
async function keptThenFresh(event) {
  const statics = await caches.open(STATIC);
  const saved = await statics.match(event.request);
  const fresh = fetch(event.request).then(async (response) => {
    if (savable(response)) await statics.put(event.request, response.clone());
    return response;
  });
  if (!saved) return fresh;
  event.waitUntil(fresh.catch(() => {}));
  return saved;
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
  if (WORDS.test(url.pathname)) {
    event.respondWith(keptThenFresh(event));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(cacheFirst(request));
  } else if (request.mode === "navigate") {
    event.respondWith(networkFirst(request));
  }
});

// The Talked form of a resident added on the phone: one kept page stands for all of them.
const ADDED_ON_PHONE = /^\/contacts\/new\/[\w-]+\/talk\/$/;
const ADDED_ON_PHONE_PAGE = "/contacts/new/new/talk/";

// The turf's pages with their versions, as the server last listed them.
const LIST = "/offline/pages.json";
// The version of each page kept, as the server named it when it was fetched.
const VERSIONS = "/offline/versions";
// When the last whole pass ended: the pages read it (outbox.js), even one loaded meanwhile.
const KEPT = "/offline/kept";
const PASS_BYTES = 3 * 1024 * 1024;
let passing = false;

async function versions(cache) {
  const saved = await cache.match(VERSIONS);
  return saved ? saved.json() : {};
}

/* One pass over the turf: the list of its pages with their versions (answered 304 when
 * nothing changed since the last pass), then each page that changed. Returns false when the
 * pass had to stop (no signal, the session over). */
async function keepTurf(assets, language) {
  const kept = await caches.open(PAGES);
  if (language) await kept.put(LANGUAGE, new Response(language));
  const last = await kept.match(LIST);
  const etag = last && last.headers.get("ETag");
  let answer;
  try {
    const response = await fetch(LIST, {
      credentials: "same-origin",
      cache: "no-store", // asked with the list kept here, so that nothing changed is a 304
      headers: etag ? { "If-None-Match": etag } : {},
    });
    if (response.status === 304 && last) {
      answer = await last.json();
    } else if (response.ok && new URL(response.url).pathname === LIST) {
      await kept.put(LIST, response.clone());
      answer = await response.json();
    } else {
      return false;
    }
  } catch (error) {
    return false;
  }
  // The words of the page's language too, once: the outbox's page keeps them fresh.
  const words = language && language !== "en" ? [[wordsPath(language), "static"]] : [];
  const pages = [...assets.map((url) => [url, "static"]), ...words, ...answer.pages];
  return keepPages(pages, answer.idle_minutes);
}

async function keepPages(pages, idleMinutes) {
  const kept = await caches.open(PAGES);
  const statics = await caches.open(STATIC);
  const known = await versions(kept);
  let bytes = 0;
  let ended = false;
  try {
    for (const [path, version] of pages) {
      const url = new URL(path, self.location.origin);
      const isStatic = url.pathname.startsWith("/static/") || WORDS.test(url.pathname);
      if (isStatic ? await statics.match(url.href) : known[url.href] === version) continue;
      if (bytes > PASS_BYTES) break; // the rest next time: a pass never eats a data plan
      const response = await fetch(url, { credentials: "same-origin" });
      if (new URL(response.url).pathname === "/login/") {
        ended = true;
        await caches.delete(PAGES); // the session ended meanwhile
        return false;
      }
      if (!savable(response)) continue;
      const body = await response.clone().arrayBuffer();
      bytes += body.byteLength;
      await (isStatic ? statics : kept).put(url.href, response);
      if (!isStatic) known[url.href] = version;
    }
  } catch (error) {
    return false; // the signal went: keep what we have
  } finally {
    const body = JSON.stringify(known);
    const headers = { "Content-Type": "application/json" };
    if (!ended) await kept.put(VERSIONS, new Response(body, { headers }));
  }
  await seen(kept, idleMinutes);
  await kept.put(KEPT, new Response(String(Date.now())));
  return true;
}

/* A page asks for a pass over the turf (with its own static files) while online, and is
 * told when it is done; a page asking while one runs starts none. */
self.addEventListener("message", (event) => {
  if (!event.data) return;
  if (event.data.type === "seen") {
    // The page heard from the server (an htmx request), with no navigation for us to see.
    event.waitUntil(caches.open(PAGES).then((cache) => seen(cache)));
    return;
  }
  if (event.data.type !== "keep" || passing) return;
  passing = true;
  event.waitUntil(
    (async () => {
      try {
        if (!(await keepTurf(event.data.assets || [], event.data.language))) return;
      } finally {
        passing = false;
      }
      const clients = await self.clients.matchAll({ includeUncontrolled: true });
      clients.forEach((client) => client.postMessage({ type: "kept" }));
    })(),
  );
});
