'use strict';

/**
 * The test bed of the issue-19 tests (tests/relay/caller-limits.test.js,
 * tests/reliability/hostile-caller.test.js): the real sidecar, relays closed at the end, and an
 * "endless audio" server whose live jobs run until they are stopped or idle out.
 */

const fs = require('node:fs');
const http = require('node:http');
const { fixture, startSidecar, startRelay } = require('./helpers');

/**
 * Registers node:test hooks (pass `before` and `after`): one sidecar and one stall server for the file.
 * Returns: {relayWith(config) (a relay on the sidecar, closed after the file), stall() (its {url})}.
 */
function callerTestBed({ before, after, stallDelayMs }) {
  let sidecar;
  let stall;
  const relays = [];
  before(async () => {
    sidecar = await startSidecar();
    stall = await startStallServer({ delayMs: stallDelayMs });
  });
  after(async () => {
    for (const relay of relays) await relay.close();
    if (stall) await stall.close();
    if (sidecar) await sidecar.stop();
  });
  const relayWith = async (config) => {
    const relay = await startRelay({ sidecar, config });
    relays.push(relay);
    return relay;
  };
  return { relayWith, stall: () => stall };
}

/**
 * GET answers 200 audio/flac without a length after `delayMs` (the job's kind is unknown meanwhile),
 * sends the first bytes of a FLAC file (enough to tell the kind) and then stays silent.
 * Returns: {url, close()}.
 */
function startStallServer({ delayMs = 1500 } = {}) {
  const head = fs.readFileSync(fixture('hello.flac')).subarray(0, 64);
  const server = http.createServer((req, res) => {
    const timer = setTimeout(() => {
      res.writeHead(200, { 'content-type': 'audio/flac', 'cache-control': 'no-cache' });
      res.write(head);
    }, delayMs);
    req.on('close', () => clearTimeout(timer));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}/live.flac`,
    close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); }),
  })));
}

module.exports = { callerTestBed, startStallServer };
