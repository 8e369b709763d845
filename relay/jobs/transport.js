'use strict';

/**
 * The one interface the routes, SSE, /v1 and the metrics use to reach jobs, whichever way they
 * are delivered: ./local.js (this machine's sidecar) or relay/cluster/runner.js (BullMQ and Redis,
 * run by workers). Both are built on ./model.js and run a job with ./run.js; nothing outside them
 * asks which one it has.
 *
 * @typedef {object} JobTransport
 * @property {import('node:events').EventEmitter} events a job's events under its id ({type, data},
 *   ./model.js), and every finished job as 'finished'
 * @property {() => Promise<string[]>|string[]} resume starts what a previous process left; the ids requeued
 * @property {() => Promise<void>} close stops taking work; running jobs are left to be resumed
 * @property {(fields: {source: string, name: string, mediaPath: string, ownsMedia: boolean,
 *   options: object, owner?: string|null, id?: string}) => object} submit a file job; the stored job.
 *   Raises what the quotas raise (an HttpError 429).
 * @property {(fields: {source: 'url'|'path', name: string, input: object, options: object,
 *   owner?: string|null}) => object} submitSource a job that reads a URL or follows a growing file;
 *   the stored job. Raises an HttpError 501 where the transport cannot read that source.
 * @property {(id: string) => Promise<object>} waitFor resolves with the finished job
 * @property {(id: string, ms: number) => Promise<object>} waitForKind resolves with a source job once
 *   its kind is known (a live stream: once a sidecar accepted it, or refused it for capacity), it
 *   ended, or after `ms`
 * @property {(id: string) => boolean} isStreaming whether the job reads its source now: cancel() stops
 *   a live stream keeping its finals (and resolves once it did), and cancels a download
 * @property {(id: string) => object|Promise<object>|null} cancel cancels a queued or running job; the job
 * @property {(id: string) => {segments: object[]}|null} liveView what a running job sent so far
 * @property {() => {open: number, lagS: number}} liveStreams the live streams running and their largest lag
 * @property {() => 'up'|'reconnecting'|null} queueState whether a remote queue is reachable; null
 *   when the queue is in this process
 * @property {(signal: AbortSignal) => string|null} jobForSignal the job whose source this signal
 *   aborts, when the source runs in this process (relay/captions records an HLS job's timeline by it)
 */

module.exports = {};
