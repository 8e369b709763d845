'use strict';

/**
 * One GET under the relay's URL policy, shared by finite downloads and live sources (playlists,
 * keys, segments, endless streams): http/https only, no credentials in the URL, every hop's host
 * resolved and checked against the address policy (redirects too), and the connection pinned to
 * the address that was checked, so DNS cannot rebind between the check and the connect.
 */

const dns = require('node:dns');
const net = require('node:net');
const http = require('node:http');
const https = require('node:https');
const { HttpError } = require('../errors');
const { isPrivateAddress } = require('./policy');

const USER_AGENT = 'whisper-sidecar-relay';

/**
 * Args: text — the URL as given.
 * Returns: a URL object (http: or https:, no credentials).
 * Raises: HttpError 400 invalid_url.
 */
function parseHttpUrl(text) {
  if (typeof text !== 'string') {
    throw new HttpError(400, 'invalid_url', `url must be a string, not ${text === null ? 'null' : typeof text}.`);
  }
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new HttpError(400, 'invalid_url', `Not a URL: ${JSON.stringify(String(text).slice(0, 200))}.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HttpError(400, 'invalid_url', `Only http and https URLs are fetched, not ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw new HttpError(400, 'invalid_url', 'URLs with credentials are not fetched.');
  }
  return url;
}

/**
 * Resolves the host and returns the one address to connect to, or refuses.
 * Args: hostname — from a URL; limits — {allowPrivate, lookup (default dns.promises.lookup),
 *   isPrivate (default isPrivateAddress)}.
 * Returns: {address, family}.
 * Raises: HttpError 403 url_forbidden, 400 url_fetch_failed (does not resolve).
 */
async function vetHost(hostname, { allowPrivate, lookup = dns.promises.lookup, isPrivate = isPrivateAddress }) {
  const host = hostname.replace(/^\[|\]$/g, '');
  let addresses;
  if (net.isIP(host)) {
    addresses = [{ address: host, family: net.isIP(host) }];
  } else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch (err) {
      throw new HttpError(400, 'url_fetch_failed', `The host ${host} could not be resolved (${err.code || err.message}).`);
    }
  }
  if (!addresses || addresses.length === 0) {
    throw new HttpError(400, 'url_fetch_failed', `The host ${host} has no address.`);
  }
  if (!allowPrivate) {
    const refused = addresses.find((a) => isPrivate(a.address));
    if (refused) {
      throw new HttpError(403, 'url_forbidden',
        `The host ${host} resolves to ${refused.address}, a private, loopback or link-local address; `
        + 'set ALLOW_PRIVATE_URLS=1 to allow such URLs.');
    }
  }
  return addresses[0];
}

/** One GET to a vetted address; resolves with the response (any status). */
function request(url, address, { signal, agents, headers = {} }) {
  const secure = url.protocol === 'https:';
  const client = secure ? https : http;
  // Connect to the address that was checked, whatever DNS says a moment later.
  const pinned = (host, options, callback) => {
    if (options && options.all) callback(null, [address]);
    else callback(null, address.address, address.family);
  };
  const agent = agents ? (secure ? agents.https : agents.http) : undefined;
  return new Promise((resolve, reject) => {
    const req = client.get(url, {
      lookup: pinned, signal, agent, headers: { 'user-agent': USER_AGENT, accept: '*/*', ...headers },
    }, resolve);
    req.on('error', reject);
  });
}

/**
 * GETs a URL, following redirects, every hop checked and pinned.
 *
 * Args: url — string or URL; options — {limits: {allowPrivate, maxRedirects (default 5), lookup?,
 *   isPrivate?}, signal (aborts the request and the body), agents? ({http, https} agents to reuse
 *   connections), headers? (extra request headers)}.
 * Returns: {response, url} — a 2xx response with its body unread, and the final URL.
 * Raises: HttpError invalid_url / url_forbidden / url_fetch_failed (non-2xx answers carry
 *   details.upstream_status); when `signal` aborts, the abort error itself, untranslated.
 */
async function fetchWithPolicy(url, { limits, signal, agents, headers }) {
  const maxRedirects = limits.maxRedirects ?? 5;
  let current = url instanceof URL ? url : parseHttpUrl(url);
  for (let hop = 0; ; hop += 1) {
    const address = await vetHost(current.hostname, limits);
    let response;
    try {
      response = await request(current, address, { signal, agents, headers });
    } catch (err) {
      if (signal && signal.aborted) throw err;
      throw new HttpError(400, 'url_fetch_failed', `The URL could not be fetched: ${err.message}`);
    }
    const { statusCode } = response;
    const location = response.headers.location;
    if (statusCode >= 300 && statusCode < 400 && location) {
      response.resume();
      if (hop >= maxRedirects) {
        throw new HttpError(400, 'url_fetch_failed', `The URL redirected more than ${maxRedirects} times.`);
      }
      let next;
      try {
        next = new URL(location, current).href;
      } catch {
        throw new HttpError(400, 'url_fetch_failed', 'The URL redirected to an invalid location.');
      }
      current = parseHttpUrl(next);
      continue;
    }
    if (statusCode < 200 || statusCode >= 300) {
      response.resume();
      throw new HttpError(400, 'url_fetch_failed',
        `${current.href} answered ${statusCode} ${response.statusMessage || ''}`.trim() + '.',
        { upstream_status: statusCode });
    }
    return { response, url: current };
  }
}

module.exports = { fetchWithPolicy, parseHttpUrl, vetHost, USER_AGENT };
