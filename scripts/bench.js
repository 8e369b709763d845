#!/usr/bin/env node
'use strict';

/**
 * `npm run bench -- [sections] [--quick]`: the set-up, then `python -m bench` on the project's Python
 * (found the way the bridge finds it). Prints tables; writes bench/results/*.json.
 */

const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { setup } = require('./setup');
const { findPythonSync } = require('../node_bridge/lib/python');

async function main() {
  await setup({ mode: 'test' });
  const root = path.resolve(__dirname, '..');
  const python = findPythonSync({ projectRoot: root });
  const args = process.argv.slice(2);
  const result = spawnSync(python.command, [...python.args, '-m', 'bench', ...(args.length ? args : ['all'])],
    { cwd: root, stdio: 'inherit' });
  process.exit(result.status === null ? 1 : result.status);
}

main().catch((err) => {
  console.error(`npm run bench failed: ${err.message}`);
  process.exit(1);
});
