'use strict';

// The bridge's ErrorCodes and method names against the protocol (sidecar/protocol/): lib/protocol.json,
// which they are read from, is what scripts/gen-types.js generates from the schemas now, so a code or a
// method changed in the schema and not regenerated fails.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { ErrorCodes } = require('../../node_bridge');
const { DEFAULT_TIMEOUTS } = require('../../node_bridge/lib/options');
const { generateNames, NAMES_OUT } = require('../../scripts/gen-types');

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

test('node_bridge/lib/protocol.json is what the schemas generate (run `node scripts/gen-types.js`)', () => {
  assert.equal(fs.readFileSync(NAMES_OUT, 'utf8'), generateNames());
  const names = JSON.parse(generateNames());
  assert.ok(names.methods.includes('transcribe') && names.notifications.includes('segment'));
  assert.equal(names.kinds.capacity, errors.kinds.capacity.code);
});

test('a method file added to the schema folder is in the generated names', (t) => {
  const os = require('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-names-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const protocol = path.join(__dirname, '..', '..', 'sidecar', 'protocol');
  fs.cpSync(protocol, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'methods', 'zz_new.json'), '{"$defs": {}}');
  assert.ok(JSON.parse(generateNames(dir)).methods.includes('zz_new'));
});
