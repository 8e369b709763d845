'use strict';

/**
 * A job's captions as an HLS subtitle rendition (issue 21):
 *   GET /api/transcriptions/:id/captions.m3u8      the media playlist (relay/captions/rendition.js)
 *   GET /api/transcriptions/:id/captions.vtt?seq=N  one WebVTT segment (without seq: every cue in one file)
 *   GET /api/transcriptions/:id/master.m3u8        an HLS source's variants with the captions rendition
 *                                                  (any other job: a redirect to captions.m3u8)
 *   GET /api/transcriptions/:id/captions/urls      the three above as signed, expiring URLs (?ttl_s=)
 * A live job with `translation: true` has a second, English track: `?track=en` on captions.m3u8 (its
 * URIs keep it) and captions.vtt, a second rendition in master.m3u8, and `tracks.en` in captions/urls.
 * The first three take the job's key like every route, or a signature from captions/urls
 * (relay/captions/links.js), which players can carry in the URL; the playlists put it on every URI
 * they list.
 */

const path = require('node:path');
const { HttpError } = require('../errors');
const { FINAL_STATES } = require('../jobs/store');
const { visibleJob } = require('../auth/ownership');
const { createClient } = require('../sources/client');
const { MAX_PLAYLIST_BYTES } = require('../sources/playlist');
const { CaptionTimelines } = require('../captions/timeline');
const { captionSegments, mediaPlaylist, vttSegment } = require('../captions/rendition');
const { masterPlaylist } = require('../captions/master');
const { createSigner } = require('../captions/links');
const { TRANSLATION } = require('../jobs/tracks');

const M3U8 = 'application/vnd.apple.mpegurl';
const VTT = 'text/vtt; charset=utf-8';
const MASTER_CACHE = 64;
const ORIGIN_TIMEOUT_S = 10;

