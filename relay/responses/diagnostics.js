'use strict';

/**
 * The GPU diagnostics the relay prints at startup, from the sidecar's `gpu_status`: which library
 * paths were configured, whether CUDA was verified, and why the CPU is used when it is; and the
 * report as a caller of /api/gpu may see it.
 */

const { withoutPaths } = require('../errors');

/** Returns the lines to print (no trailing newlines). */
function formatGpuReport(gpu) {
  const lines = [];
  const device = gpu.device ? gpu.device.toUpperCase() : 'undecided';
  lines.push(`Device: ${device}${gpu.compute_type ? ` (${gpu.compute_type})` : ''}, model ${gpu.model || '?'}`
    + `${gpu.model_loaded ? ' (loaded)' : ''}`);
  const libraries = gpu.libraries || {};
  const dirs = [...new Set(Object.values(libraries).filter((lib) => lib && lib.found && lib.dir).map((lib) => lib.dir))];
  if (gpu.paths_configured) {
    lines.push(`GPU library paths configured for relay server (${dirs.length} paths)`);
    for (const dir of dirs) lines.push(`  ${dir}`);
  } else {
    lines.push('GPU library paths not configured');
  }
  for (const [name, lib] of Object.entries(libraries)) {
    if (!lib) continue;
    const state = lib.loaded ? 'loaded' : lib.found ? 'found, not loaded' : 'not found';
    lines.push(`  ${name}: ${state}${lib.error ? ` (${lib.error})` : ''}`);
  }
  if (gpu.cuda_device_count != null) lines.push(`CUDA devices: ${gpu.cuda_device_count}`);
  for (const g of gpu.gpus || []) lines.push(`  ${typeof g === 'string' ? g : g.name || JSON.stringify(g)}`);
  if (gpu.verified != null) lines.push(`CUDA verified: ${gpu.verified ? 'yes' : 'no'}`);
  if (gpu.library_reason && !gpu.paths_configured) lines.push(`Libraries: ${gpu.library_reason}`);
  if (gpu.device === 'cpu') lines.push(`Using CPU: ${gpu.fallback_reason || 'CPU was requested'}`);
  if (gpu.model_error) lines.push(`Model error: ${typeof gpu.model_error === 'string' ? gpu.model_error : JSON.stringify(gpu.model_error)}`);
  const versions = ['ctranslate2_version', 'faster_whisper_version', 'python', 'platform']
    .filter((key) => gpu[key]).map((key) => `${key.replace('_version', '')} ${gpu[key]}`);
  if (versions.length) lines.push(versions.join(', '));
  return lines;
}

/** Fields of gpu_status that name the server's folders: only admin keys see them. */
const ADMIN_ONLY = ['cache_dir'];

/**
 * The gpu_status report as a caller may see it: an admin key (and everyone without keys) sees all of
 * it; another key sees it without ADMIN_ONLY fields and with every path cut to its last part (library
 * folders, a model folder, paths in a fallback reason).
 */
function forCaller(gpu, identity) {
  if (!identity || identity.admin || !gpu || typeof gpu !== 'object') return gpu;
  return withoutPathsDeep(Object.fromEntries(Object.entries(gpu).filter(([key]) => !ADMIN_ONLY.includes(key))));
}

function withoutPathsDeep(value) {
  if (typeof value === 'string') return withoutPaths(value);
  if (Array.isArray(value)) return value.map(withoutPathsDeep);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withoutPathsDeep(item)]));
  }
  return value;
}

module.exports = { formatGpuReport, forCaller };
