'use strict';

/**
 * The WhisperSidecar options: defaults, validation (an early TypeError that quotes the value), and
 * the derived values the supervisor needs.
 */

const path = require('node:path');
const childProcess = require('node:child_process');
const { defaultProjectRoot } = require('./python');
const { DEFAULT_SIDECAR_ARGS } = require('./spawn');
const { DEFAULT_MAX_LINE_BYTES } = require('./framing');
const { methods: protocolMethods } = require('./protocol.json');

/**
 * The methods whose requests time out by default, in ms; every other method of the protocol (its names
 * come from lib/protocol.json, generated from the schema) has none: a transcription, a model download
 * or a stream's close may take as long as they take.
 */
const TIMEOUT_MS = {
  ping: 5000,
  gpu_status: 240000, // waits for the device decision, which the sidecar's probe time-out bounds (180 s)
  list_models: 240000, // waits for the device decision too
  stream_open: 30000,
  stream_write: 30000,
  stream_abort: 10000,
  cancel: 5000,
  shutdown: 10000, // the supervisor passes gracefulStopMs; this bounds a direct request('shutdown')
};
for (const name of Object.keys(TIMEOUT_MS)) {
  if (!protocolMethods.includes(name)) throw new Error(`TIMEOUT_MS names ${name}, which is not a method of the protocol`);
}

/** Per-method request timeouts in ms, one for each method of the protocol; 0 = none. */
const DEFAULT_TIMEOUTS = Object.freeze(Object.fromEntries(protocolMethods.map((name) => [name, TIMEOUT_MS[name] || 0])));

const DEFAULTS = Object.freeze({
  args: DEFAULT_SIDECAR_ARGS,
  env: {},
  extendEnv: true,
  forceCpu: false,
  spawn: childProcess.spawn,
  startTimeoutMs: 60000,
  cudaFallback: true,
  retryOnCrash: true,
  crashLimit: 3,
  crashWindowMs: 60000,
  restartDelayMs: 250,
  maxRestartDelayMs: 5000,
  gracefulStopMs: 5000,
  forceKillAfterMs: 2000,
  stderrTailLines: 50,
  maxLineBytes: DEFAULT_MAX_LINE_BYTES,
});

const NUMBERS = ['startTimeoutMs', 'crashLimit', 'crashWindowMs', 'restartDelayMs', 'maxRestartDelayMs',
  'gracefulStopMs', 'forceKillAfterMs', 'stderrTailLines', 'maxLineBytes'];
const BOOLEANS = ['extendEnv', 'forceCpu', 'cudaFallback', 'retryOnCrash'];
const STRINGS = ['projectRoot', 'cwd', 'model', 'device', 'cacheDir'];

const noop = () => {};
const consoleLogger = Object.freeze({
  debug: noop,
  warn: (message) => console.warn(`[whisper-sidecar] ${message}`),
});

function normalizeLogger(logger) {
  if (logger === undefined) return consoleLogger;
  if (logger === null || logger === false) return { debug: noop, warn: noop };
  if (typeof logger !== 'object') throw new TypeError(`The logger option must be an object, received ${String(logger)}`);
  return {
    debug: typeof logger.debug === 'function' ? logger.debug.bind(logger) : noop,
    warn: typeof logger.warn === 'function' ? logger.warn.bind(logger) : noop,
  };
}

function check(condition, name, value, expected) {
  if (!condition) throw new TypeError(`The ${name} option must be ${expected}, received ${JSON.stringify(value)}`);
}

/** @returns {object} the options the supervisor works with. */
function normalizeOptions(input = {}) {
  check(input !== null && typeof input === 'object', 'options', input, 'an object');
  const options = { ...DEFAULTS, ...withoutUndefined(input) };
  for (const name of NUMBERS) {
    check(Number.isFinite(options[name]) && options[name] >= 0, name, options[name], 'a number >= 0');
  }
  for (const name of BOOLEANS) check(typeof options[name] === 'boolean', name, options[name], 'a boolean');
  for (const name of STRINGS) {
    check(options[name] === undefined || typeof options[name] === 'string', name, options[name], 'a string');
  }
  check(Array.isArray(options.args) && options.args.every((arg) => typeof arg === 'string'), 'args',
    options.args, 'an array of strings');
  check(typeof options.env === 'object' && options.env !== null, 'env', options.env, 'an object');
  check(typeof options.spawn === 'function', 'spawn', typeof options.spawn, 'a function');
  check(options.preload === undefined || typeof options.preload === 'boolean', 'preload', options.preload,
    'a boolean');
  check(options.python === undefined || (typeof options.python === 'string' && options.python !== '')
    || (Array.isArray(options.python) && options.python.length > 0
      && options.python.every((part) => typeof part === 'string')),
  'python', options.python, 'a path, a command, or an array [command, ...args]');
  check(options.crashLimit >= 1, 'crashLimit', options.crashLimit, 'at least 1');
  check(options.timeouts === undefined || (typeof options.timeouts === 'object' && options.timeouts !== null),
    'timeouts', options.timeouts, 'an object of method: ms');
  const projectRoot = path.resolve(options.projectRoot || options.cwd || defaultProjectRoot());
  const isDefaultCommand = options.args.length === 2 && options.args[0] === '-m';
  return {
    ...options,
    projectRoot,
    cwd: path.resolve(options.cwd || projectRoot),
    timeouts: { ...DEFAULT_TIMEOUTS, ...(options.timeouts || {}) },
    logger: normalizeLogger(input.logger),
    // Discovery sees WHISPER_SIDECAR_PYTHON from the env option too.
    discoveryEnv: { ...(options.extendEnv ? process.env : {}), ...options.env },
    // Python on PATH must be able to import the module we run with -m.
    pythonModule: isDefaultCommand ? options.args[1] : null,
  };
}

function withoutUndefined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}

module.exports = { normalizeOptions, DEFAULTS, DEFAULT_TIMEOUTS };
