'use strict';

// node_bridge/index.d.ts against the protocol's schemas (sidecar/protocol/) and its own type tests
// (tests/types/*.test-d.ts): TypeScript types are generated from the schemas into a temporary folder
// (json-schema-to-typescript), and tsc --noEmit checks that each hand-written params/result type and its
// generated twin are assignable both ways and have the same keys. A schema change without the matching
// index.d.ts change fails here.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { compileFromFile } = require('json-schema-to-typescript');

const ROOT = path.join(__dirname, '..', '..');
const PROTOCOL = path.join(ROOT, 'sidecar', 'protocol');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** [method, generated type (its schema title), the hand-written type it must equal]. */
const PAIRS = [
  ['transcribe', 'TranscribeParams', 'Hand.TranscribeParams & { path: string }'],
  ['transcribe', 'TranscribeResult', "Omit<Hand.TranscribeResult, 'retried'>"],
  ['gpu_status', 'GpuStatusParams', 'Hand.GpuStatusParams'],
  ['gpu_status', 'GpuStatus', 'Hand.GpuStatus'],
  ['load_model', 'LoadModelParams', 'Hand.LoadModelParams'],
  ['load_model', 'LoadModelResult', 'Hand.LoadModelResult'],
  ['stream_open', 'StreamOpenParams', 'Hand.StreamOpenParams'],
  ['stream_open', 'StreamInfo', 'Hand.StreamInfo'],
  ['stream_write', 'StreamWriteResult', 'Hand.StreamWriteResult'],
  ['stream_close', 'StreamCloseResult', 'Hand.StreamResult'],
  ['ping', 'PingResult', "Awaited<ReturnType<Hand.WhisperSidecar['ping']>>"],
];

async function generate(protocolDir, outDir, methods) {
  fs.mkdirSync(outDir, { recursive: true });
  for (const method of methods) {
    const ts = await compileFromFile(path.join(protocolDir, 'methods', `${method}.json`), {
      bannerComment: '', unreachableDefinitions: true, additionalProperties: false, format: false,
    });
    fs.writeFileSync(path.join(outDir, `${method}.ts`), ts);
  }
}

function compatSource(genDir, pairs) {
  const lines = [
    `import type * as Hand from ${JSON.stringify(path.join(ROOT, 'node_bridge'))};`,
    'type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;',
  ];
  for (const method of new Set(pairs.map(([m]) => m))) {
    lines.push(`import type * as ${method} from ${JSON.stringify(path.join(genDir, method))};`);
  }
  pairs.forEach(([method, generated, hand], i) => {
    const gen = `${method}.${generated}`;
    lines.push(
      `// ${gen} <-> ${hand}`,
      `declare const hand${i}: ${hand}; export const toGenerated${i}: ${gen} = hand${i};`,
      `declare const gen${i}: ${gen}; export const toHand${i}: ${hand} = gen${i};`,
      `export const sameKeys${i}: SameKeys<${gen}, ${hand}> = true;`,
    );
  });
  return `${lines.join('\n')}\n`;
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

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-types-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('index.d.ts passes its type tests and equals the types generated from the schemas', { timeout: 180000 }, async (t) => {
  const dir = tempDir(t);
  const genDir = path.join(dir, 'generated');
  await generate(PROTOCOL, genDir, new Set(PAIRS.map(([m]) => m)));
  const compat = compatSource(genDir, PAIRS);
  fs.writeFileSync(path.join(dir, 'compat.ts'), compat);
  const typeTests = fs.readdirSync(path.join(ROOT, 'tests', 'types'))
    .filter((name) => name.endsWith('.test-d.ts')).map((name) => path.join(ROOT, 'tests', 'types', name));
  assert.ok(typeTests.length > 0);
  const { ok, output } = tsc(dir, [...typeTests, path.join(dir, 'compat.ts')]);
  assert.ok(ok, `tsc failed:\n${output}\ncompat.ts:\n${compat}`);
});

test('a schema change without the index.d.ts change fails the check', { timeout: 180000 }, async (t) => {
  const dir = tempDir(t);
  const protocolDir = path.join(dir, 'protocol');
  fs.cpSync(PROTOCOL, protocolDir, { recursive: true, filter: (src) => !src.endsWith('.py') && !src.includes('__pycache__') });
  const file = path.join(protocolDir, 'methods', 'transcribe.json');
  const schema = JSON.parse(fs.readFileSync(file, 'utf8'));
  schema.$defs.params.properties.temperature = { type: ['number', 'null'] }; // an optional param only the schema has
  fs.writeFileSync(file, JSON.stringify(schema));
  const genDir = path.join(dir, 'generated');
  await generate(protocolDir, genDir, ['transcribe']);
  fs.writeFileSync(path.join(dir, 'compat.ts'), compatSource(genDir, PAIRS.filter(([m]) => m === 'transcribe')));
  const { ok, output } = tsc(dir, [path.join(dir, 'compat.ts')]);
  assert.equal(ok, false);
  assert.match(output, /compat\.ts\(\d+,\d+\): error TS2322/, output);
});
