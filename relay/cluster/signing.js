'use strict';

/**
 * Signed, expiring media URLs: an API node lends an upload to whichever worker takes the job.
 * The signature is HMAC-SHA256(CLUSTER_SECRET, "<job id>.<expiry>"); nothing else opens the route.
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

/** The URL (on base, this API node's address as workers reach it) of a job's media, valid ttlS. */
function signMediaUrl({ base, id, secret, ttlS, nowMs = Date.now() }) {
  const expires = Math.floor(nowMs / 1000 + ttlS);
  const sig = signature(secret, id, expires);
  return `${base.replace(/\/+$/, '')}/internal/media/${encodeURIComponent(id)}?exp=${expires}&sig=${sig}`;
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

module.exports = { checkSecret, signMediaUrl, verifyMediaSignature, MIN_SECRET_LENGTH };
