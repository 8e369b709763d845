// ESM entry: the CommonJS build, re-exported by name.
import bridge from './index.js';

export const {
  WhisperSidecar,
  SidecarStream,
  RetryPolicy,
  SidecarError,
  ErrorCodes,
  ClientKinds,
  States,
  attachConsoleReporter,
  findPython,
  findPythonSync,
} = bridge;
export default bridge;
