'use strict';

/**
 * The relay's API keys: RELAY_API_KEYS, RELAY_API_KEYS_FILE (re-read on SIGHUP by relay.js) and
 * RELAY_ADMIN_KEYS, held as SHA-256 digests only.
 *
 * A key is never logged or stored: it is known by its id, the first 8 hex digits of its digest.
 * Lookups compare digests with crypto.timingSafeEqual against every known key, so neither the
 * answer's time nor an early exit tells how much of a guess was right.
 */

const fs = require('node:fs');
const crypto = require('node:crypto');
const { EventEmitter } = require('node:events');

const MIN_KEY_LENGTH = 16;
const KEY_SHAPE = /^[\x21-\x7e]+$/; // printable ASCII, no spaces: what fits in an Authorization header

/** The id a key is logged and stored under: the first 8 hex digits of its SHA-256. */
function keyId(key) {
  return digest(key).toString('hex').slice(0, 8);
}

function digest(key) {
  return crypto.createHash('sha256').update(String(key), 'utf8').digest();
}

/**
 * Reads a keys file: one key a line; blank lines and lines starting with `#` are skipped, and so is
 * anything after ` #` on a line.
 * Raises: TypeError naming the file and line (never quoting the key) for a malformed key.
 */
function parseKeysFile(text, file = 'the keys file') {
  const keys = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const key = line.replace(/\s+#.*$/, '').trim();
    if (!key || key.startsWith('#')) return;
    checkKey(key, `${file} line ${index + 1}`);
    keys.push(key);
  });
  return keys;
}

function checkKey(key, where) {
  if (!KEY_SHAPE.test(key)) throw new TypeError(`${where}: an API key must be printable ASCII without spaces`);
  if (key.length < MIN_KEY_LENGTH) {
    throw new TypeError(`${where}: an API key must be at least ${MIN_KEY_LENGTH} characters `
      + '(make one with: openssl rand -hex 32)');
  }
}

/** Emits 'removed' (ids) when a reload drops keys, so their sockets and live jobs end (relay/auth/revoke.js). */
class KeyRing extends EventEmitter {
  /**
   * @param {object} options
   * @param {string[]} [options.keys] RELAY_API_KEYS
   * @param {string|null} [options.file] RELAY_API_KEYS_FILE, read now and on reload()
   * @param {string[]} [options.adminKeys] RELAY_ADMIN_KEYS: these keys see every job
   * @param {(file: string) => string} [options.readFile] reads the keys file (default fs.readFileSync utf8)
   * Raises: TypeError for a malformed key; the fs error when the file cannot be read.
   */
  constructor({ keys = [], file = null, adminKeys = [], readFile = (f) => fs.readFileSync(f, 'utf8') } = {}) {
    super();
    this.file = file;
    this.readFile = readFile;
    keys.forEach((key) => checkKey(key, 'RELAY_API_KEYS'));
    adminKeys.forEach((key) => checkKey(key, 'RELAY_ADMIN_KEYS'));
    this.fixed = [...keys.map((key) => entry(key, false)), ...adminKeys.map((key) => entry(key, true))];
    this.fromFile = file ? parseKeysFile(readFile(file), file).map((key) => entry(key, false)) : [];
    // Keys are on when any key setting is given: an emptied keys file locks everyone out rather
    // than opening the relay.
    this.enabled = Boolean(file) || this.fixed.length > 0;
  }

  /** How many keys are known now: {keys, admin}. */
  get count() {
    const all = this.entries();
    return { keys: all.length, admin: all.filter((e) => e.admin).length };
  }

  /**
   * Re-reads the keys file (relay.js calls this on SIGHUP). On a read or parse error the keys
   * in use stay as they were.
   * Returns: {ok: true, count} or {ok: false, error}.
   */
  reload() {
    if (!this.file) return { ok: true, count: this.count };
    const before = new Set(this.entries().map((e) => e.id));
    try {
      this.fromFile = parseKeysFile(this.readFile(this.file), this.file).map((key) => entry(key, false));
    } catch (err) {
      return { ok: false, error: err.message };
    }
    for (const e of this.entries()) before.delete(e.id);
    if (before.size > 0) this.emit('removed', [...before]);
    return { ok: true, count: this.count };
  }

  /** Returns {id, admin} for a known key, else null. Every known key is compared, in constant time each. */
  lookup(key) {
    if (typeof key !== 'string' || key === '') return null;
    const wanted = digest(key);
    let found = null;
    for (const known of this.entries()) {
      if (crypto.timingSafeEqual(known.digest, wanted) && (!found || known.admin)) found = known;
    }
    return found ? { id: found.id, admin: found.admin } : null;
  }

  entries() {
    return [...this.fixed, ...this.fromFile];
  }
}

function entry(key, admin) {
  const hash = digest(key);
  return { digest: hash, id: hash.toString('hex').slice(0, 8), admin };
}

/** The key ring for a loaded config (relay/config.js). */
function keyRingFromConfig(config) {
  return new KeyRing({ keys: config.apiKeys || [], file: config.apiKeysFile || null, adminKeys: config.adminKeys || [] });
}

module.exports = { KeyRing, keyId, parseKeysFile, keyRingFromConfig, MIN_KEY_LENGTH };
