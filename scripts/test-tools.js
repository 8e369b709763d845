'use strict';

/**
 * The system programs the tests need besides Node and Python: Chromium (the page's browser tests)
 * and redis-server (a later issue's tests). `node scripts/setup.js --test` calls ensureTestTools():
 * on Debian/Ubuntu, as root or with password-less sudo, it apt-get installs what is missing;
 * elsewhere it says what to install. It never fails the setup: a missing tool shows up as a
 * skipped test, which fails the run under CI=true (scripts/run-node-tests.js).
 */

const fs = require('node:fs');
const childProcess = require('node:child_process');

/** [name, the file that shows it is installed, the Debian package]. */
const TOOLS = [
  ['Chromium', process.env.CHROMIUM_PATH || '/usr/bin/chromium', 'chromium'],
  ['redis-server', '/usr/bin/redis-server', 'redis-server'],
];

/**
 * Args: {log (line => void), tools, exists (file => boolean), isDebian (() => boolean),
 *   runAsRoot (() => string[]|null: the command prefix that runs as root, [] when we are root,
 *   null when we cannot), run ((command, args) => {status, error}), platform}.
 * Returns: {missing: [package], installed: [package], hint: string|null}.
 */
function ensureTestTools({
  log, tools = TOOLS, exists = fs.existsSync, isDebian = debianLike, runAsRoot = rootPrefix, run = runCommand,
  platform = process.platform,
} = {}) {
  const missing = tools.filter(([, file]) => !exists(file));
  if (missing.length === 0) return { missing: [], installed: [], hint: null };
  const packages = missing.map(([, , pkg]) => pkg);
  const names = missing.map(([name]) => name).join(' and ');

  const prefix = platform === 'linux' && isDebian() ? runAsRoot() : null;
  if (prefix === null) {
    const hint = platform === 'linux' && isDebian()
      ? `as root: apt-get install -y ${packages.join(' ')}`
      : `install ${names} (Chromium: set CHROMIUM_PATH if it is not at /usr/bin/chromium)`;
    log(`the tests need ${names}, which setup cannot install here: ${hint}`);
    return { missing: packages, installed: [], hint };
  }
  log(`Installing ${names} for the tests: apt-get install -y ${packages.join(' ')}...`);
  const env = ['DEBIAN_FRONTEND=noninteractive'];
  const install = () => run(prefix[0] || 'env', [...prefix.slice(1), ...env, 'apt-get', 'install', '-y', '--no-install-recommends', ...packages]);
  let outcome = install();
  if (outcome.status !== 0) {
    run(prefix[0] || 'env', [...prefix.slice(1), ...env, 'apt-get', 'update']);
    outcome = install();
  }
  const still = missing.filter(([, file]) => !exists(file)).map(([, , pkg]) => pkg);
  if (outcome.status !== 0 || still.length > 0) {
    const hint = `apt-get install -y ${packages.join(' ')} (as root)`;
    log(`could not install ${still.join(' ') || packages.join(' ')}; the tests that need them will skip: ${hint}`);
    return { missing: still, installed: packages.filter((p) => !still.includes(p)), hint };
  }
  return { missing: [], installed: packages, hint: null };
}

function debianLike() {
  return fs.existsSync('/etc/debian_version') && fs.existsSync('/usr/bin/apt-get');
}

/** [] when we are root, ['sudo', '-n'] when sudo works without a password, else null. */
function rootPrefix() {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return [];
  const sudo = childProcess.spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore', timeout: 10000 });
  return sudo.status === 0 ? ['sudo', '-n'] : null;
}

function runCommand(command, args) {
  return childProcess.spawnSync(command, args, { stdio: ['ignore', process.stderr, process.stderr], timeout: 900000 });
}

module.exports = { ensureTestTools, TOOLS };
