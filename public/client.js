'use strict';

// How the page talks to the relay when it wants an API key: the key is asked for in a small form
// when a call answers 401, kept in sessionStorage (gone when the tab closes), and sent as
// "Authorization: Bearer <key>". Server-Sent Events are read from a fetch() body, because an
// EventSource cannot send headers (and a key in the query string would land in logs).

(() => {
  const STORAGE_KEY = 'whisper-relay-api-key';
  const RETRY_MS = 2000;
  const listeners = []; // run each time a key is entered (to load what a 401 refused)

  function key() {
    try {
      return sessionStorage.getItem(STORAGE_KEY);
    } catch {
      return null;
    }
  }

  function headers(extra = {}) {
    const current = key();
    return current ? { ...extra, authorization: `Bearer ${current}` } : { ...extra };
  }

  /** fetch() with the key; a 401 asks for a (new) key and still returns the response. */
  async function apiFetch(url, init = {}) {
    const sent = key();
    const response = await fetch(url, { ...init, headers: headers(init.headers) });
    if (response.status === 401) askForKey(sent);
    return response;
  }

  /** Runs `callback` each time a key is entered. */
  function onKeyEntered(callback) {
    listeners.push(callback);
  }

  /** Shows the key form; `refusedKey` is the key a 401 answered (null when none was sent). */
  function askForKey(refusedKey) {
    const card = document.querySelector('#key-card');
    if (!card) return;
    const why = document.querySelector('#key-why');
    if (refusedKey) {
      if (key() === refusedKey) sessionStorage.removeItem(STORAGE_KEY);
      why.textContent = 'The relay did not accept that key. Enter another one.';
    } else if (card.hidden) {
      why.textContent = 'This relay needs an API key.';
    }
    if (card.hidden) {
      card.hidden = false;
      document.querySelector('#key-input').focus();
    }
  }

  function setUpKeyForm() {
    const form = document.querySelector('#key-form');
    if (!form) return;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const input = document.querySelector('#key-input');
      const value = input.value.trim();
      if (!value) return;
      sessionStorage.setItem(STORAGE_KEY, value);
      input.value = '';
      document.querySelector('#key-card').hidden = true;
      for (const callback of listeners) callback();
    });
  }

  /**
   * Follows a Server-Sent Events URL with the key, reconnecting after a dropped connection until
   * `isDone()` says the stream has ended for good. onEvent(type, data) gets each event (data parsed).
   * Returns a stop() function.
   */
  function streamEvents(url, { onEvent, onFailure = () => {}, isDone = () => false }) {
    const controller = new AbortController();
    const run = async () => {
      while (!controller.signal.aborted && !isDone()) {
        try {
          const response = await apiFetch(url, { signal: controller.signal, headers: { accept: 'text/event-stream' } });
          if (!response.ok) {
            const body = await response.json().catch(() => null);
            onFailure((body && body.error) || { message: `The relay answered ${response.status}.` }, response.status);
            return;
          }
          await readEvents(response.body, onEvent);
        } catch (err) {
          if (controller.signal.aborted) return;
        }
        if (!isDone()) await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    };
    run();
    return () => controller.abort();
  }

  async function readEvents(body, onEvent) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) type = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length) {
          onEvent(type, JSON.parse(data.join('\n')));
          // One task per event, as EventSource does, so the page redraws between events that
          // arrived in one chunk.
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      }
    }
  }

  /** A download link's file, fetched with the key and saved through a temporary object URL. */
  async function download(url) {
    const response = await apiFetch(url);
    if (!response.ok) return;
    const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') || '');
    const link = document.createElement('a');
    link.href = URL.createObjectURL(await response.blob());
    link.download = name ? name[1] : url.split('/').pop().replace(/\?.*$/, '');
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  /** Download links go through download() once a key is in use; plain links work without keys. */
  function setUpDownloads() {
    document.addEventListener('click', (event) => {
      const link = event.target.closest && event.target.closest('a[href^="/api/"]');
      if (!link || !key()) return;
      event.preventDefault();
      download(link.getAttribute('href'));
    });
  }

  setUpKeyForm();
  setUpDownloads();
  window.relayClient = { apiFetch, headers, onKeyEntered, streamEvents, askForKey, key };
})();
