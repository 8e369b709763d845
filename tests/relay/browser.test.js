'use strict';

/**
 * The web page in headless Chromium (Debian's chromium through playwright-core): upload through
 * the page, the progress bar moves, the transcript appears segment by segment, the badge says
 * CPU or CUDA (with the reason on CPU), downloads and the past-jobs list. Screenshot in test-artifacts/.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ARTIFACTS, fixture, fixtureText, startSidecar, startRelay, wordRecall } = require('./helpers');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const skip = fs.existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`;

let sidecar;
let relay;
let browser;

before(async () => {
  if (skip) return;
  const { chromium } = require('playwright-core');
  sidecar = await startSidecar();
  relay = await startRelay({ sidecar });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

after(async () => {
  if (browser) await browser.close();
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
});

test('upload through the page: progress moves, the transcript appears, downloads and history', { skip }, async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1300 } });
  const requests = [];
  page.on('request', (request) => requests.push(request.url()));
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(relay.url);

  await page.waitForFunction(() => ['CPU', 'CUDA'].includes(document.querySelector('#device-badge').textContent));
  const badge = await page.textContent('#device-badge');
  if (badge === 'CPU') assert.ok((await page.textContent('#device-reason')).length > 5, 'the CPU reason is shown');
  assert.match(await page.textContent('#gpu-json'), /"fallback_reason"/);

  // Record every value the progress bar takes, and every segment line as it is added.
  await page.evaluate(() => {
    window.seen = { progress: [], segments: [] };
    const bar = document.querySelector('#progress');
    new MutationObserver(() => window.seen.progress.push(Number(bar.value)))
      .observe(bar, { attributes: true, attributeFilter: ['value'] });
    new MutationObserver(() => window.seen.segments.push(document.querySelectorAll('#transcript .segment').length))
      .observe(document.querySelector('#transcript'), { childList: true });
  });

  await page.setInputFiles('#file-input', fixture('story.flac'));
  await page.selectOption('#language', 'en');
  await page.click('#submit');
  await page.waitForSelector('#job-state[data-state="done"]', { timeout: 120000 });

  const seen = await page.evaluate(() => window.seen);
  const distinct = [...new Set(seen.progress)];
  assert.ok(distinct.length >= 3, `the progress bar took only ${distinct}`);
  assert.equal(distinct[distinct.length - 1], 1);
  assert.ok(seen.segments.filter((n) => n > 0).length >= 2, `segments arrived in one go: ${seen.segments}`);

  const transcript = await page.textContent('#transcript');
  assert.ok(wordRecall(transcript, fixtureText('story')) >= 0.8, transcript);
  assert.equal(await page.isVisible('#downloads'), true);
  const srtHref = await page.getAttribute('#downloads a[data-format="srt"]', 'href');
  const srt = await (await fetch(new URL(srtHref, relay.url))).text();
  assert.match(srt, /^1\n00:00:00,000 --> /);

  await page.waitForSelector('#jobs tbody tr');
  assert.match(await page.textContent('#jobs tbody tr'), /story\.flac.*done/);

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'relay-page.png'), fullPage: true });
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(requests.filter((url) => !url.startsWith(relay.url)), [], 'the page loads nothing from elsewhere');
});
