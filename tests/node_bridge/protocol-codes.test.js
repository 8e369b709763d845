'use strict';

// The bridge's ErrorCodes against the protocol's errors.json (sidecar/protocol/), so a code changed in
// one place and not the other fails.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { ErrorCodes } = require('../../node_bridge');
const { DEFAULT_TIMEOUTS } = require('../../node_bridge/lib/options');

const errors = JSON.parse(fs.readFileSync(
  path.join(__dirname, '..', '..', 'sidecar', 'protocol', 'errors.json'), 'utf8'));

test('ErrorCodes are errors.json\'s codes', () => {
  const { codes } = errors;
  assert.deepEqual({
    ParseError: codes.parse_error, InvalidRequest: codes.invalid_request, MethodNotFound: codes.method_not_found,
    InvalidParams: codes.invalid_params, InternalError: codes.internal_error, RequestCancelled: codes.request_cancelled,
    ServerErrorStart: -32099, ServerErrorEnd: -32000,
  }, { ...ErrorCodes });
  for (const [kind, { code }] of Object.entries(errors.kinds)) {
    const standard = Object.values(codes).includes(code);
    assert.ok(standard || (code >= ErrorCodes.ServerErrorStart && code <= ErrorCodes.ServerErrorEnd), kind);
  }
});

test('every method of the protocol has a default timeout, and no other name does', () => {
  const methods = fs.readdirSync(path.join(__dirname, '..', '..', 'sidecar', 'protocol', 'methods'))
    .filter((name) => name.endsWith('.json')).map((name) => path.basename(name, '.json')).sort();
  assert.deepEqual(Object.keys(DEFAULT_TIMEOUTS).sort(), methods);
});
