'use strict';

/**
 * The page follows a live job: a live HLS stream that the test publishes in real time, pasted as a
 * URL. Partials appear grey and are replaced, finals stay, the lag shows, Stop keeps the text.
 * Screenshot in test-artifacts/relay-live-job.png.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ARTIFACTS, startSidecar, startRelay, wordRecall, fixtureText } = require('./helpers');
const { makeStreams, startMediaServer } = require('./live-servers');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let sidecar;
let relay;
let media;
let browser;

before(async () => {
  const { chromium } = require('playwright-core');
  media = await startMediaServer({ dir: makeStreams(), live: { periodMs: 2000, window: 6, initial: 1 } });
  sidecar = await startSidecar();
  relay = await startRelay({ sidecar, config: { allowPrivateUrls: true } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

after(async () => {
  if (browser) await browser.close();
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
  if (media) await media.close();
});

test('a live HLS URL: captions grow while it plays (partials grey, finals black), Stop keeps them', async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1100 } });
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(relay.url);
  await page.evaluate(() => {
    window.seen = { partials: 0, finalsWhenFirstPartial: null };
    new MutationObserver(() => {
      const partials = document.querySelectorAll('#transcript .segment.partial').length;
      if (partials > 0) {
        window.seen.partials += 1;
        if (window.seen.finalsWhenFirstPartial === null) {
          window.seen.finalsWhenFirstPartial = document.querySelectorAll('#transcript .segment:not(.partial)').length;
        }
      }
    }).observe(document.querySelector('#transcript'), { childList: true });
  });
  await page.fill('#url-input', `${media.origin}/live.m3u8?name=page`);
  await page.selectOption('#language', 'en');
  await page.click('#submit');
  await page.waitForSelector('#job[data-live="true"]', { timeout: 30000 });
  assert.equal((await page.textContent('#cancel')).trim(), 'Stop');
  await page.waitForSelector('#transcript .segment:not(.partial)', { timeout: 90000 });
  await page.waitForFunction(() => /behind/.test(document.querySelector('#job-message').textContent), null, { timeout: 30000 });
  const seen = await page.evaluate(() => window.seen);
  assert.ok(seen.partials >= 1 && seen.finalsWhenFirstPartial === 0, `a partial came before the first final: ${JSON.stringify(seen)}`);
  const color = await page.$eval('#transcript .segment:not(.partial)', (node) => getComputedStyle(node).color);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'relay-live-job.png'), fullPage: true });

  await page.click('#cancel');
  await page.waitForSelector('#job-state[data-state="done"]', { timeout: 60000 });
  // Each final is a line of its own with its time first: the words are the lines' texts, joined.
  const transcript = await page.$$eval('#transcript .segment:not(.partial):not(.gap)',
    (nodes) => nodes.map((node) => node.lastChild.textContent).join(' '));
  assert.ok(/upon a time/i.test(transcript), transcript);
  // The stream is stopped after its first finals: the live engine's first seconds are decoded with little
  // context and can mishear ("One's upon a time they were not small"; issue 18 stays open for it).
  assert.ok(wordRecall(transcript, fixtureText('story').split('.')[0]) >= 0.3, transcript);
  assert.notEqual(color, await page.$eval('#job-message', (node) => getComputedStyle(node).color), 'finals are not grey');
  assert.deepEqual(pageErrors, []);
});
