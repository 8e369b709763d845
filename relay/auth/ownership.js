'use strict';

/**
 * Jobs belong to the key that made them (the jobs.owner column holds its key id). A job another
 * key made is answered like a missing one (404 unknown_job, never 403), so ids leak nothing.
 * Admin keys, and everyone when no keys are configured, see every job.
 */

/** The owner to store with a job this request creates: its key id, or null without keys. */
function ownerOf(request) {
  return (request.identity && request.identity.id) || null;
}

/** True when the request may see the job. */
function canSee(request, job) {
  const identity = request.identity;
  return !identity || identity.admin || job.owner === identity.id;
}

/** The job when it exists and the request may see it, else null. */
function visibleJob(store, id, request) {
  const job = store.get(id);
  return job && canSee(request, job) ? job : null;
}

/** store.list()'s owner filter for this request: undefined (all jobs) for admins and without keys. */
function listOwner(request) {
  const identity = request.identity;
  return !identity || identity.admin ? undefined : identity.id;
}

module.exports = { ownerOf, canSee, visibleJob, listOwner };
