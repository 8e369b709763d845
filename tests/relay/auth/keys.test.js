'use strict';

/**
 * relay/auth/keys.js and exposure.js without a server: the keys file's format, admin keys, an
 * emptied file locking everyone out, malformed keys refused without being quoted, loopback hosts,
 * the exposure rule and the banner (counts, never keys).
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { tempDir } = require('../helpers');
const { KeyRing, keyId, parseKeysFile } = require('../../../relay/auth/keys');
const { isLoopback, exposureProblem, keysBanner } = require('../../../relay/auth/exposure');
const { loadConfig } = require('../../../relay/config');

const A = 'a'.repeat(16) + crypto.randomBytes(8).toString('hex');
const ADMIN = 'admin-'.repeat(4);

test('keyId is the first 8 hex digits of the key\'s SHA-256', () => {
  assert.equal(keyId(A), crypto.createHash('sha256').update(A).digest('hex').slice(0, 8));
});

test('the keys file: comments, blank lines and trailing comments; a bad line is named, not quoted', () => {
  assert.deepEqual(parseKeysFile(`# keys\n\n  ${A}  # laptop\r\n${ADMIN}\n`), [A, ADMIN]);
  assert.throws(() => parseKeysFile('# ok\nshort-secret\n', 'keys.txt'),
    (err) => /keys\.txt line 2: an API key must be at least 16/.test(err.message) && !err.message.includes('short-secret'));
  assert.throws(() => parseKeysFile(`${A} ${A}x\n`), /printable ASCII without spaces/);
});

test('lookup: known keys, admin keys, unknown and empty keys', () => {
  const ring = new KeyRing({ keys: [A], adminKeys: [ADMIN] });
  assert.deepEqual(ring.lookup(A), { id: keyId(A), admin: false });
  assert.deepEqual(ring.lookup(ADMIN), { id: keyId(ADMIN), admin: true });
  assert.equal(ring.lookup(`${A}x`), null);
  assert.equal(ring.lookup(''), null);
  assert.equal(ring.lookup(undefined), null);
  assert.deepEqual(ring.count, { keys: 2, admin: 1 });
  assert.equal(new KeyRing().enabled, false);
});

test('an emptied keys file locks everyone out; a file that does not read keeps the keys in use', () => {
  const file = path.join(tempDir('keys-'), 'keys.txt');
  fs.writeFileSync(file, `${A}\n`);
  const ring = new KeyRing({ file });
  assert.ok(ring.lookup(A));
  fs.writeFileSync(file, '# nobody\n');
  assert.deepEqual(ring.reload(), { ok: true, count: { keys: 0, admin: 0 } });
  assert.equal(ring.enabled, true);
  assert.equal(ring.lookup(A), null);
  fs.writeFileSync(file, `${A}\n`);
  ring.reload();
  fs.rmSync(file);
  const outcome = ring.reload();
  assert.equal(outcome.ok, false);
  assert.match(outcome.error, /ENOENT/);
  assert.ok(ring.lookup(A), 'the keys in use stay');
});

test('RELAY_API_KEYS and RELAY_ADMIN_KEYS from the environment; a short one is refused', () => {
  const config = loadConfig({ RELAY_API_KEYS: ` ${A} ,, `, RELAY_ADMIN_KEYS: ADMIN, MAX_JOBS_PER_KEY: '3' });
  assert.deepEqual(config.apiKeys, [A]);
  assert.equal(config.maxJobsPerKey, 3);
  assert.throws(() => new KeyRing({ keys: ['tiny'] }), /RELAY_API_KEYS: an API key must be at least 16/);
  assert.throws(() => loadConfig({ RATE_LIMIT_PER_MIN: '-1' }), /RATE_LIMIT_PER_MIN must be a whole number >= 0/);
});

test('loopback hosts, the exposure rule and the banner', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) assert.ok(isLoopback(host), host);
  for (const host of ['0.0.0.0', '::', '192.168.1.2', 'example.com', '']) assert.ok(!isLoopback(host), host);
  const none = new KeyRing();
  const open = loadConfig({ HOST: '0.0.0.0' });
  assert.match(exposureProblem(open, none), /^Refusing to serve on HOST=0\.0\.0\.0 without API keys/);
  assert.equal(exposureProblem(loadConfig({ HOST: '0.0.0.0', ALLOW_UNAUTHENTICATED: '1' }), none), null);
  assert.equal(exposureProblem(loadConfig({}), none), null);
  const keyed = new KeyRing({ keys: [A], adminKeys: [ADMIN] });
  assert.equal(exposureProblem(open, keyed), null);
  const banner = keysBanner(open, keyed);
  assert.equal(banner, 'API keys: on (2 keys, 1 admin)');
  assert.match(keysBanner(loadConfig({ HOST: '0.0.0.0', ALLOW_UNAUTHENTICATED: '1' }), none), /API keys: OFF on 0\.0\.0\.0/);
  assert.match(keysBanner(loadConfig({}), none), /API keys: off \(loopback only/);
  // Keys off on a LAN address: the banner says which Host names are answered (relay/auth/origin.js).
  assert.match(keysBanner(loadConfig({ HOST: '10.0.0.5', ALLOW_UNAUTHENTICATED: '1', ALLOWED_HOSTS: 'Relay.LAN' }), none),
    /Host names answered: loopback, relay\.lan, 10\.0\.0\.5 \(ALLOWED_HOSTS adds names/);
});
