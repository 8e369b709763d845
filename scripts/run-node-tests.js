#!/usr/bin/env node
'use strict';

/**
 * Runs the node:test files under the given folders (as `node --test` does, one process per file)
 * with the spec reporter, and counts skipped tests through node:test's run() event stream.
 *
 * Under CI=true a skipped test fails the run — a test that was skipped tested nothing — except a
 * test that needs a GPU: one whose skip reason starts with "gpu:" (e.g. {skip: 'gpu: no CUDA
 * device'}). Elsewhere the skipped tests are listed and the run passes.
 *
 *   node scripts/run-node-tests.js tests/node_bridge/ tests/relay/ tests/reliability/
 */

const fs = require('node:fs');
const path = require('node:path');
const { run } = require('node:test');
const { spec } = require('node:test/reporters');

const TEST_FILE = /(\.test\.[cm]?js|[-_]test\.[cm]?js|^test-.*\.[cm]?js)$/;
const GPU_SKIP = /^gpu:/i;

/** The test files under each path (a file is taken as it is), sorted, as node --test finds them. */
function findTestFiles(paths) {
  const files = [];
  const walk = (entry) => {
    const stat = fs.statSync(entry);
    if (stat.isFile()) return files.push(path.resolve(entry));
    for (const name of fs.readdirSync(entry).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const child = path.join(entry, name);
      if (fs.statSync(child).isDirectory()) walk(child);
      else if (TEST_FILE.test(name)) files.push(path.resolve(child));
    }
    return undefined;
  };
  paths.forEach(walk);
  return files;
}

/** True when a skip is allowed under CI: the test says it needs a GPU. */
function isGpuSkip(reason) {
  return typeof reason === 'string' && GPU_SKIP.test(reason.trim());
}

/**
 * Args: {files, ci (boolean), out (a writable for the spec report), log (line => void)}.
 * Returns: a promise of {failed, skipped: [{name, file, reason}], exitCode}.
 */
function runTests({ files, ci, out = process.stdout, log = (line) => process.stderr.write(`${line}\n`) }) {
  return new Promise((resolve, reject) => {
    let failed = 0;
    const skipped = [];
    const stream = run({ files, concurrency: true });
    stream.on('test:fail', () => {
      failed += 1;
    });
    stream.on('test:pass', (event) => {
      if (event.skip !== undefined && event.skip !== false) {
        skipped.push({ name: event.name, file: event.file, reason: event.skip === true ? '' : String(event.skip) });
      }
    });
    stream.compose(spec).on('error', reject).pipe(out, { end: false }).on('error', reject);
    stream.on('end', () => {
      const notAllowed = skipped.filter((s) => !isGpuSkip(s.reason));
      for (const s of skipped) {
        log(`skipped: ${s.name} (${s.reason || 'no reason'}) in ${path.relative(process.cwd(), s.file || '?')}`);
      }
      let exitCode = failed > 0 ? 1 : 0;
      if (ci && notAllowed.length > 0) {
        log(`CI=true: ${notAllowed.length} test(s) skipped that do not need a GPU; a skipped test is not a pass.`);
        exitCode = 1;
      }
      resolve({ failed, skipped, exitCode });
    });
  });
}

if (require.main === module) {
  const paths = process.argv.slice(2);
  if (paths.length === 0) {
    console.error('usage: node scripts/run-node-tests.js <folder or file>...');
    process.exit(2);
  }
  const ci = ['1', 'true'].includes(String(process.env.CI || '').toLowerCase());
  runTests({ files: findTestFiles(paths), ci }).then(({ exitCode }) => {
    process.exitCode = exitCode;
  }, (err) => {
    console.error(err);
    process.exitCode = 1;
  });
}

module.exports = { findTestFiles, isGpuSkip, runTests };
