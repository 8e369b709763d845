'use strict';

/**
 * Finds the Python that runs the sidecar. Never a shell string: every candidate is a command plus
 * an argument array, run with spawn.
 *
 * Steps, in this order; each gives a hit or a reason, and the error names everything tried:
 *   1. the `python` option (a path, a command, or [command, ...args] such as ['py', '-3'])
 *   2. the WHISPER_SIDECAR_PYTHON environment variable (a path or command, never split)
 *   3. the project's .venv (projectRoot/.venv/bin/python, or .venv\Scripts\python.exe on Windows)
 *   4. on Windows `py -3` then `python`, elsewhere `python3` then `python`; these are probed, and
 *      the Microsoft Store stub (a WindowsApps alias that exits 9009) is rejected.
 * Steps 1–3 are the user's explicit choice: they are checked for existence, not probed.
 */

const fs = require('node:fs');
const path = require('node:path');
const childProcess = require('node:child_process');
const { SidecarError, ClientKinds } = require('./errors');

const MIN_VERSION = [3, 9];
const PROBE_TIMEOUT_MS = 15000;
const STORE_STUB_EXIT_CODE = 9009;
const INSTALL_HINT = 'Install Python 3.9+ and the sidecar (python -m venv .venv, then .venv/bin/pip install -e . '
  + 'in the project root), or point the `python` option or WHISPER_SIDECAR_PYTHON at a Python that has it.';
const STORE_HINT = 'this is the Microsoft Store stub, not Python: install Python 3 from '
  + 'https://www.python.org/downloads/windows/ (or `winget install Python.Python.3.12`) and turn off the '
  + '"App execution aliases" for python.exe in Settings, or set WHISPER_SIDECAR_PYTHON';

/** The platform-specific data, chosen once per call. */
const PLATFORMS = {
  win32: {
    venvPython: ['.venv', 'Scripts', 'python.exe'],
    candidates: [['py', '-3'], ['python']],
    executableSuffixes: ['.exe', '.cmd', '.bat', ''],
  },
  posix: {
    venvPython: ['.venv', 'bin', 'python'],
    candidates: [['python3'], ['python']],
    executableSuffixes: [''],
  },
};

// Prints what we need to know; `module` may be null. Passed as one argv element, never through a shell.
const PROBE_CODE = [
  'import sys, json, importlib.util',
  'm = sys.argv[1] if len(sys.argv) > 1 else ""',
  'print(json.dumps({"executable": sys.executable, "version": list(sys.version_info[:3]),'
    + ' "module": (importlib.util.find_spec(m) is not None) if m else None}))',
].join('\n');

function platformOf(platform) {
  return platform === 'win32' ? PLATFORMS.win32 : PLATFORMS.posix;
}

function defaultProjectRoot() {
  return path.resolve(__dirname, '..', '..');
}

function toCommand(value, what) {
  if (Array.isArray(value) && value.length > 0 && value.every((part) => typeof part === 'string')) {
    return { command: value[0], args: value.slice(1) };
  }
  if (typeof value === 'string' && value !== '') return { command: value, args: [] };
  throw new TypeError(`${what} must be a non-empty string or an array of strings, received ${JSON.stringify(value)}`);
}

function isPathLike(command) {
  return command.includes('/') || command.includes('\\');
}

function envValue(env, name, platform) {
  if (platform !== 'win32') return env[name];
  const key = Object.keys(env).find((candidate) => candidate.toUpperCase() === name);
  return key === undefined ? undefined : env[key];
}

/** Looks a bare command up on PATH, the way spawn will; returns the file or null. */
function resolveOnPath(command, { env = process.env, platform = process.platform } = {}) {
  if (isPathLike(command)) return isFile(command) ? command : null;
  const dirs = (envValue(env, 'PATH', platform) || '').split(platform === 'win32' ? ';' : ':');
  for (const dir of dirs.filter(Boolean)) {
    for (const suffix of platformOf(platform).executableSuffixes) {
      const file = path.join(dir, command + suffix);
      if (isFile(file)) return file;
    }
  }
  return null;
}

