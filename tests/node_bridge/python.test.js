'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { findPython, findPythonSync, pythonCandidates } = require('../../node_bridge/lib/python');

const ROOT = path.resolve(__dirname, '..', '..');

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-python-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function touch(file) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '');
  return file;
}

const okProbe = (version = [3, 11, 7]) => async (command) => ({
  exitCode: 0, stderr: '', error: null,
  stdout: `${JSON.stringify({ executable: `/fake/${command}`, version, module: true })}\n`,
});

test('the order: option, WHISPER_SIDECAR_PYTHON, .venv, then PATH (py -3 and python on Windows)', () => {
  const list = (options) => pythonCandidates({ projectRoot: '/p', env: {}, ...options }).map((c) => [c.source, c.command, ...c.args]);
  assert.deepEqual(list({ platform: 'linux', python: ['py', '-3'], env: { WHISPER_SIDECAR_PYTHON: '/e/python' } }), [
    ['option', 'py', '-3'], ['WHISPER_SIDECAR_PYTHON', '/e/python'], ['.venv', path.join('/p', '.venv', 'bin', 'python')],
    ['PATH', 'python3'], ['PATH', 'python'],
  ]);
  assert.deepEqual(list({ platform: 'win32', env: { Whisper_Sidecar_Python: 'C:\\py.exe' } }), [
    ['WHISPER_SIDECAR_PYTHON', 'C:\\py.exe'], ['.venv', path.join('/p', '.venv', 'Scripts', 'python.exe')],
    ['PATH', 'py', '-3'], ['PATH', 'python'],
  ]);
});

test('the project .venv is found from the folder that holds node_bridge/', async () => {
  const found = await findPython({ env: {} });
  assert.equal(found.source, '.venv');
  assert.equal(found.command, path.join(ROOT, '.venv', 'bin', 'python'));
  assert.deepEqual(findPythonSync({ env: {} }), found);
});

test('an explicit python wins and is not probed; a missing explicit path is an error, not a fallback', async (t) => {
  const dir = tempDir(t);
  const venvPython = touch(path.join(dir, '.venv', 'bin', 'python'));
  assert.deepEqual(await findPython({ python: ['py', '-3'], projectRoot: dir, env: {} }),
    { command: 'py', args: ['-3'], source: 'option', executable: null, version: null });
  const fromEnv = await findPython({ projectRoot: dir, env: { WHISPER_SIDECAR_PYTHON: venvPython } });
  assert.equal(fromEnv.source, 'WHISPER_SIDECAR_PYTHON');
  await assert.rejects(findPython({ python: path.join(dir, 'nope', 'python'), projectRoot: dir, env: {} }), (error) => {
    assert.equal(error.kind, 'python_not_found');
    assert.match(error.message, /option: .*nope.*no such file/);
    assert.equal(error.data.tried.length, 1);
    return true;
  });
});

test('PATH candidates are probed: too old, missing module, then a good one', async (t) => {
  const dir = tempDir(t);
  const probe = async (command) => (command === 'python3'
    ? { exitCode: 0, stdout: '{"executable":"/usr/bin/python3","version":[3,8,10],"module":true}\n', stderr: '', error: null }
    : okProbe()(command));
  const found = await findPython({ projectRoot: dir, env: {}, platform: 'linux', module: 'sidecar', probe });
  assert.deepEqual(found, { command: 'python', args: [], source: 'PATH', executable: '/fake/python', version: '3.11.7' });
  const noModule = async () => ({ exitCode: 0, stdout: '{"executable":"/x","version":[3,12,0],"module":false}', stderr: '', error: null });
  await assert.rejects(findPython({ projectRoot: dir, env: {}, platform: 'linux', module: 'sidecar', probe: noModule }),
    /has no module sidecar[\s\S]*Install Python 3\.9\+/);
});

test('the Microsoft Store stub is rejected with what to install', async (t) => {
  const dir = tempDir(t);
  const apps = path.join(dir, 'Microsoft', 'WindowsApps');
  touch(path.join(apps, 'python.exe'));
  const probe = async (command) => (command === 'python'
    ? { exitCode: 9009, stdout: '', stderr: '', error: null }
    : { exitCode: null, stdout: '', stderr: '', error: Object.assign(new Error('spawn py ENOENT'), { code: 'ENOENT' }) });
  const error = await findPython({ projectRoot: dir, env: { Path: apps }, platform: 'win32', probe }).catch((e) => e);
  assert.equal(error.kind, 'python_not_found');
  assert.match(error.message, /py -3: not found/);
  assert.match(error.message, /WindowsApps.*Microsoft Store stub.*python\.org/);
  assert.deepEqual(error.data.tried.map((entry) => entry.source), ['.venv', 'PATH', 'PATH']);
});

test('the real probe runs a real Python from PATH without a shell', async (t) => {
  const found = await findPython({ projectRoot: tempDir(t), env: { PATH: process.env.PATH }, platform: process.platform });
  assert.equal(found.source, 'PATH');
  assert.match(found.version, /^3\.\d+\.\d+$/);
  assert.ok(path.isAbsolute(found.executable));
});
