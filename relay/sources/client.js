'use strict';

/**
 * The HTTP side of a live source: every request under the URL policy of ../fetch (playlists,
 * keys, segments, the stream itself), on the source's own keep-alive agents so close() ends every
 * socket at once, each request watched by an idle timer tied to the source's AbortSignal.
 */

const http = require('node:http');
const https = require('node:https');
const { HttpError } = require('../errors');
const { fetchWithPolicy } = require('../net/fetch');
const { RequestGuard } = require('./guard');
const { Body } = require('./body');
const { streamIdle, downloadTimeout, fetchFailed, tooLarge } = require('./errors');

/**
 * Args: {limits: {idleTimeoutS, timeoutMs, allowPrivate, maxRedirects, lookup?, isPrivate?},
 *   signal: AbortSignal}.
 * Returns: {open(url, {headers?, deadlineMs?, what?}) -> {response, url, guard, body},
 *   fetchAll(url, {headers?, maxBytes, what}) -> {bytes, url, contentType},
 *   translate(err, guard, what, url) -> Error, close()}.
 *   Errors are HttpErrors, except that after `signal` aborts the abort error comes through as it is.
 */
function createClient({ limits, signal }) {
  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 4 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 4 }),
  };
  const idleMs = limits.idleTimeoutS * 1000;

  function translate(err, guard, what, url) {
    if (guard && guard.reason === 'idle') return streamIdle(limits.idleTimeoutS, what);
    if (guard && guard.reason === 'deadline') return downloadTimeout(limits.timeoutMs);
    if (signal.aborted || err instanceof HttpError) return err;
    return fetchFailed(`The ${what} at ${url} could not be fetched: ${err.message}`);
  }

  async function open(url, { headers, deadlineMs = null, what = 'data' } = {}) {
    const guard = new RequestGuard(signal, { idleMs, deadlineMs });
    try {
      const { response, url: finalUrl } = await fetchWithPolicy(url, { limits, signal: guard.signal, agents, headers });
      return { response, url: finalUrl, guard, body: new Body(response, guard) };
    } catch (err) {
      guard.dispose();
      throw translate(err, guard, what, url);
    }
  }

  async function fetchAll(url, { headers, maxBytes, what }) {
    const { response, url: finalUrl, guard, body } = await open(url, { headers, what });
    try {
      const bytes = await body.readAll(maxBytes, () => tooLarge(what, maxBytes));
      return { bytes, url: finalUrl, contentType: response.headers['content-type'] || null };
    } catch (err) {
      throw translate(err, guard, what, url);
    } finally {
      guard.dispose();
    }
  }

  function close() {
    agents.http.destroy();
    agents.https.destroy();
  }

  return { open, fetchAll, translate, close };
}

module.exports = { createClient };
