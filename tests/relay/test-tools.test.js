'use strict';

/**
 * scripts/test-tools.js: what setup --test does about Chromium and redis-server — nothing when
 * they are there, apt-get as root or through password-less sudo on Debian, a hint elsewhere.
 * The system is passed in (files, root, the command runner), so nothing is installed here.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { ensureTestTools } = require('../../scripts/test-tools');

const TOOLS = [['Chromium', '/x/chromium', 'chromium'], ['redis-server', '/x/redis-server', 'redis-server']];

function machine({ present = [], root = [], debian = true, platform = 'linux', installs = true }) {
  const files = new Set(present);
  const commands = [];
  const lines = [];
  return {
    commands, lines, files,
    options: {
      tools: TOOLS, platform, log: (line) => lines.push(line), exists: (f) => files.has(f),
      isDebian: () => debian, runAsRoot: () => root,
      run: (command, args) => {
        commands.push([command, ...args].join(' '));
        if (installs && args.includes('install')) TOOLS.forEach(([, file]) => files.add(file));
        return { status: installs ? 0 : 100 };
      },
    },
  };
}

test('both present: nothing runs', () => {
  const m = machine({ present: ['/x/chromium', '/x/redis-server'] });
  assert.deepEqual(ensureTestTools(m.options), { missing: [], installed: [], hint: null });
  assert.deepEqual(m.commands, []);
});

test('root on Debian: apt-get install -y what is missing', () => {
  const m = machine({ present: ['/x/chromium'] });
  const result = ensureTestTools(m.options);
  assert.deepEqual(result.installed, ['redis-server']);
  assert.deepEqual(m.commands, ['env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server']);
});

test('password-less sudo: through sudo -n; a failed install runs apt-get update and tries again, then says what to do', () => {
  const m = machine({ root: ['sudo', '-n'], installs: false });
  const result = ensureTestTools(m.options);
  assert.deepEqual(m.commands, [
    'sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium redis-server',
    'sudo -n DEBIAN_FRONTEND=noninteractive apt-get update',
    'sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium redis-server',
  ]);
  assert.deepEqual(result.missing, ['chromium', 'redis-server']);
  assert.match(m.lines.join('\n'), /could not install chromium redis-server/);
});

test('no root on Debian, or another system: nothing runs, the log says what to install', () => {
  const noRoot = machine({ root: null });
  assert.match(ensureTestTools(noRoot.options).hint, /as root: apt-get install -y chromium redis-server/);
  assert.deepEqual(noRoot.commands, []);
  const mac = machine({ platform: 'darwin', debian: false });
  assert.match(ensureTestTools(mac.options).hint, /install Chromium and redis-server .*CHROMIUM_PATH/);
  assert.deepEqual(mac.commands, []);
  assert.match(mac.lines[0], /the tests need Chromium and redis-server/);
});
