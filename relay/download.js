'use strict';

/**
 * Downloads a media URL to a file: http/https only, every hop's address checked (redirects too),
 * the connection pinned to the address that was checked (no DNS rebinding between the check and
 * the connect), a size limit, a time limit, and a refusal when the body is not audio or video.
 */

const fs = require('node:fs');
const dns = require('node:dns');
const net = require('node:net');
const http = require('node:http');
const https = require('node:https');
const { pipeline } = require('node:stream/promises');
const { Transform } = require('node:stream');
const { HttpError } = require('./errors');
const { isPrivateAddress } = require('./netpolicy');
const { looksLikeMedia, isMediaContentType } = require('./sniff');

const MB = 1024 * 1024;

/**
 * Args: url — the string the client sent; dest — the file to write; limits —
 *   {maxBytes, timeoutMs, maxRedirects, allowPrivate, lookup (default dns.promises.lookup),
 *   isPrivate (default isPrivateAddress; tests pass their own to tell two loopback addresses apart)}.
 * Returns: {file, name, contentType, bytes, finalUrl}.
 * Raises: HttpError 400/403/413/415/504 with a code (invalid_url, url_forbidden, url_fetch_failed,
 *   download_too_large, not_media, download_timeout).
 */
async function downloadUrl(url, dest, limits) {
  const { maxBytes, timeoutMs, maxRedirects = 5 } = limits;
  const signal = AbortSignal.timeout(timeoutMs);
  let current = parseHttpUrl(url);
  try {
    for (let hop = 0; ; hop += 1) {
      const address = await vetHost(current.hostname, limits);
      const response = await request(current, address, signal);
      const location = response.headers.location;
      if (response.statusCode >= 300 && response.statusCode < 400 && location) {
        response.resume();
        if (hop >= maxRedirects) {
          throw new HttpError(400, 'url_fetch_failed', `The URL redirected more than ${maxRedirects} times.`);
        }
        current = parseHttpUrl(new URL(location, current).href);
        continue;
      }
      if (response.statusCode !== 200) {
        response.resume();
        throw new HttpError(400, 'url_fetch_failed',
          `The URL answered ${response.statusCode} ${response.statusMessage || ''}`.trim() + '.',
          { upstream_status: response.statusCode });
      }
      return await saveBody(response, dest, { maxBytes, url: current });
    }
  } catch (err) {
    fs.rmSync(dest, { force: true });
    if (err instanceof HttpError) throw err;
    if (signal.aborted) {
      throw new HttpError(504, 'download_timeout', `The download took longer than ${timeoutMs / 1000} s.`);
    }
    throw new HttpError(400, 'url_fetch_failed', `The URL could not be fetched: ${err.message}`);
  }
}

function parseHttpUrl(text) {
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

/** Resolves the host and returns the one address to connect to, or refuses. */
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

function request(url, address, signal) {
  const client = url.protocol === 'https:' ? https : http;
  // Connect to the address that was checked, whatever DNS says a moment later.
  const pinned = (host, options, callback) => {
    if (options && options.all) callback(null, [address]);
    else callback(null, address.address, address.family);
  };
  return new Promise((resolve, reject) => {
    const req = client.get(url, {
      lookup: pinned, signal, headers: { 'user-agent': 'whisper-sidecar-relay', accept: 'audio/*, video/*, */*' },
    }, resolve);
    req.on('error', reject);
  });
}

async function saveBody(response, dest, { maxBytes, url }) {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.resume();
    throw tooLarge(maxBytes);
  }
  const contentType = response.headers['content-type'] || null;
  let bytes = 0;
  let head = Buffer.alloc(0);
  const counter = new Transform({
    transform(chunk, _encoding, callback) {
      bytes += chunk.length;
      if (head.length < 512) head = Buffer.concat([head, chunk.subarray(0, 512 - head.length)]);
      if (bytes > maxBytes) callback(tooLarge(maxBytes));
      else callback(null, chunk);
    },
  });
  await pipeline(response, counter, fs.createWriteStream(dest));
  if (bytes === 0) throw new HttpError(400, 'empty_download', 'The URL answered with an empty body.');
  if (!isMediaContentType(contentType) && !looksLikeMedia(head)) {
    throw new HttpError(415, 'not_media',
      `The URL did not serve audio or video (Content-Type ${contentType || 'missing'}).`);
  }
  return { file: dest, name: fileNameOf(url), contentType, bytes, finalUrl: url.href };
}

function fileNameOf(url) {
  const last = url.pathname.split('/').pop() || '';
  try {
    return decodeURIComponent(last) || url.hostname;
  } catch {
    return last || url.hostname;
  }
}

function tooLarge(maxBytes) {
  return new HttpError(413, 'download_too_large', `The download is larger than ${Math.round(maxBytes / MB)} MB.`);
}

module.exports = { downloadUrl, vetHost, parseHttpUrl };
