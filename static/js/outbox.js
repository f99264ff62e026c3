/* The phone's outbox: the one way a knock, a conversation or a new resident is sent.
 *
 * A form marked data-outbox (the knock buttons, bulk "Not home", the Talked form, "add a
 * resident") is first kept on the phone in IndexedDB, with its submission key and the time
 * it happened, and only then sent. Nothing leaves the outbox until the server says
 * recorded or duplicate, or refuses it with a reason, which stays on the phone as "Not
 * sent" to correct or dismiss. Sent from the page it was made on, it goes as htmx would
 * send it and its answer is swapped into the page; kept for later (no signal, the request
 * died on the way, the server busy: 429, 5xx), it is sent in order when the signal comes
 * back (the `online` event), on every page load, and after a wait (Retry-After, else a
 * backoff), marked as a replay so the server records it at the time it happened and
 * answers in JSON. Nothing depends on Background Sync, which Safari lacks. A key the
 * server has seen records nothing new, so two tabs sending the same outbox are harmless;
 * a lock keeps them from trying.
 */
(() => {
  "use strict";
  const DB = "doorstep";
  const STORE = "outbox";
  const LOW_SPACE = 2 * 1024 * 1024;
  // Seconds between tries while the server is busy or out of reach, doubling to a cap.
  const FIRST_WAIT = 10;
  const LONGEST_WAIT = 300;
  // This page load: what is made here is sent live, its answer shown here.
  const LOAD = crypto.randomUUID();
  let flushing = false;
  let again = false;
  let wait = 0;
  let retry = null;
  // English as written; on a page in another language, its words, asked for once the page
  // is shown (organizing/outbox_words.py) and kept by the service worker for offline use.
  const language = document.documentElement.lang || "en";
  let words = {};
  // Never waited for long: a knock kept before they come is sent all the same.
  const wordsRead = language === "en" ? Promise.resolve() : Promise.race([
    fetch(`/words/${language}.json`, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : {}))
      .then((read) => { words = read; }, () => {}),
    new Promise((resolve) => setTimeout(resolve, 3000)),
  ]);
  const t = (text, values = {}) => (words[text] || text).replace(/%\((\w+)\)s/g, (_, name) => values[name]);
  const tn = (one, many, count) =>
    t(words[one] ? words[one][Math.min(count, 2)] : count === 1 ? one : many, { count });

  /* Try again later: after the seconds the server asked for (Retry-After), else after a
   * wait that doubles. Returns the seconds. */
  function tryAgainLater(asked) {
    wait = Math.min(wait ? wait * 2 : FIRST_WAIT, LONGEST_WAIT);
    const seconds = asked > 0 ? Math.min(asked, LONGEST_WAIT) : wait;
    clearTimeout(retry);
    retry = setTimeout(() => flush(), seconds * 1000);
    return seconds;
  }

  function db() {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open(DB, 1);
      open.onupgradeneeded = () => open.result.createObjectStore(STORE, { keyPath: "id" });
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }

  async function tx(mode, work) {
    const conn = await db();
    return new Promise((resolve, reject) => {
      const t = conn.transaction(STORE, mode);
      const result = work(t.objectStore(STORE));
      t.oncomplete = () => resolve(result && result.result);
      t.onerror = t.onabort = () => reject(t.error);
    });
  }

  /* A phone may be shared: each item is the organizer's who made it, shown to them alone
   * and sent only in their own session, never in the next person's name. */
  const member = (document.querySelector("meta[name='doorstep-member']") || {}).content || "";
  const all = async () =>
    (await tx("readonly", (s) => s.getAll()))
      .filter((item) => !item.member || item.member === member)
      .sort((a, b) => a.happened_at.localeCompare(b.happened_at));
  const put = (item) => tx("readwrite", (s) => s.put(item));
  const remove = (id) => tx("readwrite", (s) => s.delete(id));

  function freshKey() {
    return crypto.randomUUID().replace(/-/g, "");
  }

  /* A page saved for offline use carries the keys it was rendered with; every load gets
   * new ones so that two knocks from the same saved page are two knocks. */
  function renewKeys(root) {
    root.querySelectorAll("input[type=hidden][name$='key']").forEach((input) => {
      input.value = freshKey();
    });
  }

  function banner() {
    let el = document.getElementById("outbox");
    if (!el) {
      el = document.createElement("div");
      el.id = "outbox";
      el.setAttribute("role", "status");
      document.body.appendChild(el);
    }
    return el;
  }

  /* "2 knocks, 1 conversation" */
  const counted = (items) =>
    ["knock", "new resident", "conversation", "attendance"]
      .map((kind) => [kind, items.filter((i) => kindOf(i) === kind).length])
      .filter(([, n]) => n)
      .map(([kind, n]) => tn(`%(count)s ${kind}`, `%(count)s ${kind}s`, n))
      .join(", ");
  const kindOf = (item) =>
    /\/talk\/(\?|$)/.test(item.action)
      ? "conversation"
      : /\/residents\/$/.test(item.action)
        ? "new resident"
        : /\/attendance\//.test(item.action)
          ? "attendance"
          : "knock";

  async function show(note) {
    const items = await all();
    const waiting = items.filter((i) => i.state === "waiting");
    const stuck = items.filter((i) => i.state !== "waiting");
    const lines = [];
    if (!navigator.onLine) {
      const saved = document.querySelector("meta[name='doorstep-rendered-at']");
      const at = saved ? new Date(saved.content) : null;
      const two = (n) => String(n).padStart(2, "0");
      const time = at && t("%(hours)s:%(minutes)s", { hours: two(at.getHours()), minutes: two(at.getMinutes()) });
      lines.push(time ? t("<strong>Offline</strong>, saved at %(time)s.", { time }) : t("<strong>Offline</strong>."));
    }
    if (waiting.length) {
      const why = !navigator.onLine ? "no signal" : waiting.some((i) => i.tried) ? "Doorstep did not answer yet" : "sending";
      lines.push(t(`%(items)s waiting to send (${why}).`, { items: counted(waiting) }));
    }
    for (const item of stuck) {
      const fix = item.typed ? ` <a href="${escape(item.page)}#correct-${escape(item.id)}">${t("Correct it")}</a>` : "";
      lines.push(`<span class="stuck">${t("Not sent: %(what)s.", { what: escape(item.label) })} ${escape(item.problem)}${fix} ` +
        `<button type="button" data-dismiss="${escape(item.id)}">${t("Discard")}</button></span>`);
    }
    if (note) lines.push(note);
    const el = banner();
    el.innerHTML = lines.join(" ");
    el.hidden = lines.length === 0;
  }

  function escape(text) {
    const div = document.createElement("div");
    div.textContent = text || "";
    return div.innerHTML;
  }

  function describe(form, submitter) {
    const tapped = submitter && submitter.textContent.trim();
    const what = form.dataset.what || tapped || t("Knock");
    const where = form.getAttribute("data-outbox") || "";
    return `${what}${where ? " · " + where : ""}`;
  }

  async function lowOnSpace() {
    if (!navigator.storage || !navigator.storage.estimate) return false;
    const { usage, quota } = await navigator.storage.estimate();
    return quota - usage < LOW_SPACE;
  }

  /* Keep a submitted form on the phone; returns the item, or null when storage is full. */
  async function keep(form, submitter) {
    const fields = [...new FormData(form, submitter).entries()];
    const keyField = fields.find(([name]) => name.endsWith("key"));
    const hxPost = form.getAttribute("hx-post");
    const item = {
      id: keyField ? String(keyField[1]) : freshKey(),
      action: form.action,
      fields,
      happened_at: new Date().toISOString(),
      label: describe(form, submitter),
      member,
      page: location.pathname + location.search,
      // What was typed can be corrected in the form it came from; a knock is only a tap.
      typed: Boolean(form.querySelector("textarea, input[type=text], input:not([type])")),
      load: LOAD,
      live: {
        url: hxPost ? new URL(hxPost, location.href).href : form.action,
        target: form.getAttribute("hx-target") || "",
        swap: form.getAttribute("hx-swap") || "innerHTML",
      },
      // Kept with no signal: sent later as a replay, at the time it happened.
      tried: !navigator.onLine,
      state: "waiting",
      problem: "",
    };
    try {
      await put(item);
    } catch (error) {
      alert(t("This could not be saved: the phone's storage is full. Write it down, then free some space."));
      return null;
    }
    renewKeys(form);
    return item;
  }

  function csrfToken() {
    const headers = document.body.getAttribute("hx-headers");
    try {
      return JSON.parse(headers)["X-CSRFToken"];
    } catch (error) {
      return "";
    }
  }

  function bodyOf(item) {
    const body = new URLSearchParams(item.fields);
    // The token saved with the form may be stale (a new login rotates it): send today's.
    body.delete("csrfmiddlewaretoken");
    return body;
  }

  /* Sent later: a replay, recorded at the time it happened, answered in JSON. */
  function replay(item) {
    const body = bodyOf(item);
    body.set("happened_at", item.happened_at);
    return fetch(item.action, {
      method: "POST",
      body,
      credentials: "same-origin",
      redirect: "manual",
      headers: { "X-Doorstep-Replay": "1", "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
  }

  /* Sent at once from the page it was made on, as htmx sends a form. */
  function sendLive(item) {
    return fetch(item.live.url, {
      method: "POST",
      body: bodyOf(item),
      credentials: "same-origin",
      redirect: "manual",
      headers: { "HX-Request": "true", "HX-Current-URL": location.href, "X-CSRFToken": csrfToken() },
    });
  }

  /* The server answered a live send: show its answer where htmx would have. */
  async function answered(item, response) {
    const next = response.headers.get("HX-Redirect");
    const html = await response.text();
    await remove(item.id);
    if (next) {
      location.assign(next);
    } else if (item.live.target && response.ok && document.querySelector(item.live.target)) {
      htmx.swap(item.live.target, html, { swapStyle: item.live.swap });
    } else {
      // A form shown again with what was wrong (422), and what the organizer typed.
      htmx.swap("main", html, { swapStyle: "outerHTML" }, { select: "main" });
    }
  }

  async function refused(item, response) {
    let problem = t("Doorstep refused it (HTTP %(status)s).", { status: response.status });
    if (response.status === 404) problem = t("That door or person is no longer in Doorstep.");
    if (response.status === 413) problem = t("Doorstep refused it as too large (HTTP 413).");
    if (response.status === 422 && !item.tried) return answered(item, response);
    if ((response.headers.get("Content-Type") || "").includes("json")) {
      problem = (await response.json()).message || problem;
    }
    await put({ ...item, state: "failed", problem });
  }

  /* Send what waits, oldest first, one at a time across this phone's tabs. */
  async function sendAll() {
    const notes = [];
    const sent = [];
    for (;;) {
      const item = (await all()).find((i) => i.state === "waiting");
      if (!item) break;
      const live = item.load === LOAD && !item.tried;
      let response;
      try {
        response = await (live ? sendLive(item) : replay(item));
      } catch (error) {
        // No signal after all, or the server out of reach: try again later.
        await put({ ...item, tried: true });
        notes.push(t("Could not reach Doorstep: saved on this phone, trying again in %(seconds)s s.", { seconds: tryAgainLater(NaN) }));
        break;
      }
      if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
        notes.push(t('<a href="%(url)s">Log in</a> to send what waits on this phone.', { url: `/login/?next=${encodeURIComponent(location.pathname)}` }));
        break;
      }
      if (response.status === 429 || response.status >= 500) {
        await put({ ...item, tried: true });
        const seconds = tryAgainLater(Number(response.headers.get("Retry-After")));
        notes.push(t("Doorstep is busy: saved on this phone, trying again in %(seconds)s s.", { seconds }));
        break;
      }
      wait = 0;
      if (!response.ok) {
        await refused(item, response);
      } else if (live) {
        await answered(item, response);
      } else {
        const answer = await response.json();
        await remove(item.id);
        if (answer.status === "recorded") sent.push(item);
        if (answer.needs_look) notes.push(t("Sent, but needs a look: %(what)s.", { what: escape(answer.needs_look) }));
      }
    }
    if (sent.length) {
      notes.unshift(t("%(items)s sent.", { items: counted(sent) }));
      refreshCards();
    }
    return notes;
  }

  async function flush(note = "") {
    if (!navigator.onLine) return show(note);
    if (flushing) {
      again = true;
      return;
    }
    flushing = true;
    let notes = [];
    try {
      do {
        again = false;
        notes = navigator.locks ? await navigator.locks.request("doorstep-outbox", sendAll) : await sendAll();
      } while (again);
    } finally {
      flushing = false;
    }
    await show([note, ...notes].filter(Boolean).join(" "));
  }

  /* After a replay the cards on this page may be out of date: ask for them again. */
  function refreshCards() {
    for (const target of ["#cards", "#grid", "#people"]) {
      if (document.querySelector(target)) {
        htmx.ajax("GET", location.pathname + location.search, { target, swap: "outerHTML" });
      }
    }
  }

  /* A resident added without a signal: a card on the unit page until it is sent, with the
   * Talked form that finds them by the key the phone made for them. */
  function showWaitingResident(item) {
    const list = document.getElementById("cards");
    const name = (item.fields.find(([n]) => n === "name") || [])[1];
    const unit = location.pathname.match(/units\/(\d+)/);
    if (!list || !name) return;
    const card = document.createElement("article");
    card.className = "resident waiting";
    card.innerHTML = `<header><h2></h2><span class="pill">${t("Saved on this phone")}</span></header>` +
      `<a class="button primary" href="/contacts/new/${encodeURIComponent(item.id)}/talk/${unit ? `?unit=${unit[1]}` : ""}">${t("Talked")}</a>`;
    card.querySelector("h2").textContent = name;
    list.insertBefore(card, list.querySelector("article"));
  }

  /* The Talked form of a resident added on this phone: their name, from the outbox. */
  async function nameTheResidentAdded() {
    const key = location.pathname.match(/^\/contacts\/new\/([\w-]+)\/talk\//);
    if (!key) return;
    const item = (await all()).find((i) => i.id === key[1]);
    const name = item && (item.fields.find(([n]) => n === "name") || [])[1];
    if (!name) return;
    document.querySelectorAll("h1, nav.crumbs").forEach((el) => {
      el.textContent = el.textContent.replace(t("the resident you added"), name);
    });
    document.querySelectorAll("form[data-outbox]").forEach((form) => {
      form.dataset.outbox = name;
    });
  }

  /* "Correct it": the form it came from, filled again with what was typed; the refused
   * item leaves the outbox, as it is now in the form. */
  async function correct() {
    const id = location.hash.startsWith("#correct-") ? location.hash.slice(9) : "";
    const item = id && (await all()).find((i) => i.id === id);
    const form = item && [...document.querySelectorAll("form[data-outbox]")].find((f) => f.action === item.action);
    if (!form) return;
    for (const [name, value] of item.fields) {
      if (name.endsWith("key") || name === "csrfmiddlewaretoken") continue;
      form.querySelectorAll(`[name="${CSS.escape(name)}"]`).forEach((input) => {
        if (input.type === "radio" || input.type === "checkbox") input.checked = input.value === value;
        else input.value = value;
      });
    }
    await remove(id);
    history.replaceState(null, "", location.pathname + location.search);
  }

  document.addEventListener(
    "submit",
    async (event) => {
      const form = event.target;
      if (form.matches("form[action$='/logout/']")) {
        caches.delete("doorstep-pages-v1");
        return;
      }
      if (!form.matches("form[data-outbox]")) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      const item = await keep(form, event.submitter);
      if (!item) return;
      if (navigator.onLine) return flush();
      // No signal: said at once, sent when it comes back.
      const warning = (await lowOnSpace())
        ? ` <strong>${t("Phone storage is nearly full: free some space before the next knock.")}</strong>`
        : "";
      if (form.dataset.after) {
        // The Talked form: back to the door, where the banner says it waits.
        sessionStorage.setItem("doorstep-note", t("Saved on this phone: %(what)s.", { what: item.label }));
        const back = form.dataset.after === "back";
        location.assign(back ? document.referrer || "/" : form.dataset.after);
        return;
      }
      if (item.live.url.endsWith("/residents/")) showWaitingResident(item);
      await show(t("Saved on this phone: %(what)s.", { what: escape(item.label) }) + warning);
    },
    true,
  );

  // A swap made by the outbox (htmx.swap) says its target only as the event's own.
  document.addEventListener("htmx:afterSwap", (event) => renewKeys(event.detail.target || event.target));
  document.addEventListener("click", async (event) => {
    const id = event.target.getAttribute && event.target.getAttribute("data-dismiss");
    if (id) {
      await remove(id);
      show();
    }
  });

  /* The server answered: the session lives on, and so may the pages saved offline. */
  document.addEventListener("htmx:afterRequest", (event) => {
    const worker = navigator.serviceWorker && navigator.serviceWorker.controller;
    const xhr = event.detail.xhr;
    const landed = xhr && xhr.responseURL ? new URL(xhr.responseURL).pathname : "";
    const loggedOut = landed === "/login/" || (xhr && xhr.getResponseHeader("HX-Redirect"));
    if (worker && event.detail.successful && !loggedOut) worker.postMessage({ type: "seen" });
  });

  window.addEventListener("online", () => flush());
  window.addEventListener("offline", () => show());
  if (navigator.serviceWorker) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "kept") keptAt();
    });
    navigator.serviceWorker.startMessages();
  }

  /* The organizer's turf, kept for offline use: once when a session starts, then every ten
   * minutes only what changed. The service worker runs the pass (sw.js), one at a time: a
   * page loaded or closed meanwhile neither restarts nor stops it. */
  const EVERY = 10 * 60 * 1000;
  async function keptAt() {
    const kept = window.caches && (await caches.match("/offline/kept", { cacheName: "doorstep-pages-v1" }));
    const at = kept ? Number(await kept.text()) : 0;
    if (at) document.documentElement.dataset.kept = "yes";
    return at;
  }

  async function keepTurfPages() {
    if (!navigator.serviceWorker || !navigator.onLine) return;
    if (Date.now() - (await keptAt()) < EVERY) return;
    const registration = await navigator.serviceWorker.ready;
    const assets = [...document.querySelectorAll("link[rel=stylesheet], script[src]")].map(
      (el) => el.href || el.src,
    );
    registration.active.postMessage({ type: "keep", assets, language });
  }
  setInterval(keepTurfPages, 60 * 1000);

  renewKeys(document);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js", { scope: "/" });
  const note = sessionStorage.getItem("doorstep-note");
  sessionStorage.removeItem("doorstep-note");
  nameTheResidentAdded();
  wordsRead
    .then(correct)
    .then(() => flush(note ? escape(note) : ""))
    .then(keepTurfPages);
})();
