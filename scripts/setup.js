#!/usr/bin/env node
'use strict';

/**
 * The setup behind `npm start` and `npm test`: npm dependencies, a Python >= 3.9, the project's
 * .venv, and the sidecar installed into it (with the [test] extra for tests, and the [cuda] extra
 * only where nvidia-smi answers on Linux x86_64 or Windows). With --test, also Chromium and
 * redis-server where they can be installed (scripts/test-tools.js).
 *
 * Idempotent and quick the second time: a stamp in node_modules records the package files'
 * hash, and a stamp in .venv records what was installed (pyproject.toml's hash, the extras, the
 * Python version); nothing runs when both still match.
 *
 *   node scripts/setup.js [--test] [--force]
 */

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const childProcess = require('node:child_process');

// The bridge's own discovery, so setup and the relay agree on which Python runs the sidecar.
const { findPythonSync } = require('../node_bridge/lib/python');

const ROOT = path.resolve(__dirname, '..');
const MIN_PYTHON = [3, 9];
const NPM_STAMP = path.join('node_modules', '.whisper-sidecar-setup.json');
const VENV_STAMP = '.whisper-sidecar-setup.json';
const PROBE = 'import sys, json, importlib.util\n'
  + 'print(json.dumps({"version": list(sys.version_info[:3]), "sidecar": importlib.util.find_spec("sidecar") is not None}))';

class SetupError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'SetupError';
  }
}

/**
 * Args: options — {mode: 'start'|'test', root, env, force, npm (false skips the npm step),
 *   log (line => void, default stderr)}.
 * Returns: {python, extras, installed: {npm, venv, sidecar}} — what this run had to do.
 * Raises: SetupError with a message that says what to install or fix.
 */
async function setup({ mode = 'start', root = ROOT, env = process.env, force = false, npm = true, log = logLine } = {}) {
  if (mode !== 'start' && mode !== 'test') throw new TypeError(`setup: mode must be 'start' or 'test', got ${JSON.stringify(mode)}`);
  const installed = { npm: npm && ensureNodeModules({ root, env, force, log }), venv: false, sidecar: false };

  let found;
  try {
    found = findPythonSync({ projectRoot: root, env });
  } catch (err) {
    throw new SetupError(`Setup needs Python ${MIN_PYTHON.join('.')} or newer and found none.\n${err.message}`, { cause: err });
  }
  if (found.source === 'WHISPER_SIDECAR_PYTHON') { // the variable is read once, by the bridge's findPython
    const info = probePython(found.command, found.args);
    log(`WHISPER_SIDECAR_PYTHON is set: the relay runs ${found.command} (Python ${info.version.join('.')}); `
      + 'setup leaves that Python as it is.');
    if (!info.sidecar) log(`warning: ${found.command} cannot import the sidecar; run: ${found.command} -m pip install -e "${root}"`);
    return { python: found.command, extras: [], installed };
  }

  const venvPython = venvPythonPath(root);
  if (found.source !== '.venv') {
    const base = probePython(found.command, found.args);
    log(`Creating .venv with Python ${base.version.join('.')} (${found.executable || found.command})...`);
    run(found.command, [...found.args, '-m', 'venv', path.join(root, '.venv')], { root, log,
      hint: 'On Debian/Ubuntu the venv module is a separate package: apt install python3-venv.' });
    installed.venv = true;
  }
  const info = probePython(venvPython, [], { where: '.venv' });

  const extras = [...(mode === 'test' ? ['test'] : []), ...(hasNvidiaGpu(env) ? ['cuda'] : [])];
  const wanted = {
    pyproject_sha256: hashFiles([path.join(root, 'pyproject.toml')]),
    python: info.version.join('.'),
    extras,
  };
  const stampFile = path.join(root, '.venv', VENV_STAMP);
  const stamp = readJson(stampFile);
  if (!force && info.sidecar && stampCovers(stamp, wanted)) {
    log(`up to date: .venv with Python ${wanted.python}, sidecar installed${stamp.extras.length ? ` [${stamp.extras.join(',')}]` : ''}`);
    return { python: venvPython, extras: stamp.extras, installed };
  }

  const spec = extras.length > 0 ? `.[${extras.join(',')}]` : '.';
  log(`Installing the sidecar into .venv: pip install -e "${spec}"${extras.includes('cuda') ? ' (NVIDIA GPU found)' : ''}...`);
  // Editable, so that the stamp (which hashes pyproject.toml) stays true while sidecar/ changes.
  run(venvPython, ['-m', 'pip', 'install', '--disable-pip-version-check', '-e', spec], { root, log,
    hint: 'pip needs the package registry (PyPI) or a local index/wheel cache (PIP_INDEX_URL, PIP_FIND_LINKS).' });
  fs.writeFileSync(stampFile, `${JSON.stringify({ ...wanted, installed_at: new Date().toISOString() }, null, 2)}\n`);
  installed.sidecar = true;
  log(`installed: the sidecar${extras.length ? ` [${extras.join(',')}]` : ''} in .venv (Python ${wanted.python})`);
  return { python: venvPython, extras, installed };
}

