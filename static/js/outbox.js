/* The phone's outbox: no knock is lost for want of a signal.
 *
 * Forms marked data-outbox (the knock buttons, bulk "Not home") are kept on the phone in
 * IndexedDB when there is no signal, with their submission key and the time they
 * happened, and sent in order when the signal comes back (the `online` event) and on
 * every page load. Nothing depends on Background Sync, which Safari lacks. The server
 * records each at the time it happened; a key it has seen records nothing new.
 */
(() => {
  "use strict";
  const DB = "doorstep";
  const STORE = "outbox";
  const LOW_SPACE = 2 * 1024 * 1024;
  let flushing = false;

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
          break; // no signal after all: try again later
        }
        if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
          notes.push(`<a href="/login/?next=${encodeURIComponent(location.pathname)}">Log in</a> to send the knocks waiting on this phone.`);
          break;
        }
        if (response.ok) {
          const answer = await response.json();
          await remove(item.id);
          sent += answer.status === "recorded" ? 1 : 0;
          if (answer.needs_look) notes.push(`Sent, but needs a look: ${escape(answer.needs_look)}.`);
        } else if (response.status === 404 || response.status === 422) {
          let problem = "That door or person is no longer in Doorstep.";
          if (response.status === 422) problem = (await response.json()).message;
          await put({ ...item, state: "failed", problem });
        } else {
          break; // the server is struggling: keep everything and try later
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

  /* Online but the request died on the way (a stairwell): keep it too. */
  document.addEventListener("htmx:sendError", (event) => {
    const form = event.detail.elt.closest("form[data-outbox]");
    if (form) keep(form, event.detail.requestConfig && event.detail.requestConfig.triggeringEvent
      ? event.detail.requestConfig.triggeringEvent.submitter : null);
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
