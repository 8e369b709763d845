'use strict';

/** `--role api|worker|all` (or `--role=…`) from the command line; RELAY_ROLE's value otherwise. */

const { parseRole } = require('../config');

function roleFromArgs(argv, fallback = 'all') {
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--role') return parseRole(argv[i + 1] || '', '--role');
    if (argv[i].startsWith('--role=')) return parseRole(argv[i].slice(7), '--role');
  }
  return fallback;
}

module.exports = { roleFromArgs };