function isFile(file) {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The ordered candidates with their source, without running anything. */
function pythonCandidates({ python, env = process.env, projectRoot = defaultProjectRoot(),
  platform = process.platform } = {}) {
  const table = platformOf(platform);
  const list = [];
  if (python !== undefined && python !== null) {
    list.push({ ...toCommand(python, 'the python option'), source: 'option', explicit: true });
  }
  const fromEnv = envValue(env, 'WHISPER_SIDECAR_PYTHON', platform);
  if (fromEnv) list.push({ command: fromEnv, args: [], source: 'WHISPER_SIDECAR_PYTHON', explicit: true });
  list.push({ command: path.join(projectRoot, ...table.venvPython), args: [], source: '.venv', explicit: false,
    mustExist: true });
  for (const [command, ...args] of table.candidates) {
    list.push({ command, args, source: 'PATH', explicit: false, probe: true });
  }
  return list;
}

/** Judges a probe's outcome: null when the candidate is fine, else the reason. */
function judgeProbe(candidate, outcome, { module, platform, env }) {
  const resolved = resolveOnPath(candidate.command, { env, platform });
  const where = resolved ? ` (${resolved})` : '';
  const inStore = resolved !== null && /[\\/]WindowsApps[\\/]/i.test(resolved);
  if (outcome.exitCode === STORE_STUB_EXIT_CODE || (inStore && outcome.exitCode !== 0)) {
    return `${where.trim() || candidate.command}: ${STORE_HINT}`;
  }
  if (outcome.error) return `${outcome.error.code === 'ENOENT' ? 'not found' : outcome.error.message}${where}`;
  if (outcome.exitCode !== 0) return `exited with ${outcome.exitCode}${where}: ${outcome.stderr.trim().slice(-300)}`;
  let info;
  try {
    info = JSON.parse(outcome.stdout.trim().split(/\r?\n/).pop());
  } catch {
    return `printed no probe result${where}`;
  }
  const [major, minor] = info.version;
  if (major < MIN_VERSION[0] || (major === MIN_VERSION[0] && minor < MIN_VERSION[1])) {
    return `Python ${info.version.join('.')} is too old, need ${MIN_VERSION.join('.')}+ (${info.executable})`;
  }
  if (module && info.module === false) return `${info.executable} has no module ${module}`;
  candidate.executable = info.executable;
  candidate.version = info.version.join('.');
  return null;
}

function describe(candidate) {
  return [candidate.command, ...candidate.args].join(' ');
}

function checkStatic(candidate) {
  if ((candidate.mustExist || (candidate.explicit && isPathLike(candidate.command))) && !isFile(candidate.command)) {
    return 'no such file';
  }
  return null;
}

function notFound(tried) {
  const lines = tried.map(({ candidate, reason }) => `  - ${candidate.source}: ${describe(candidate)}: ${reason}`);
  return new SidecarError(`No usable Python for the sidecar. Tried:\n${lines.join('\n')}\n${INSTALL_HINT}`, {
    kind: ClientKinds.PythonNotFound, data: { kind: ClientKinds.PythonNotFound, tried: tried.map(
      ({ candidate, reason }) => ({ source: candidate.source, command: describe(candidate), reason })) },
  });
}

function result(candidate) {
  const { command, args, source, executable = null, version = null } = candidate;
  return { command, args, source, executable, version };
}

/**
 * Finds the Python to run the sidecar with.
 * @param {object} [options]
 * @param {string|string[]} [options.python] explicit choice; wins over everything.
 * @param {NodeJS.ProcessEnv} [options.env]
 * @param {string} [options.projectRoot] the folder holding .venv (default: the one holding node_bridge/).
 * @param {string} [options.platform]
 * @param {string|null} [options.module] PATH candidates must be able to import it (e.g. 'sidecar').
 * @param {(command: string, args: string[]) => Promise<{exitCode, stdout, stderr, error}>} [options.probe]
 * @returns {Promise<{command: string, args: string[], source: string, executable: string|null,
 *   version: string|null}>}
 * @throws {SidecarError} kind 'python_not_found', naming every candidate and why it was skipped.
 */
async function findPython(options = {}) {
  const { env = process.env, platform = process.platform, module = null, probe = runProbe } = options;
  const tried = [];
  for (const candidate of pythonCandidates(options)) {
    let reason = checkStatic(candidate);
    if (reason === null && candidate.probe) {
      const outcome = await probe(candidate.command, [...candidate.args, '-c', PROBE_CODE, module || '']);
      reason = judgeProbe(candidate, outcome, { module, platform, env });
    }
    if (reason === null) return result(candidate);
    tried.push({ candidate, reason });
    if (candidate.explicit) break; // an explicit choice that fails is an error, not a hint to look elsewhere
  }
  throw notFound(tried);
}

/** The same search, synchronous (for setup scripts). */
function findPythonSync(options = {}) {
  const { env = process.env, platform = process.platform, module = null, probe = runProbeSync } = options;
  const tried = [];
  for (const candidate of pythonCandidates(options)) {
    let reason = checkStatic(candidate);
    if (reason === null && candidate.probe) {
      const outcome = probe(candidate.command, [...candidate.args, '-c', PROBE_CODE, module || '']);
      reason = judgeProbe(candidate, outcome, { module, platform, env });
    }
    if (reason === null) return result(candidate);
    tried.push({ candidate, reason });
    if (candidate.explicit) break;
  }
  throw notFound(tried);
}

function runProbe(command, args) {
  return new Promise((resolve) => {
    childProcess.execFile(command, args, { timeout: PROBE_TIMEOUT_MS, windowsHide: true, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ exitCode, stdout, stderr, error: error && typeof error.code !== 'number' ? error : null });
      });
  });
}

function runProbeSync(command, args) {
  const outcome = childProcess.spawnSync(command, args, {
    timeout: PROBE_TIMEOUT_MS, windowsHide: true, encoding: 'utf8',
  });
  return { exitCode: outcome.status, stdout: outcome.stdout || '', stderr: outcome.stderr || '', error: outcome.error || null };
}

module.exports = {
  findPython, findPythonSync, pythonCandidates, resolveOnPath, defaultProjectRoot, STORE_STUB_EXIT_CODE,
};