async function captionRoutes(app, { config, runner, store }) {
  const timelines = new CaptionTimelines({ dir: path.join(config.dataDir, 'captions'), store, runner, log: app.log });
  app.addHook('onReady', async () => timelines.prune());
  app.addHook('onClose', async () => timelines.close());
  const signer = createSigner({ secret: config.clusterSecret });
  const masters = new Map(); // job id -> {text, url} of the source's playlist, fetched once
  // Open to a request with a valid signature (relay/auth/hook.js); everything else needs the key.
  const signed = { config: { auth: { signed: (request) => signer.verify(request.params.id, request.query) } } };

  /** The job this request may read, and the query to put on the URIs it lists. */
  function access(request, reply) {
    const { id } = request.params;
    if (request.identity === null && signer.verify(id, request.query)) {
      const job = store.get(id);
      if (!job) throw unknownJob(id);
      reply.header('access-control-allow-origin', '*'); // the URL is the credential: any player may use it
      return { job, query: `?exp=${request.query.exp}&sig=${request.query.sig}` };
    }
    const job = visibleJob(store, id, request);
    if (!job) throw unknownJob(id);
    return { job, query: '' };
  }

  /** The finals of `track` (null: the job's own). A finished job's result has them where the store has none (distributed mode). */
  function finalsOf(job, track, ended) {
    const result = job.result || {};
    const fromResult = track ? (result.translation && result.translation.segments) : result.segments;
    if (job.live) {
      const stored = store.segments(job.id, track);
      return stored.length || !ended ? stored : fromResult || [];
    }
    if (ended) return fromResult || [];
    return ((runner.liveView && runner.liveView(job.id)) || { segments: [] }).segments.filter((s) => s.final !== false);
  }

  /**
   * The captions of `track`. A second track lists a segment once its own finals pass its end (the
   * committed point the lag events tell is the job's own stream's).
   */
  function captionsOf(job, track = null) {
    const ended = FINAL_STATES.includes(job.state);
    const finals = finalsOf(job, track, ended);
    const items = captionSegments({
      entries: timelines.entries(job.id), finals, live: job.live, ended,
      committedTo: job.live && !track ? timelines.committedTo(job.id) : 0,
      duration: (job.result && job.result.duration) || 0,
    });
    return { ended, finals, items };
  }

  /** The track a request asks for (?track=en), null for the job's own; 404 for one the job does not have. */
  function trackOf(job, request) {
    const track = request.query.track;
    if (track === undefined || track === '') return null;
    if (track === TRANSLATION && job.options && job.options.translation) return TRANSLATION;
    throw new HttpError(404, 'unknown_track', `Job ${job.id} has no caption track ${JSON.stringify(track)}`
      + `${job.options && job.options.translation ? ` (it has "${TRANSLATION}")` : ' (only a live job with "translation": true has "en")'}.`);
  }

  app.get('/api/transcriptions/:id/captions.m3u8', signed, async (request, reply) => {
    const { job, query } = access(request, reply);
    const track = trackOf(job, request);
    const { ended, items } = captionsOf(job, track);
    const extra = `${track ? `&track=${track}` : ''}${query.replace('?', '&')}`;
    const text = mediaPlaylist({ items, ended, vod: ended && !job.live, segmentUri: (seq) => `captions.vtt?seq=${seq}${extra}` });
    return reply.type(M3U8).header('cache-control', 'no-cache').send(text);
  });

  app.get('/api/transcriptions/:id/captions.vtt', signed, async (request, reply) => {
    const { job } = access(request, reply);
    const { finals, items } = captionsOf(job, trackOf(job, request));
    if (request.query.seq === undefined) { // every cue, mapped as the first segment is
      const first = items.find((item) => item.pts !== null) || { stream: 0, pts: null };
      const whole = { seq: 0, dur: Infinity, stream: first.stream, pts: first.pts, cc: 0 };
      return reply.type(VTT).header('cache-control', 'no-cache').send(vttSegment(whole, finals));
    }
    const item = items.find((candidate) => String(candidate.seq) === String(request.query.seq));
    if (!item) throw new HttpError(404, 'unknown_segment', `Job ${job.id} has no caption segment ${JSON.stringify(request.query.seq)} (yet).`);
    return reply.type(VTT).header('cache-control', 'max-age=86400').send(vttSegment(item, finals));
  });

  app.get('/api/transcriptions/:id/master.m3u8', signed, async (request, reply) => {
    const { job, query } = access(request, reply);
    if (job.kind !== 'hls' || !job.input || !job.input.url) {
      return reply.redirect(`captions.m3u8${query}`); // no source to play: the captions alone
    }
    const source = await sourcePlaylist(job);
    const language = (job.options && job.options.task === 'translate') ? 'en' : (job.options && job.options.language) || null;
    const others = job.options && job.options.translation
      ? [{ uri: `captions.m3u8?track=${TRANSLATION}${query.replace('?', '&')}`, language: TRANSLATION, name: 'English' }] : [];
    const text = masterPlaylist({ ...source, captionsUri: `captions.m3u8${query}`, language, others });
    return reply.type(M3U8).header('cache-control', 'no-cache').send(text);
  });

  app.get('/api/transcriptions/:id/captions/urls', async (request, reply) => {
    const { job } = access(request, reply);
    const { query, expires } = signer.sign(job.id, signer.ttlOf(request.query.ttl_s));
    const base = `${request.protocol}://${request.headers.host}/api/transcriptions/${encodeURIComponent(job.id)}`;
    return {
      captions: `${base}/captions.m3u8${query}`,
      master: `${base}/master.m3u8${query}`,
      vtt: `${base}/captions.vtt${query}`,
      ...(job.options && job.options.translation ? { tracks: { [TRANSLATION]: {
        captions: `${base}/captions.m3u8${query}&track=${TRANSLATION}`, vtt: `${base}/captions.vtt${query}&track=${TRANSLATION}`,
      } } } : {}),
      expires_at: new Date(expires * 1000).toISOString(),
    };
  });

  /** The job's source playlist as the origin serves it (fetched once per job, under the URL policy). */
  async function sourcePlaylist(job) {
    if (masters.has(job.id)) return masters.get(job.id);
    const client = createClient({
      limits: { idleTimeoutS: ORIGIN_TIMEOUT_S, timeoutMs: ORIGIN_TIMEOUT_S * 1000, allowPrivate: config.allowPrivateUrls, maxRedirects: config.maxRedirects },
      signal: AbortSignal.timeout(ORIGIN_TIMEOUT_S * 1000),
    });
    try {
      const { bytes, url } = await client.fetchAll(job.input.url, { maxBytes: MAX_PLAYLIST_BYTES, what: 'playlist' });
      const source = { text: bytes.toString('utf8'), url: url.href };
      if (masters.size >= MASTER_CACHE) masters.delete(masters.keys().next().value);
      masters.set(job.id, source);
      return source;
    } finally {
      client.close();
    }
  }
}

function unknownJob(id) {
  return new HttpError(404, 'unknown_job', `No transcription job ${JSON.stringify(id)}.`);
}

module.exports = { captionRoutes };