/** True when what was installed includes what is wanted now (tests' extras also serve start). */
function stampCovers(stamp, wanted) {
  return Boolean(stamp) && stamp.pyproject_sha256 === wanted.pyproject_sha256 && stamp.python === wanted.python
    && Array.isArray(stamp.extras) && wanted.extras.every((extra) => stamp.extras.includes(extra));
}

/** Installs the npm dependencies when node_modules is missing or older than package*.json. */
function ensureNodeModules({ root, env, force, log }) {
  const files = ['package.json', 'package-lock.json'].map((name) => path.join(root, name)).filter(exists);
  const hash = hashFiles(files);
  const stampFile = path.join(root, NPM_STAMP);
  const stamp = readJson(stampFile);
  if (!force && exists(path.join(root, 'node_modules')) && stamp && stamp.sha256 === hash) return false;
  log(exists(path.join(root, 'node_modules')) ? 'package.json changed: running npm install...' : 'Installing the npm dependencies...');
  const [command, args, shell] = npmCommand(env);
  run(command, [...args, 'install', '--no-audit', '--no-fund'], { root, log, shell,
    hint: 'npm needs the npm registry, or run npm install yourself and try again.' });
  fs.writeFileSync(stampFile, `${JSON.stringify({ sha256: hash }, null, 2)}\n`);
  return true;
}

/** Under `npm run`, the npm that runs us (npm_execpath); else npm from PATH (npm.cmd needs a shell on Windows). */
function npmCommand(env) {
  const execPath = env.npm_execpath;
  if (execPath && /\.(c|m)?js$/.test(execPath)) return [process.execPath, [execPath], false];
  return process.platform === 'win32' ? ['npm.cmd', [], true] : ['npm', [], false];
}

/** nvidia-smi answering (exit 0, a GPU listed) on Linux x86_64 or Windows. */
function hasNvidiaGpu(env = process.env, platform = process.platform, arch = process.arch) {
  if (!((platform === 'linux' && arch === 'x64') || platform === 'win32')) return false;
  const outcome = childProcess.spawnSync('nvidia-smi', ['-L'], { env, encoding: 'utf8', timeout: 15000, windowsHide: true });
  return outcome.status === 0 && /GPU \d+/.test(outcome.stdout || '');
}

function probePython(command, args, { where = command } = {}) {
  const outcome = childProcess.spawnSync(command, [...args, '-c', PROBE], { encoding: 'utf8', timeout: 30000, windowsHide: true });
  let info = null;
  try {
    info = JSON.parse((outcome.stdout || '').trim().split(/\r?\n/).pop());
  } catch {
    // reported below
  }
  if (!info) {
    const detail = outcome.error ? outcome.error.message : (outcome.stderr || '').trim().slice(-500);
    throw new SetupError(where === '.venv'
      ? `The Python in .venv does not run (${detail}). Delete the .venv folder and run the setup again.`
      : `${command} does not run: ${detail}`);
  }
  const [major, minor] = info.version;
  if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
    throw new SetupError(`${where === '.venv' ? 'The .venv has' : `${command} is`} Python ${info.version.join('.')}; `
      + `the sidecar needs ${MIN_PYTHON.join('.')} or newer. Install a newer Python${where === '.venv'
        ? ', delete .venv and run the setup again' : ''} (or set WHISPER_SIDECAR_PYTHON).`);
  }
  return info;
}

function run(command, args, { root, log, hint, shell = false }) {
  const outcome = childProcess.spawnSync(command, args, {
    cwd: root, stdio: ['ignore', process.stderr, process.stderr], shell, windowsHide: true,
  });
  if (outcome.status !== 0) {
    const why = outcome.error ? outcome.error.message : `exit code ${outcome.status}${outcome.signal ? ` (${outcome.signal})` : ''}`;
    throw new SetupError(`${[command, ...args].join(' ')} failed: ${why}.${hint ? ` ${hint}` : ''}`);
  }
}

function venvPythonPath(root) {
  return process.platform === 'win32'
    ? path.join(root, '.venv', 'Scripts', 'python.exe') : path.join(root, '.venv', 'bin', 'python');
}

function hashFiles(files) {
  const hash = crypto.createHash('sha256');
  for (const file of files) hash.update(path.basename(file)).update('\0').update(fs.readFileSync(file));
  return hash.digest('hex');
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function exists(file) {
  return fs.existsSync(file);
}

function logLine(line) {
  process.stderr.write(`[setup] ${line}\n`);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const unknown = args.filter((arg) => !['--test', '--force'].includes(arg));
  if (unknown.length) {
    console.error(`usage: node scripts/setup.js [--test] [--force] (unknown: ${unknown.join(' ')})`);
    process.exit(2);
  }
  const started = Date.now();
  const mode = args.includes('--test') ? 'test' : 'start';
  setup({ mode, force: args.includes('--force') }).then(() => {
    // Chromium and redis-server for the tests (scripts/test-tools.js): installed where we can.
    if (mode === 'test') require('./test-tools').ensureTestTools({ log: logLine });
    logLine(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, (err) => {
    logLine(`failed: ${err.message}`);
    process.exit(1);
  });
}

module.exports = { setup, SetupError, hasNvidiaGpu, stampCovers };
