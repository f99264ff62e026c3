/* The phone's outbox: no knock is lost for want of a signal.
 *
 * Forms marked data-outbox (the knock buttons, bulk "Not home") are kept on the phone in
 * IndexedDB when there is no signal, when the request dies on the way, or when the server
 * answers that it can't take it now (429, 5xx), with their submission key and the time
 * they happened. They are sent in order when the signal comes back (the `online` event),
 * on every page load, and again after a wait (Retry-After, else a backoff) while the
 * server is busy. Nothing leaves the outbox until the server says recorded or duplicate,
 * or refuses it with a reason, which stays on the phone as "Not sent". Nothing depends on
 * Background Sync, which Safari lacks. The server records each at the time it happened;
 * a key it has seen records nothing new.
 */
(() => {
  "use strict";
  const DB = "doorstep";
  const STORE = "outbox";
  const LOW_SPACE = 2 * 1024 * 1024;
  // Seconds between tries while the server is busy or out of reach, doubling to a cap.
  const FIRST_WAIT = 10;
  const LONGEST_WAIT = 300;
  let flushing = false;
  let wait = 0;
  let retry = null;

  /* Try again later: after the seconds the server asked for (Retry-After), else after a
   * wait that doubles. Returns the seconds. */
  function tryAgainLater(asked) {
    wait = Math.min(wait ? wait * 2 : FIRST_WAIT, LONGEST_WAIT);
    const seconds = asked > 0 ? Math.min(asked, LONGEST_WAIT) : wait;
    clearTimeout(retry);
    retry = setTimeout(flush, seconds * 1000);
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

  /* A phone may be shared: each knock is the organizer's who made it, shown to them alone
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

  async function show(note) {
    const items = await all();
    const waiting = items.filter((i) => i.state === "waiting");
    const stuck = items.filter((i) => i.state !== "waiting");
    const lines = [];
    if (!navigator.onLine) {
      const saved = document.querySelector("meta[name='doorstep-rendered-at']");
      const at = saved ? new Date(saved.content) : null;
      lines.push(`<strong>Offline</strong>${at ? `, saved at ${at.toTimeString().slice(0, 5)}` : ""}.`);
    }
    if (waiting.length) {
      lines.push(`${waiting.length} knock${waiting.length === 1 ? "" : "s"} waiting to send.`);
    }
    for (const item of stuck) {
      lines.push(`<span class="stuck">Not sent: ${escape(item.label)}. ${escape(item.problem)} ` +
        `<button type="button" data-dismiss="${escape(item.id)}">Dismiss</button></span>`);
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
    const what = submitter ? submitter.textContent.trim() : "Knock";
    const where = form.getAttribute("data-outbox") || "";
    return `${what}${where ? " · " + where : ""}`;
  }

  async function lowOnSpace() {
    if (!navigator.storage || !navigator.storage.estimate) return false;
    const { usage, quota } = await navigator.storage.estimate();
    return quota - usage < LOW_SPACE;
  }

  async function keep(form, submitter) {
    const fields = [...new FormData(form, submitter).entries()];
    const keyField = fields.find(([name]) => name.endsWith("key"));
    const item = {
      id: keyField ? String(keyField[1]) : freshKey(),
      action: form.action,
      fields,
      happened_at: new Date().toISOString(),
      label: describe(form, submitter),
      member,
      state: "waiting",
      problem: "",
    };
    try {
      await put(item);
    } catch (error) {
      alert("This knock could not be saved: the phone's storage is full. Write it down, then free some space.");
      return;
    }
    renewKeys(form);
    const warning = (await lowOnSpace())
      ? " <strong>Phone storage is nearly full: free some space before the next knock.</strong>"
      : "";
    await show(`Saved on this phone: ${escape(item.label)}.${warning}`);
  }

  function csrfToken() {
    const headers = document.body.getAttribute("hx-headers");
    try {
      return JSON.parse(headers)["X-CSRFToken"];
    } catch (error) {
      return "";
    }
  }

  async function send(item) {
    const body = new URLSearchParams(item.fields);
    body.set("happened_at", item.happened_at);
    // The token saved with the form may be stale (a new login rotates it): send today's.
    body.delete("csrfmiddlewaretoken");
    return fetch(item.action, {
      method: "POST",
      body,
      credentials: "same-origin",
      redirect: "manual",
      headers: { "X-Doorstep-Replay": "1", "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
  }

  async function flush() {
    if (flushing || !navigator.onLine) return show();
    flushing = true;
    const notes = [];
    let sent = 0;
    try {
      for (const item of await all()) {
        if (item.state !== "waiting") continue;
        let response;
        try {
          response = await send(item);
        } catch (error) {
          // No signal after all, or the server out of reach: try again later.
          notes.push(`Could not reach Doorstep: trying again in ${tryAgainLater(NaN)} s.`);
          break;
        }
        if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
          notes.push(`<a href="/login/?next=${encodeURIComponent(location.pathname)}">Log in</a> to send the knocks waiting on this phone.`);
          break;
        }
        if (response.status === 429 || response.status >= 500) {
          const seconds = tryAgainLater(Number(response.headers.get("Retry-After")));
          notes.push(`Doorstep is busy: trying again in ${seconds} s.`);
          break;
        }
        if (response.ok) {
          wait = 0;
          const answer = await response.json();
          await remove(item.id);
          sent += answer.status === "recorded" ? 1 : 0;
          if (answer.needs_look) notes.push(`Sent, but needs a look: ${escape(answer.needs_look)}.`);
        } else if (response.status === 404 || response.status === 422) {
          let problem = "That door or person is no longer in Doorstep.";
          if (response.status === 422) problem = (await response.json()).message;
          await put({ ...item, state: "failed", problem });
        } else {
          // Refused for a reason the phone can't mend by waiting (a 400, a 413): kept, said.
          const problem = `Doorstep refused it (HTTP ${response.status}).`;
          await put({ ...item, state: "failed", problem });
        }
      }
    } finally {
      flushing = false;
    }
    if (sent) notes.unshift(`${sent} knock${sent === 1 ? "" : "s"} sent.`);
    await show(notes.join(" "));
  }

  document.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (form.matches("form[action$='/logout/']")) {
        caches.delete("doorstep-pages-v1");
        return;
      }
      if (!form.matches("form[data-outbox]") || navigator.onLine) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      keep(form, event.submitter);
    },
    true,
  );

  function submitterOf(event) {
    const config = event.detail.requestConfig;
    return config && config.triggeringEvent ? config.triggeringEvent.submitter : null;
  }

  /* Online but the request died on the way (a stairwell): keep it too. */
  document.addEventListener("htmx:sendError", (event) => {
    const form = event.detail.elt.closest("form[data-outbox]");
    if (form) keep(form, submitterOf(event));
  });

  /* The server could not take it now (busy, or failing): keep it and send it again later.
   * A knock it recorded before failing comes back as a duplicate, recorded once. */
  document.addEventListener("htmx:responseError", async (event) => {
    const form = event.detail.elt.closest("form[data-outbox]");
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (!form || !(status === 429 || status >= 500)) return;
    await keep(form, submitterOf(event));
    const seconds = tryAgainLater(Number(event.detail.xhr.getResponseHeader("Retry-After")));
    await show(`Doorstep is busy: saved on this phone, trying again in ${seconds} s.`);
  });

  document.addEventListener("htmx:afterSwap", (event) => renewKeys(event.detail.target));
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

  window.addEventListener("online", flush);
  if (navigator.serviceWorker) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "kept") {
        localStorage.setItem("doorstep-kept-at", String(Date.now()));
        document.documentElement.dataset.kept = "yes";
      }
    });
    navigator.serviceWorker.startMessages();
  }
  window.addEventListener("offline", () => show());

  function keepTurfPages() {
    if (!navigator.serviceWorker || !navigator.onLine) return;
    const last = Number(localStorage.getItem("doorstep-kept-at") || 0);
    if (Date.now() - last < 10 * 60 * 1000) return;
    fetch("/offline/pages.json", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then(async (pages) => {
        if (!pages) return;
        const registration = await navigator.serviceWorker.ready;
        const assets = [...document.querySelectorAll("link[rel=stylesheet], script[src]")].map(
          (el) => el.href || el.src,
        );
        registration.active.postMessage({
          type: "keep",
          urls: [...assets, ...pages.urls],
          idle_minutes: pages.idle_minutes,
        });
      })
      .catch(() => {});
  }

  renewKeys(document);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js", { scope: "/" });
  flush().then(keepTurfPages);
})();
