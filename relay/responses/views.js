'use strict';

/** The JSON a client sees for a job (snake_case, like the sidecar's protocol). */

const FORMAT_NAMES = ['txt', 'srt', 'vtt', 'json'];
const LIMIT_NAMES = ['max_duration_s', 'idle_timeout_s', 'follow_idle_s'];

function jobLinks(id) {
  const base = `/api/transcriptions/${id}`;
  return {
    self: base,
    events: `${base}/events`,
    ...Object.fromEntries(FORMAT_NAMES.map((format) => [format, `${base}.${format}`])),
  };
}

/**
 * Args: job — from the store; live — the runner's live view or null; full — include the result.
 */
function jobView(job, { live = null, full = true } = {}) {
  const view = {
    id: job.id,
    state: job.state,
    source: job.source,
    name: job.name,
    options: job.options,
    progress: job.progress,
    stage: job.stage,
    message: job.message,
    device: job.device,
    attempts: job.attempts,
    error: job.error,
    created_at: job.createdAt,
    started_at: job.startedAt,
    finished_at: job.finishedAt,
    links: jobLinks(job.id),
    live: Boolean(job.live),
    kind: job.kind || null,
  };
  if (job.live) view.stopped = Boolean(job.stopped);
  if (job.input) view.limits = liveLimits(job.input);
  if (job.duration !== undefined) view.duration = job.duration;
  if (full && job.state === 'done' && job.result) {
    view.text = job.result.text;
    view.result = job.result;
  }
  if (live) view.segments = live.segments;
  return view;
}

/** The effective limits a URL or followed-file job runs under (the POST's values, capped by the server's). */
function liveLimits(input) {
  return Object.fromEntries(LIMIT_NAMES.filter((name) => input[name] !== undefined).map((name) => [name, input[name]]));
}

module.exports = { jobView, jobLinks, FORMAT_NAMES };
