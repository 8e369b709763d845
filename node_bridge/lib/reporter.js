'use strict';

/**
 * The opt-in console reporter: prints the lines the old relay printed, so existing logs, greps and
 * habits keep working.
 *
 *   STATUS:Initializing CUDA processing...
 *   GPU library paths configured for relay server (2 paths)
 *   Transcription complete! 🎮 Used: CUDA        (or 💻 Used: CPU)
 *   CPU fallback reason: <why>
 */

/** How many library folders gpu_status reports, whatever shape `libraries` has. */
function countLibraryPaths(libraries) {
  if (!libraries) return 0;
  const values = Array.isArray(libraries) ? libraries : Object.values(libraries);
  return values.filter((entry) => {
    if (!entry) return false;
    if (typeof entry === 'string') return true;
    if (typeof entry === 'object') return Boolean(entry.path || entry.dir || entry.found || entry.loaded);
    return entry === true;
  }).length;
}

function completionLine(device) {
  return device === 'cuda' ? 'Transcription complete! 🎮 Used: CUDA' : 'Transcription complete! 💻 Used: CPU';
}

/**
 * Prints the old relay's lines for a WhisperSidecar's events.
 * @param {import('./sidecar').WhisperSidecar} sidecar
 * @param {object} [options]
 * @param {(line: string) => void} [options.write] default console.log
 * @param {(line: string) => void} [options.writeError] default console.error
 * @param {boolean} [options.stderr] also print the sidecar's stderr lines (prefixed "[sidecar] ").
 * @param {boolean} [options.gpuSummary] ask gpu_status on every ready and print the library line
 *   and the fallback reason (default true).
 * @returns {() => void} detaches the reporter.
 */
function attachConsoleReporter(sidecar, { write = console.log, writeError = console.error, stderr = false,
  gpuSummary = true } = {}) {
  let fallbackReason = null;
  const onStatus = (status) => {
    if (status.stage === 'done') {
      write(completionLine(status.device));
      if (status.device !== 'cuda' && fallbackReason) write(`CPU fallback reason: ${fallbackReason}`);
    } else if (status.message) {
      (status.stage === 'error' ? writeError : write)(`STATUS:${status.message}`);
    }
  };
  const onReady = () => {
    if (!gpuSummary) return;
    sidecar.gpuStatus().then((gpu) => {
      const count = countLibraryPaths(gpu.libraries);
      if (count > 0) write(`GPU library paths configured for relay server (${count} paths)`);
      fallbackReason = gpu.fallback_reason || sidecar.fallbackReason || null;
      if (fallbackReason) write(`CPU fallback reason: ${fallbackReason}`);
    }, (error) => writeError(`STATUS:Error: gpu_status failed: ${error.message}`));
  };
  const onRestart = (info) => {
    if (info.cudaFallback) fallbackReason = info.fallbackReason;
    writeError(`STATUS:Sidecar exited (${info.reason}), restarting${info.forceCpu ? ' on the CPU' : ''}...`);
  };
  const onFatal = (error) => writeError(`STATUS:Error: ${error.message}`);
  const onStderr = (line) => writeError(`[sidecar] ${line}`);
  const listeners = { status: onStatus, ready: onReady, restart: onRestart, fatal: onFatal };
  if (stderr) listeners.stderr = onStderr;
  for (const [event, listener] of Object.entries(listeners)) sidecar.on(event, listener);
  return () => {
    for (const [event, listener] of Object.entries(listeners)) sidecar.off(event, listener);
  };
}

module.exports = { attachConsoleReporter, countLibraryPaths, completionLine };
