'use strict';

/**
 * A worker's sidecars: SIDECARS of them (default: one per GPU that nvidia-smi lists, else one),
 * each a supervised WhisperSidecar (node_bridge) pinned to its GPU with CUDA_VISIBLE_DEVICES.
 * Each says its device once started (gpu_status): only a verified 'cuda' takes GPU jobs.
 */

const { execFileSync } = require('node:child_process');

/** GPU indexes: CUDA_VISIBLE_DEVICES when set, else nvidia-smi -L's lines, else none. */
function listGpus(env = process.env) {
  if (env.CUDA_VISIBLE_DEVICES !== undefined) {
    return env.CUDA_VISIBLE_DEVICES.split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== '-1');
  }
  try {
    const out = execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').filter((line) => /^GPU \d+/.test(line)).map((line) => /^GPU (\d+)/.exec(line)[1]);
  } catch {
    return [];
  }
}

/**
 * Args: {count (SIDECARS or null), makeSidecar(env) → WhisperSidecar, env}.
 * Returns: {sidecars: [{sidecar, name, gpu, device}], start(), stop()}.
 */
function createPool({ count = null, makeSidecar, env = process.env, log = console }) {
  const gpus = listGpus(env);
  const n = count || Math.max(gpus.length, 1);
  const sidecars = Array.from({ length: n }, (_, i) => {
    const gpu = gpus.length ? gpus[i % gpus.length] : null;
    const sidecar = makeSidecar(gpu === null ? {} : { CUDA_VISIBLE_DEVICES: gpu });
    return { sidecar, name: String(i), gpu, device: null };
  });
  return {
    sidecars,
    async start() {
      await Promise.all(sidecars.map(async (entry) => {
        await entry.sidecar.start();
        const status = await entry.sidecar.gpuStatus({ wait: true }, { timeout: 600000 });
        entry.device = status && status.device === 'cuda' ? 'cuda' : 'cpu';
        log.log(`sidecar ${entry.name}: ${entry.device}${entry.gpu !== null ? ` (GPU ${entry.gpu})` : ''}`);
      }));
    },
    stop: () => Promise.allSettled(sidecars.map((entry) => entry.sidecar.stop())),
  };
}

module.exports = { createPool, listGpus };
