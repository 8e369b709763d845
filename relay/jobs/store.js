'use strict';

/**
 * Jobs and their transcripts, kept in one SQLite file in the data folder.
 *
 * SQLite through node-sqlite3-wasm: a WebAssembly build with a VFS that reads and writes the real
 * file, so every statement is durable when it returns and nothing needs a native build (Node 20
 * has no node:sqlite, and better-sqlite3 needs a compiler where no prebuilt binary downloads).
 * The API is synchronous, which suits a single relay process: no write ever interleaves.
 */

const fs = require('node:fs');
const path = require('node:path');
const { Database } = require('node-sqlite3-wasm');

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  source TEXT NOT NULL,
  name TEXT,
  media_path TEXT NOT NULL,
  owns_media INTEGER NOT NULL DEFAULT 0,
  options TEXT NOT NULL DEFAULT '{}',
  progress REAL,
  stage TEXT,
  message TEXT,
  device TEXT,
  result TEXT,
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  owner TEXT
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);
CREATE TABLE IF NOT EXISTS live_segments (
  job_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  start REAL NOT NULL,
  end REAL NOT NULL,
  text TEXT NOT NULL,
  gap INTEGER NOT NULL DEFAULT 0,
  reason TEXT,
  PRIMARY KEY (job_id, seq)
);
`;

/**
 * A live job's finals are kept under its id; a second track of the same job (`translation: true`:
 * the English track 'en') under `<job id>/<track>`, so each track counts its own seq from 0 and the
 * job's own finals never mix with it.
 */
const trackKey = (jobId, track) => (track ? `${jobId}/${track}` : jobId);

/** Columns added since the first relay.sqlite: [name, definition], added by ALTER TABLE when missing. */
const ADDED_COLUMNS = [
  ['owner', 'TEXT'], // the id of the API key that made the job (relay/auth); NULL without keys
  ['kind', 'TEXT'], // a URL or path job's source once known: hls, http, file (live) or download
  ['live', 'INTEGER NOT NULL DEFAULT 0'],
  ['input', 'TEXT'], // what a URL or followed-file job reads: {url, from} or {path, follow}
  ['stopped', 'INTEGER NOT NULL DEFAULT 0'], // a live job stopped by DELETE
];
/** The same for live_segments. */
const ADDED_SEGMENT_COLUMNS = [
  ['words', 'TEXT'], // a final's words [{word, start, end, probability}] as JSON (word_timestamps: true), else NULL
];

/** Columns a caller may update, with how each is stored. */
const JSON_COLUMNS = new Set(['options', 'result', 'error', 'input']);
const UPDATABLE = new Set([
  'state', 'progress', 'stage', 'message', 'device', 'result', 'error', 'attempts',
  'started_at', 'finished_at', 'media_path', 'owns_media', 'kind', 'live', 'input', 'stopped',
]);

/** A job that holds a live slot: live and not finished, or a URL job whose kind is not known yet. */
const LIVE_SLOT = `state IN ('queued', 'downloading', 'running')
  AND (live = 1 OR (input IS NOT NULL AND kind IS NULL))`;

const ACTIVE_STATES = Object.freeze(['queued', 'downloading', 'running']);
const FINAL_STATES = Object.freeze(['done', 'error', 'cancelled']);

class JobStore {
  /** @param {string} file path of the SQLite file; its folder is created. */
  constructor(file) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.file = file;
    this.db = new Database(file);
    this.db.exec(SCHEMA);
    this.migrate();
  }

  /** Brings a relay.sqlite made by an older relay up to SCHEMA. */
  migrate() {
    for (const [table, columns] of [['jobs', ADDED_COLUMNS], ['live_segments', ADDED_SEGMENT_COLUMNS]]) {
      const have = new Set(this.db.all(`PRAGMA table_info(${table})`).map((column) => column.name));
      for (const [name, definition] of columns) {
        if (!have.has(name)) this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${definition}`);
      }
    }
    this.db.exec('CREATE INDEX IF NOT EXISTS jobs_owner_state ON jobs (owner, state)');
  }

  insert(job) {
    this.db.run(
      `INSERT INTO jobs (id, state, source, name, media_path, owns_media, options, created_at, owner,
         kind, live, input)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [job.id, job.state || 'queued', job.source, job.name || null, job.mediaPath || '',
        job.ownsMedia ? 1 : 0, JSON.stringify(job.options || {}), job.createdAt || now(), job.owner || null,
        job.kind || null, job.live ? 1 : 0, job.input ? JSON.stringify(job.input) : null],
    );
    return this.get(job.id);
  }

  /** Returns the job or null. */
  get(id) {
    const row = this.db.get('SELECT * FROM jobs WHERE id = ?', [id]);
    return row ? fromRow(row) : null;
  }

  /** Newest first, without the (possibly large) result; only `owner`'s jobs when it is given. */
  list({ limit = 50, owner } = {}) {
    const mine = owner !== undefined;
    const rows = this.db.all(
      `SELECT id, state, source, name, progress, stage, message, device, error, attempts,
              created_at, started_at, finished_at, options, media_path, owns_media, owner, kind, live, stopped,
              json_extract(result, '$.duration') AS duration
       FROM jobs ${mine ? 'WHERE owner IS ?' : ''} ORDER BY created_at DESC, rowid DESC LIMIT ?`,
      mine ? [owner, limit] : [limit],
    );
    return rows.map(fromRow);
  }

  /** How many jobs are queued or running (only `owner`'s when it is given). */
  countActive({ owner } = {}) {
    const mine = owner !== undefined;
    const row = this.db.get(
      `SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'downloading', 'running') ${mine ? 'AND owner IS ?' : ''}`,
      mine ? [owner] : [],
    );
    return row.n;
  }

  /**
   * How many live jobs hold a slot (only `owner`'s when it is given): live and not finished, or a URL
   * job whose kind is not known yet (it may turn out live; a download gives its slot back).
   */
  countLive({ owner } = {}) {
    const mine = owner !== undefined;
    return this.db.get(`SELECT COUNT(*) AS n FROM jobs WHERE ${LIVE_SLOT} ${mine ? 'AND owner IS ?' : ''}`,
      mine ? [owner] : []).n;
  }

  /** The ids of `owner`'s jobs that hold a live slot (countLive's). */
  liveIds(owner) {
    return this.db.all(`SELECT id FROM jobs WHERE ${LIVE_SLOT} AND owner IS ?`, [owner]).map((row) => row.id);
  }

  /** Finished jobs that ended before `cutoff` (an ISO time): [{id, mediaPath, ownsMedia}]. */
  finishedBefore(cutoff) {
    return this.db.all(
      `SELECT id, media_path, owns_media FROM jobs WHERE state IN ('done', 'error', 'cancelled')
         AND COALESCE(finished_at, created_at) < ?`, [cutoff],
    ).map((row) => ({ id: row.id, mediaPath: row.media_path, ownsMedia: row.owns_media === 1 }));
  }

  /** The media files unfinished jobs still need. */
  activeMedia() {
    return this.db.all("SELECT media_path FROM jobs WHERE state IN ('queued', 'downloading', 'running')")
      .map((row) => row.media_path).filter(Boolean);
  }

  /** Updates the given columns (snake_case names), returns the job. */
  update(id, fields) {
    const names = Object.keys(fields);
    for (const name of names) {
      if (!UPDATABLE.has(name)) throw new TypeError(`JobStore.update: unknown column ${JSON.stringify(name)}`);
    }
    if (names.length === 0) return this.get(id);
    const values = names.map((name) => (JSON_COLUMNS.has(name) && fields[name] != null
      ? JSON.stringify(fields[name]) : fields[name]));
    this.db.run(`UPDATE jobs SET ${names.map((n) => `${n} = ?`).join(', ')} WHERE id = ?`, [...values, id]);
    return this.get(id);
  }

  /** Ids of queued jobs, oldest first. */
  queuedIds() {
    return this.db.all("SELECT id FROM jobs WHERE state = 'queued' ORDER BY created_at, rowid").map((r) => r.id);
  }

  /**
   * Puts every job left 'running' by a previous relay back in the queue (the relay or the machine
   * died under it). Returns their ids.
   */
  requeueInterrupted() {
    const ids = this.db.all("SELECT id FROM jobs WHERE state IN ('running', 'downloading')").map((r) => r.id);
    if (ids.length > 0) {
      this.db.run(`UPDATE jobs SET state = 'queued', progress = NULL, stage = NULL,
        message = 'Requeued after a relay restart' WHERE state IN ('running', 'downloading')`);
    }
    return ids;
  }

  /**
   * Keeps a live job's final segment for good (a restart or a crash loses none), with its words when
   * it has them; `track` names a second track of the job ('en'), null for its own finals.
   */
  addSegment(jobId, segment, track = null) {
    this.db.run(
      `INSERT OR REPLACE INTO live_segments (job_id, seq, start, end, text, gap, reason, words)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [trackKey(jobId, track), segment.id, segment.start, segment.end, segment.text || '', segment.gap ? 1 : 0,
        segment.reason || null, Array.isArray(segment.words) ? JSON.stringify(segment.words) : null],
    );
  }

  /** A live job's final segments so far (of `track`, or its own), in order. */
  segments(jobId, track = null) {
    return this.db.all('SELECT * FROM live_segments WHERE job_id = ? ORDER BY seq', [trackKey(jobId, track)]).map((row) => {
      const segment = { id: row.seq, start: row.start, end: row.end, text: row.text, final: true };
      if (row.words != null) segment.words = JSON.parse(row.words);
      if (row.gap) Object.assign(segment, { gap: true, reason: row.reason });
      return segment;
    });
  }

  delete(id) {
    this.db.run('DELETE FROM jobs WHERE id = ?', [id]);
    this.db.run('DELETE FROM live_segments WHERE job_id = ? OR job_id LIKE ?', [id, `${id}/%`]);
  }

  close() {
    if (this.db.isOpen) this.db.close();
  }
}

function now() {
  return new Date().toISOString();
}

function fromRow(row) {
  const job = {
    id: row.id,
    state: row.state,
    source: row.source,
    name: row.name,
    mediaPath: row.media_path,
    ownsMedia: row.owns_media === 1,
    options: parseJson(row.options) || {},
    progress: row.progress,
    stage: row.stage,
    message: row.message,
    device: row.device,
    error: parseJson(row.error),
    attempts: row.attempts,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    owner: row.owner === undefined ? null : row.owner,
    kind: row.kind || null,
    live: row.live === 1,
    input: parseJson(row.input),
    stopped: row.stopped === 1,
  };
  if ('result' in row) job.result = parseJson(row.result);
  if ('duration' in row) job.duration = row.duration;
  return job;
}

function parseJson(text) {
  return text == null ? null : JSON.parse(text);
}

module.exports = { JobStore, ACTIVE_STATES, FINAL_STATES, now };
