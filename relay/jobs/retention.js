'use strict';

/**
 * JOB_RETENTION_DAYS: finished jobs (done, error, cancelled) older than that are deleted with their
 * transcripts and their uploads, and so are files in the uploads folder that old that no unfinished
 * job needs (what a crash left). 0 keeps everything. Runs when the relay starts and then hourly.
 */

const fs = require('node:fs');
const path = require('node:path');
const { removeQuietly } = require('./model');

const DAY_MS = 86400 * 1000;
const EVERY_MS = 3600 * 1000;

/**
 * Args: {store, uploadsDir, days, log, now (ms, default Date.now())}.
 * Returns: {jobs, files} — how many were removed.
 */
function pruneOldJobs({ store, uploadsDir, days, log, now = Date.now() }) {
  if (!days) return { jobs: 0, files: 0 };
  const cutoffMs = now - days * DAY_MS;
  const old = store.finishedBefore(new Date(cutoffMs).toISOString());
  for (const job of old) {
    if (job.ownsMedia) removeQuietly(job.mediaPath, log);
    store.delete(job.id);
  }
  const needed = new Set(store.activeMedia());
  let files = 0;
  for (const name of readDir(uploadsDir)) {
    const file = path.join(uploadsDir, name);
    if (needed.has(file) || !olderThan(file, cutoffMs)) continue;
    removeQuietly(file, log);
    files += 1;
  }
  if (old.length || files) log.info(`retention: removed ${old.length} jobs and ${files} stale uploads older than ${days} days`);
  return { jobs: old.length, files };
}

/** Prunes now and every hour. Returns stop(). */
function keepPruning(options) {
  const run = () => {
    try {
      pruneOldJobs(options);
    } catch (err) {
      options.log.warn(`retention: ${err.message}`);
    }
  };
  run();
  const timer = setInterval(run, EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}

function readDir(dir) {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function olderThan(file, cutoffMs) {
  try {
    const stat = fs.statSync(file);
    return stat.isFile() && stat.mtimeMs < cutoffMs;
  } catch {
    return false;
  }
}

module.exports = { pruneOldJobs, keepPruning };
