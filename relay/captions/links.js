'use strict';

/**
 * Signed, expiring URLs for a job's captions and master playlists. A player cannot send an
 * Authorization header, so with keys on the playlists and segments also open to a request that
 * carries `exp` (unix seconds) and `sig` = HMAC-SHA256(secret, "captions <job id>.<exp>") — the
 * cluster's media-URL signing (relay/cluster/signing.js) over its own scope, so a captions signature
 * never opens an upload. The secret is CLUSTER_SECRET when set (the URLs then hold on every node and
 * across restarts), else a random one per relay process.
 */

const crypto = require('node:crypto');
const { signMediaUrl, verifyMediaSignature } = require('../cluster/signing');

const DEFAULT_TTL_S = 4 * 3600;
const MAX_TTL_S = 7 * 24 * 3600;

function scope(id) {
  return `captions ${id}`;
}

/**
 * Args: {secret} (null: a random secret for this process).
 * Returns: {sign(id, ttlS) -> {query: '?exp=…&sig=…', expires}, verify(id, query) -> boolean,
 *   ttlOf(value) -> seconds (DEFAULT_TTL_S for a missing value, clamped to 60 .. MAX_TTL_S)}.
 */
function createSigner({ secret }) {
  const key = secret || crypto.randomBytes(32).toString('hex');
  return {
    sign(id, ttlS = DEFAULT_TTL_S) {
      // signMediaUrl makes the one signature the cluster checks; only its exp and sig are used here
      const url = new URL(signMediaUrl({ base: 'http://relay.invalid', id: scope(id), secret: key, ttlS }));
      const exp = url.searchParams.get('exp');
      const sig = url.searchParams.get('sig');
      return { query: `?exp=${exp}&sig=${sig}`, expires: Number(exp) };
    },
    verify(id, query) {
      return Boolean(query) && verifyMediaSignature({ id: scope(id), exp: query.exp, sig: query.sig, secret: key });
    },
    ttlOf(value) {
      const seconds = Number(value);
      if (value === undefined || !Number.isFinite(seconds)) return DEFAULT_TTL_S;
      return Math.min(MAX_TTL_S, Math.max(60, Math.round(seconds)));
    },
  };
}

module.exports = { createSigner, DEFAULT_TTL_S, MAX_TTL_S };
