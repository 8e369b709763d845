'use strict';

/**
 * A new job's row, for both runners (relay/jobs.js here, relay/cluster/runner.js in distributed
 * mode): the quotas asked first (relay/auth), an upload removed when they refuse it.
 */

const fs = require('node:fs');
const { randomUUID } = require('node:crypto');

/**
 * Args: {store, admit (({owner}) => void, raises an HttpError 429; or null), log}, fields (the row).
 * Returns: the stored job. Raises: what admit raises, after removing an upload the job would own.
 */
function insertJob({ store, admit, log }, fields) {
  if (admit) {
    try {
      admit({ owner: fields.owner || null });
    } catch (err) {
      if (fields.ownsMedia) removeQuietly(fields.mediaPath, log);
      throw err;
    }
  }
  return store.insert({ id: fields.id || randomUUID(), ...fields });
}

/** Removes a job's media file; a failure is logged, not raised. */
function removeQuietly(file, log) {
  try {
    if (file) fs.rmSync(file, { force: true });
  } catch (err) {
    log.warn(`could not remove ${file}: ${err.message}`);
  }
}

module.exports = { insertJob, removeQuietly };
