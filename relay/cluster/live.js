'use strict';

/**
 * Live streams in distributed mode, on the worker that holds the job.
 *
 * A URL job's first answer tells its kind (relay/sources): a finite file is downloaded and transcribed
 * like an upload; HLS or endless HTTP audio runs as a LiveJob (relay/jobs/run.js) on one of this
 * worker's sidecars, for as long as the stream plays, holding its BullMQ job (and its lock).
 *
 * The committed finals are kept in Redis as they come (a list per job, LiveFinals below), not only
 * sent as progress events: when the worker is lost (kill -9: the stalled-job check) or hands the job
 * back (SIGTERM), the worker that takes it over reads them, marks the time it could not hear as a
 * gap (`reason: "worker_takeover"`) and goes on from the stream's live edge. A stream owned before
 * is known by the owner key (the node that last ran it).
 */

const { endOf } = require('../jobs/live');
const { TRANSLATION } = require('../jobs/tracks');
const { PREFIX } = require('./redis');

const KEEP_S = 7 * 86400; // as long as BullMQ keeps a finished job

/** A job's finals; a second track's ('en', `translation: true`) under their own key (the whole final: its words too). */
const finalsKey = (id, track = null) => `${PREFIX}:live:${id}:finals${track ? `:${track}` : ''}`;
const ownerKey = (id) => `${PREFIX}:live:${id}:owner`;

/** A live job's finals committed so far (of `track`, or its own), in order. */
async function readFinals(redis, id, track = null) {
  return (await redis.lrange(finalsKey(id, track), 0, -1)).map((value) => JSON.parse(value));
}

/** How many finals a live job has committed so far (0 for any other job). */
function countFinals(redis, id) {
  return redis.llen(finalsKey(id));
}

/**
 * The store a LiveJob writes its finals to (store.segments / store.addSegment), backed by a Redis
 * list: loaded once when the worker takes the job, appended in order as finals come.
 */
class LiveFinals {
  static async load(redis, id) {
    return new LiveFinals(redis, id, await readFinals(redis, id), { [TRANSLATION]: await readFinals(redis, id, TRANSLATION) });
  }

  constructor(redis, id, stored, tracks = {}) {
    this.redis = redis;
    this.id = id;
    this.stored = stored;
    this.tracks = tracks; // track -> its finals
    this.chain = Promise.resolve();
  }

  segments(id, track = null) {
    return (track ? this.tracks[track] || [] : this.stored).slice();
  }

  addSegment(id, segment, track = null) {
    if (track) (this.tracks[track] ||= []).push(segment);
    else this.stored.push(segment);
    const key = finalsKey(id, track);
    this.chain = this.chain
      .then(() => this.redis.multi().rpush(key, JSON.stringify(segment)).expire(key, KEEP_S).exec())
      .catch(() => {}); // Redis away: the final still went out as an event and is in the result
  }

  /** Resolves once every final added so far was written (or given up on). */
  flushed() {
    return this.chain;
  }
}

/**
 * Where a live job's finals are kept on this worker (./run.js JobSink liveStore): the Redis list,
 * this node marked as the stream's owner; a stream owned before by a worker that is gone (or whose
 * attempt failed) starts with a gap for what it heard but had not committed and what played while no
 * one listened (`reason: "worker_takeover"`), and goes on from the live edge.
 * Returns: {store (a LiveFinals), gap (or null)}.
 */
async function openLiveStore({ redis, id, nodeId, log }) {
  const store = await LiveFinals.load(redis, id);
  const previous = await redis.getset(ownerKey(id), nodeId);
  await redis.expire(ownerKey(id), KEEP_S);
  if (!previous) return { store, gap: null };
  log.warn(`live job ${id}: taken over from ${previous}; going on from the live edge`);
  const end = endOf(store.segments());
  return { store, gap: { start: end, end, text: '', gap: true, reason: 'worker_takeover' } };
}

module.exports = { openLiveStore, countFinals, readFinals, LiveFinals };
