'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { EventEmitter } = require('node:events');
const { setImmediate: tick } = require('node:timers/promises');
const { attachConsoleReporter } = require('../../node_bridge');
const { countLibraryPaths } = require('../../node_bridge/lib/reporter');

function fakeSidecar(gpu) {
  const sidecar = new EventEmitter();
  sidecar.fallbackReason = null;
  sidecar.gpuStatus = async () => gpu;
  return sidecar;
}

function capture(sidecar, options) {
  const out = [];
  const err = [];
  const detach = attachConsoleReporter(sidecar, { write: (l) => out.push(l), writeError: (l) => err.push(l), ...options });
  return { out, err, detach };
}

const found = (dir) => ({ found: true, dir, files: [], loaded: true });
const missing = { found: false, dir: null, files: [], loaded: false };

test('on CUDA: the old relay lines, in order', async () => {
  const sidecar = fakeSidecar({ device: 'cuda', fallback_reason: null, libraries: { cublas: found('/a'), cudnn: found('/b') } });
  const { out, err } = capture(sidecar);
  sidecar.emit('status', { stage: 'gpu_setup', message: 'Initializing CUDA processing...', device: null });
  sidecar.emit('ready', {});
  await tick();
  sidecar.emit('status', { stage: 'transcribing', message: 'Transcribing with CUDA...', device: 'cuda' });
  sidecar.emit('status', { stage: 'done', message: 'Transcription complete! Used: CUDA', device: 'cuda' });
  assert.deepEqual(out, [
    'STATUS:Initializing CUDA processing...',
    'GPU library paths configured for relay server (2 paths)',
    'STATUS:Transcribing with CUDA...',
    'Transcription complete! 🎮 Used: CUDA',
  ]);
  assert.deepEqual(err, []);
});

test('on the CPU: the CPU line and the fallback reason; restarts, errors and stderr go to writeError', async () => {
  const sidecar = fakeSidecar({ device: 'cpu', fallback_reason: 'cuBLAS 12 not found', libraries: { cublas: missing, cudnn: missing } });
  const { out, err, detach } = capture(sidecar, { stderr: true });
  sidecar.emit('ready', {});
  await tick();
  sidecar.emit('status', { stage: 'done', message: 'Transcription complete! Used: CPU', device: 'cpu' });
  sidecar.emit('restart', { reason: 'signal SIGABRT', forceCpu: true, cudaFallback: true, fallbackReason: 'crashed on CUDA' });
  sidecar.emit('status', { stage: 'error', message: 'Transcription failed', device: 'cpu' });
  sidecar.emit('stderr', 'Traceback ...');
  sidecar.emit('fatal', new Error('gave up'));
  assert.deepEqual(out, [
    'CPU fallback reason: cuBLAS 12 not found',
    'Transcription complete! 💻 Used: CPU',
    'CPU fallback reason: cuBLAS 12 not found',
  ]);
  assert.deepEqual(err, [
    'STATUS:Sidecar exited (signal SIGABRT), restarting on the CPU...',
    'STATUS:Transcription failed',
    '[sidecar] Traceback ...',
    'STATUS:Error: gave up',
  ]);
  detach();
  assert.equal(sidecar.listenerCount('status') + sidecar.listenerCount('ready') + sidecar.listenerCount('stderr'), 0);
});

test('countLibraryPaths reads the shapes gpu_status may use', () => {
  assert.equal(countLibraryPaths({ cublas: found('/a'), cudnn: missing }), 1);
  assert.equal(countLibraryPaths(['/a', '/b']), 2);
  assert.equal(countLibraryPaths(null), 0);
});

test('ESM can import the entry points, named exports included', async () => {
  const esm = await import('../../node_bridge/index.mjs');
  const cjs = require('../../node_bridge');
  assert.equal(esm.WhisperSidecar, cjs.WhisperSidecar);
  assert.equal(esm.SidecarError, cjs.SidecarError);
  assert.equal(esm.default, cjs);
  const named = await import('../../node_bridge/index.js');
  assert.equal(named.WhisperSidecar, cjs.WhisperSidecar);
});
