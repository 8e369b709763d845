'use strict';

/**
 * The web page in headless Chromium against a relay with API keys: the key form appears (not a
 * prompt()), a wrong key is refused, the right key is kept in sessionStorage, the upload works and
 * its events arrive over fetch streaming, a download goes through with the key, and the page
 * runs under the relay's CSP without a violation.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ARTIFACTS, fixture, fixtureText, startSidecar, startRelay, wordRecall } = require('./helpers');
const { newKey } = require('./keyed');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const skip = fs.existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`;
const KEY = newKey('page');

let sidecar;
let relay;
let browser;

before(async () => {
  if (skip) return;
  const { chromium } = require('playwright-core');
  sidecar = await startSidecar();
  relay = await startRelay({ sidecar, config: { apiKeys: [KEY] } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

after(async () => {
  if (browser) await browser.close();
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
});

test('the key form appears, a wrong key is refused, then the upload works with the key', { skip }, async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1300 }, acceptDownloads: true });
  const problems = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  page.on('dialog', (dialog) => {
    problems.push(`a ${dialog.type()} dialog`);
    dialog.dismiss();
  });
  await page.goto(relay.url);

  await page.waitForSelector('#key-card:not([hidden])');
  assert.match(await page.textContent('#key-why'), /needs an API key/);
  await page.fill('#key-input', newKey('wrong'));
  await page.click('#key-submit');
  await page.waitForFunction(() => /did not accept/.test(document.querySelector('#key-why').textContent)
    && !document.querySelector('#key-card').hidden);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('whisper-relay-api-key')), null);

  await page.fill('#key-input', KEY);
  await page.click('#key-submit');
  await page.waitForFunction(() => ['CPU', 'CUDA'].includes(document.querySelector('#device-badge').textContent));
  assert.equal(await page.isHidden('#key-card'), true);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('whisper-relay-api-key')), KEY);

  await page.setInputFiles('#file-input', fixture('hello.flac'));
  await page.selectOption('#language', 'en');
  await page.click('#submit');
  await page.waitForSelector('#job-state[data-state="done"]', { timeout: 120000 });
  const transcript = await page.textContent('#transcript');
  assert.ok(wordRecall(transcript, fixtureText('hello')) >= 0.7, transcript);
  assert.ok(await page.$$eval('#transcript .segment', (nodes) => nodes.length) >= 1);
  assert.equal(Number(await page.getAttribute('#progress', 'value')), 1);

  // A download link needs the key too: the page fetches it with the header.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#downloads a[data-format="txt"]')]);
  const saved = await download.path();
  assert.ok(wordRecall(fs.readFileSync(saved, 'utf8'), fixtureText('hello')) >= 0.7);

  await page.waitForSelector('#jobs tbody tr');
  assert.match(await page.textContent('#jobs tbody tr'), /hello\.flac.*done/);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'relay-page-keys.png'), fullPage: true });
  assert.deepEqual(problems, []);
});
