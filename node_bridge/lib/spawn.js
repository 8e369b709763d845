'use strict';

/**
 * Starting one sidecar process: the argument array, the environment, stdio pipes. The spawn
 * function is passed in (default child_process.spawn), so tests can start fake sidecars.
 */

const childProcess = require('node:child_process');

const DEFAULT_SIDECAR_ARGS = Object.freeze(['-m', 'sidecar']);

/**
 * The child's environment: the parent's (unless extendEnv is false), the `env` option, the
 * convenience options, then what the bridge itself needs.
 */
function buildEnv({ env = {}, extendEnv = true, model, device, cacheDir, preload, forceCpu }) {
  const result = { ...(extendEnv ? process.env : {}), ...env };
  if (model !== undefined) result.WHISPER_MODEL = String(model);
  if (device !== undefined) result.WHISPER_DEVICE = String(device);
  if (cacheDir !== undefined) result.WHISPER_CACHE_DIR = String(cacheDir);
  if (preload !== undefined) result.WHISPER_PRELOAD = preload ? '1' : '0';
  if (forceCpu) result.FORCE_CPU = '1';
  // The sidecar writes bytes itself, but a stray traceback on stderr should still be UTF-8 and timely.
  result.PYTHONUNBUFFERED = '1';
  result.PYTHONIOENCODING = 'utf-8';
  return result;
}

/**
 * Spawns the sidecar with pipes on all three streams.
 * @param {object} options
 * @param {{command: string, args: string[]}} options.python
 * @param {string[]} options.args the sidecar's own arguments (default ['-m', 'sidecar']).
 * @param {string} options.cwd
 * @param {NodeJS.ProcessEnv} options.env
 * @param {typeof childProcess.spawn} [options.spawn]
 * @returns {import('node:child_process').ChildProcess}
 */
function spawnSidecar({ python, args = DEFAULT_SIDECAR_ARGS, cwd, env, spawn = childProcess.spawn }) {
  return spawn(python.command, [...python.args, ...args], {
    cwd,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    windowsHide: true,
  });
}

module.exports = { spawnSidecar, buildEnv, DEFAULT_SIDECAR_ARGS };
