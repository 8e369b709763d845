'use strict';

// node_bridge's types: the wire types in node_bridge/protocol.d.ts are generated from the protocol's
// schemas (sidecar/protocol/) by scripts/gen-types.js, so the committed file must be what the schemas give
// now; and index.d.ts, which builds the API on them, passes its type tests (tests/types/*.test-d.ts) under
// tsc --noEmit.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { generate, OUT } = require('../../scripts/gen-types');

const ROOT = path.join(__dirname, '..', '..');
const PROTOCOL = path.join(ROOT, 'sidecar', 'protocol');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-types-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs tsc over `files`; returns {ok, output}. */
function tsc(dir, files) {
  const config = {
    compilerOptions: {
      strict: true, noEmit: true, target: 'es2022', module: 'node16', moduleResolution: 'node16',
      types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    },
    files,
  };
  const project = path.join(dir, 'tsconfig.json');
  fs.writeFileSync(project, JSON.stringify(config));
  try {
    execFileSync(process.execPath, [TSC, '-p', project], { encoding: 'utf8', stdio: 'pipe' });
    return { ok: true, output: '' };
  } catch (err) {
    return { ok: false, output: `${err.stdout || ''}${err.stderr || ''}` };
  }
}

test('node_bridge/protocol.d.ts is what the schemas generate (run `node scripts/gen-types.js`)', { timeout: 60000 }, async () => {
  assert.equal(fs.readFileSync(OUT, 'utf8'), await generate());
});

test('a schema change shows in the generated types', { timeout: 60000 }, async (t) => {
  const dir = tempDir(t);
  fs.cpSync(PROTOCOL, dir, { recursive: true, filter: (src) => !src.endsWith('.py') && !src.includes('__pycache__') });
  const file = path.join(dir, 'methods', 'transcribe.json');
  const schema = JSON.parse(fs.readFileSync(file, 'utf8'));
  schema.$defs.params.properties.temperature = { type: ['number', 'null'] }; // a param only the schema has
  fs.writeFileSync(file, JSON.stringify(schema));
  const text = await generate(dir);
  assert.notEqual(text, await generate());
  assert.match(text, /export interface TranscribeParams \{[^}]*temperature\?: number \| null;/s);
});

test('index.d.ts passes its type tests on the generated wire types', { timeout: 180000 }, async (t) => {
  const dir = tempDir(t);
  const typeTests = fs.readdirSync(path.join(ROOT, 'tests', 'types'))
    .filter((name) => name.endsWith('.test-d.ts')).map((name) => path.join(ROOT, 'tests', 'types', name));
  assert.ok(typeTests.length > 0);
  const { ok, output } = tsc(dir, typeTests);
  assert.ok(ok, `tsc failed:\n${output}`);
});
