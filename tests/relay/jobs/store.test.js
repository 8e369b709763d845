'use strict';

/**
 * relay/store.js: a relay.sqlite made before job owners existed gets the owner column by ALTER
 * TABLE, keeps its jobs (owner null), and lists and counts by owner from then on.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Database } = require('node-sqlite3-wasm');
const { tempDir } = require('../helpers');
const { JobStore } = require('../../../relay/jobs/store');

const OLD_SCHEMA = `CREATE TABLE jobs (id TEXT PRIMARY KEY, state TEXT NOT NULL, source TEXT NOT NULL, name TEXT,
  media_path TEXT NOT NULL, owns_media INTEGER NOT NULL DEFAULT 0, options TEXT NOT NULL DEFAULT '{}', progress REAL,
  stage TEXT, message TEXT, device TEXT, result TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT);`;

test('an old relay.sqlite gains the owner column and keeps its jobs', () => {
  const file = path.join(tempDir('store-'), 'relay.sqlite');
  const old = new Database(file);
  old.exec(OLD_SCHEMA);
  old.run("INSERT INTO jobs (id, state, source, media_path, created_at) VALUES ('old', 'done', 'upload', '/m', '2024-01-01')");
  old.close();

  const store = new JobStore(file);
  try {
    assert.equal(store.get('old').owner, null);
    store.insert({ id: 'mine', source: 'path', mediaPath: '/m', owner: 'abcd1234' });
    store.insert({ id: 'theirs', source: 'path', mediaPath: '/m', owner: 'ffff0000' });
    assert.equal(store.get('mine').owner, 'abcd1234');
    assert.deepEqual(store.list({ owner: 'abcd1234' }).map((j) => j.id), ['mine']);
    assert.deepEqual(store.list().map((j) => j.id).sort(), ['mine', 'old', 'theirs']);
    assert.equal(store.countActive(), 2);
    assert.equal(store.countActive({ owner: 'abcd1234' }), 1);
    store.update('mine', { state: 'done' });
    assert.equal(store.countActive({ owner: 'abcd1234' }), 0);
  } finally {
    store.close();
  }
  // Opening it again does not add the column twice.
  new JobStore(file).close();
});
