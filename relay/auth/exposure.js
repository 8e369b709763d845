'use strict';

/**
 * The exposure rule: with no API keys, the relay serves only on loopback unless
 * ALLOW_UNAUTHENTICATED=1 says otherwise. relay.js checks it before anything starts.
 */

const net = require('node:net');

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/** True for localhost, 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
function isLoopback(host) {
  const bare = String(host || '').trim().replace(/^\[|\]$/g, '').replace(/%.*$/, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  const v4 = bare.startsWith('::ffff:') ? bare.slice(7) : bare;
  return net.isIPv4(v4) && v4.startsWith('127.');
}

/**
 * Returns: null when the relay may start, else the one line that says why not and names the fix.
 * Args: config (relay/config.js), keyring (./keys.js).
 */
function exposureProblem(config, keyring) {
  if (keyring.enabled || isLoopback(config.host) || config.allowUnauthenticated) return null;
  return `Refusing to serve on HOST=${config.host} without API keys: set RELAY_API_KEYS or RELAY_API_KEYS_FILE `
    + '(see README "Security"), or set ALLOW_UNAUTHENTICATED=1 to let anyone who can reach the port in.';
}

/** The start-up banner's line about keys (counts, never keys). */
function keysBanner(config, keyring) {
  if (keyring.enabled) {
    const { keys, admin } = keyring.count;
    return `API keys: on (${keys} key${keys === 1 ? '' : 's'}, ${admin} admin${config.apiKeysFile
      ? `; ${config.apiKeysFile} is re-read on SIGHUP` : ''})`;
  }
  return isLoopback(config.host) ? 'API keys: off (loopback only; set RELAY_API_KEYS to require keys)'
    : `API keys: OFF on ${config.host} (ALLOW_UNAUTHENTICATED=1): anyone who can reach the port can use the relay; `
      + `Host names answered: loopback${hostsNote(config)} (ALLOWED_HOSTS adds names, * any)`;
}

/**
 * The Host names answered with keys off besides loopback (./origin.js): HOST unless it is a wildcard,
 * CLUSTER_URL's host, and ALLOWED_HOSTS (`*`: any) — lower case, without brackets.
 */
function answeredHosts(config) {
  const names = new Set((config.allowedHosts || []).map(bareHost));
  if (!WILDCARD_HOSTS.has(bareHost(config.host))) names.add(bareHost(config.host));
  if (config.clusterUrl) {
    try {
      names.add(bareHost(new URL(config.clusterUrl).hostname));
    } catch {
      // not a URL: relay/cluster says so at start
    }
  }
  return names;
}

function bareHost(host) {
  return String(host || '').trim().toLowerCase().replace(/^\[|\]$/g, '');
}

function hostsNote(config) {
  const names = [...answeredHosts(config)];
  return names.length ? `, ${names.join(', ')}` : '';
}

module.exports = { isLoopback, exposureProblem, keysBanner, answeredHosts, bareHost };
