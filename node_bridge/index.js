'use strict';

/**
 * whisper-sidecar bridge: a supervised Node client for the `python -m sidecar` JSON-RPC process.
 * See README.md.
 */

const { WhisperSidecar } = require('./lib/sidecar');
const { SidecarError, ErrorCodes, ClientKinds } = require('./lib/errors');
const { attachConsoleReporter } = require('./lib/reporter');
const { findPython, findPythonSync } = require('./lib/python');
const { States } = require('./lib/supervisor');
const { SidecarStream } = require('./lib/stream');
const { RetryPolicy } = require('./lib/retry-policy');

module.exports = {
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
};
