'use strict';

/**
 * relay.js as a real process: it refuses to serve on a non-loopback HOST without keys (one line
 * naming the fix), says in its banner whether keys are on, and re-reads RELAY_API_KEYS_FILE on
 * SIGHUP — never printing a key.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { tempDir } = require('../helpers');
const { newKey, call, spawnRelay, until } = require('../keyed');
const { keyId } = require('../../../relay/auth/keys');

test('no keys and HOST=0.0.0.0: relay.js exits non-zero with one line that names the fix', async () => {
  const relay = spawnRelay({ HOST: '0.0.0.0', PORT: '0', DATA_DIR: tempDir() });
  const { code } = await relay.exited;
  assert.notEqual(code, 0);
  const lines = relay.output().trim().split('\n');
  assert.equal(lines.length, 1, relay.output());
  assert.match(lines[0], /HOST=0\.0\.0\.0 without API keys/);
  assert.match(lines[0], /RELAY_API_KEYS/);
  assert.match(lines[0], /ALLOW_UNAUTHENTICATED=1/);
  assert.doesNotMatch(relay.output(), /Starting the whisper sidecar/, 'nothing was started');
});

test('a keys file: the banner counts the keys, SIGHUP re-reads the file, no key is ever printed', async () => {
  const dir = tempDir('keys-');
  const file = path.join(dir, 'keys.txt');
  const [first, second, third] = [newKey('one'), newKey('two'), newKey('three')];
  fs.writeFileSync(file, `# relay keys\n${first}\n\n${second}   # the second\n`);
  const relay = spawnRelay({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: tempDir(), RELAY_API_KEYS_FILE: file });
  try {
    const [, port] = await relay.waitFor(/Relay listening on http:\/\/127\.0\.0\.1:(\d+)\//);
    await relay.waitFor(/API keys: on \(2 keys, 0 admin; .* is re-read on SIGHUP\)/, 5000);
    const url = `http://127.0.0.1:${port}`;
    const status = async (key) => (await call(url, 'GET', '/api/transcriptions', { key })).status;
    assert.equal(await status(first), 200);
    assert.equal(await status(second), 200);
    assert.equal(await status(third), 401);
    assert.equal(await status(null), 401);

    fs.writeFileSync(file, `${third}\n`);
    relay.child.kill('SIGHUP');
    await relay.waitFor(/SIGHUP: keys re-read \(1 keys, 0 admin\)/, 10000);
    assert.equal(await status(third), 200);
    assert.equal(await status(first), 401);

    // A file that does not parse keeps the keys in use.
    fs.writeFileSync(file, 'short\n');
    relay.child.kill('SIGHUP');
    await relay.waitFor(/SIGHUP: the keys file did not read, the keys in use stay/, 10000);
    assert.equal(await status(third), 200);

    for (const key of [first, second, third]) {
      assert.ok(!relay.output().includes(key), 'a key was printed');
      assert.equal(keyId(key).length, 8);
    }
  } finally {
    relay.child.kill('SIGTERM');
    await until(() => relay.child.exitCode !== null || relay.child.signalCode !== null, 20000, 'relay.js to stop');
  }
});
