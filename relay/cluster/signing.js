'use strict';

/**
 * Signed, expiring media URLs: an API node lends an upload to whichever worker takes the job.
 * The signature is HMAC-SHA256(CLUSTER_SECRET, "<job id>.<expiry>"); nothing else opens the route.
 * A second one, of the API node's origin (`node`), tells a worker that the URL points to a node of
 * this cluster: a URL in Redis could otherwise send a worker anywhere (issue 19).
 */

const crypto = require('node:crypto');

const MIN_SECRET_LENGTH = 32;

/** Raises when the secret is missing or too short to be unguessable. */
function checkSecret(secret) {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`distributed mode needs CLUSTER_SECRET, at least ${MIN_SECRET_LENGTH} characters `
      + '(e.g. `openssl rand -hex 32`), the same on every node');
  }
}

function signature(secret, id, expires) {
  return crypto.createHmac('sha256', secret).update(`${id}.${expires}`).digest('hex');
}

function originSignature(secret, origin) {
  return crypto.createHmac('sha256', secret).update(`origin ${origin}`).digest('hex');
}

/** The URL (on base, this API node's address as workers reach it) of a job's media, valid ttlS. */
function signMediaUrl({ base, id, secret, ttlS, nowMs = Date.now() }) {
  const expires = Math.floor(nowMs / 1000 + ttlS);
  const sig = signature(secret, id, expires);
  const node = originSignature(secret, new URL(base).origin);
  return `${base.replace(/\/+$/, '')}/internal/media/${encodeURIComponent(id)}?exp=${expires}&sig=${sig}&node=${node}`;
}

/**
 * For a worker, before it fetches: true when `url` is the media route of job `id` on an origin an API
 * node of this cluster signed, with a valid, unexpired signature.
 */
function verifyMediaUrl({ url, id, secret, nowMs = Date.now() }) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const node = parsed.searchParams.get('node');
  if (!/^https?:$/.test(parsed.protocol) || !parsed.pathname.endsWith(`/internal/media/${encodeURIComponent(id)}`)
    || typeof node !== 'string' || !/^[0-9a-f]{64}$/.test(node)) return false;
  const expected = Buffer.from(originSignature(secret, parsed.origin), 'hex');
  return crypto.timingSafeEqual(expected, Buffer.from(node, 'hex'))
    && verifyMediaSignature({ id, exp: parsed.searchParams.get('exp'), sig: parsed.searchParams.get('sig'), secret, nowMs });
}

/** True when sig is the signature of (id, exp) and exp has not passed. */
function verifyMediaSignature({ id, exp, sig, secret, nowMs = Date.now() }) {
  const expires = Number(exp);
  if (!Number.isInteger(expires) || expires * 1000 < nowMs || typeof sig !== 'string' || !/^[0-9a-f]{64}$/.test(sig)) {
    return false;
  }
  const expected = Buffer.from(signature(secret, id, expires), 'hex');
  return crypto.timingSafeEqual(expected, Buffer.from(sig, 'hex'));
}

module.exports = { checkSecret, signMediaUrl, verifyMediaSignature, verifyMediaUrl, MIN_SECRET_LENGTH };
