'use strict';

/**
 * The page's Live panel in headless Chromium with a fake microphone that plays a fixture WAV:
 * Start → getUserMedia → the AudioWorklet → PCM16 24 kHz → /v1/realtime over a WebSocket (with the
 * key subprotocol, on a relay with keys) → captions. The words of the fixture must appear; the
 * device badge is filled in; no CSP violation. Screenshot in test-artifacts/.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { ARTIFACTS, fixtureText, startSidecar, startRelay, tempDir, wordRecall } = require('./helpers');
const { wav } = require('./realtime/helpers');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required'];

const skip = fs.existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`;
const KEY = `live-${crypto.randomBytes(16).toString('hex')}`;

let sidecar;
let relay;
let browser;

before(async () => {
  if (skip) return;
  const { chromium } = require('playwright-core');
  // Chromium loops the file; 48 kHz is what its fake capture device plays best.
  const audio = wav(['weather.flac', 'numbers.flac'], 48000, path.join(tempDir('live-wav-'), 'mic.wav'));
  sidecar = await startSidecar();
  relay = await startRelay({ sidecar, config: { apiKeys: [KEY] } });
  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, `--use-file-for-fake-audio-capture=${audio}`],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
});

test('Live panel: the fake microphone\'s words appear as captions, finals black, the device badge', { skip }, async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  const problems = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (msg) => { if (/Content.Security.Policy|Refused/i.test(msg.text())) problems.push(msg.text()); });
  const frames = [];
  page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => frames.push(JSON.parse(payload))));
  await page.goto(relay.url);
  await page.evaluate((key) => sessionStorage.setItem('whisper-relay-api-key', key), KEY);
  await page.reload();
  await page.selectOption('#language', 'en');

  await page.click('#live-start');
  await page.waitForSelector('#live-state[data-state="listening"], #live-state[data-state="hearing speech"]');
  assert.equal(await page.isDisabled('#live-stop'), false);

  // Both fixtures (6.4 s + 1 s + 6.4 s) play in real time; wait for their words as finals.
  const expected = `${fixtureText('weather')} ${fixtureText('numbers')}`;
  await page.waitForFunction((words) => {
    const text = [...document.querySelectorAll('#live-captions .final')].map((e) => e.textContent).join(' ').toLowerCase();
    return words.filter((w) => text.includes(w)).length >= words.length * 0.8;
  }, ['weather', 'sunny', 'breeze', 'tomorrow', 'rain', 'office', 'meeting', 'monday'], { timeout: 120000 });
  const levels = await page.evaluate(() => Number(document.querySelector('#live-level').value));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'browser-live.png'), fullPage: true });

  const finals = await page.$$eval('#live-captions .final', (els) => els.map((e) => e.textContent).join(' '));
  const recall = wordRecall(expected, finals);
  assert.ok(recall >= 0.7, `recall ${recall}: ${finals}`);
  const color = await page.$eval('#live-captions .final', (e) => getComputedStyle(e).color);
  assert.equal(color, 'rgb(29, 35, 39)', 'finals are black (--fg)');
  assert.ok(frames.some((f) => f.type === 'transcription.partial'), 'partials came too');
  assert.match(await page.textContent('#live-device'), /^(CPU|CUDA)$/);
  assert.ok(levels >= 0, 'the level meter has a value');

  await page.click('#live-stop');
  await page.waitForSelector('#live-state[data-state="stopped"]', { timeout: 15000 });
  assert.equal(await page.isDisabled('#live-start'), false);
  assert.deepEqual(problems, []);
  assert.ok(frames.some((f) => f.type === 'conversation.item.input_audio_transcription.completed'));
});
