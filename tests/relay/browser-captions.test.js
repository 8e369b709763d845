'use strict';

/**
 * The page plays a live job from an HLS source with its captions on (issue 21): headless Chromium,
 * the page's own player (public/player.js, hls.js served by the relay from node_modules) loads the
 * job's master.m3u8 — the origin's variant plus the captions rendition — and the media element's
 * text track receives cues with the stream's words while it plays. The origin publishes in real
 * time with its PTS 10 s off the stream time, jumping by 990 s at a discontinuity; the cues of the words
 * after it sit where those words play. Screenshot in test-artifacts/relay-captions-player.png.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ARTIFACTS, startSidecar, startRelay, wordRecall, fixtureText } = require('./helpers');
const { makeStreams } = require('./live-servers');
const { startCaptionsOrigin } = require('./captions-server');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'];

const DISCONTINUITY_AT = 8; // 16.0 s into the stream, at the end of the story: the PTS jump by 990 s there
const HELLO_S = [17.35, 22.0]; // where hello.flac is spoken in the stream

let sidecar;
let relay;
let origin;
let browser;

before(async () => {
  const { chromium } = require('playwright-core');
  origin = await startCaptionsOrigin({ dir: makeStreams(), count: 11, discontinuityAt: DISCONTINUITY_AT, shiftsS: [10, 1000] });
  sidecar = await startSidecar();
  relay = await startRelay({ sidecar, config: { allowPrivateUrls: true } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

after(async () => {
  if (browser) await browser.close();
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
  if (origin) await origin.close();
});

test('a live HLS job plays on the page with hls.js, and its captions track gets cues with the words while it plays', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (message) => { if (message.type() === 'error' && !/status of 404/.test(message.text())) pageErrors.push(message.text()); });
  page.on('response', (response) => {
    if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) pageErrors.push(`${response.status()} ${response.url()}`);
  });
  await page.goto(relay.url);
  await page.fill('#url-input', `${origin.origin}/master.m3u8`);
  await page.selectOption('#language', 'en');
  await page.click('#submit');
  await page.waitForSelector('#player:not([hidden])', { timeout: 60000 });

  // Each cue the text track holds, with where the media element was when it first showed up.
  await page.evaluate(() => {
    window.seenCues = new Map();
    const video = document.querySelector('#player-video');
    window.cueWatch = setInterval(() => {
      for (const track of video.textTracks) {
        for (const cue of track.cues || []) {
          if (!window.seenCues.has(cue.text)) {
            window.seenCues.set(cue.text, { text: cue.text, start: cue.startTime, end: cue.endTime, mode: track.mode,
              kind: track.kind, at: video.currentTime, playing: !video.paused && !video.ended && video.readyState >= 3 });
          }
        }
      }
    }, 100);
  });
  await page.waitForFunction(() => [...window.seenCues.values()].some((c) => /upon a time|village|apples|festival/i.test(c.text)), null, { timeout: 90000 });
  await page.waitForFunction(() => document.querySelector('#transcript .segment:not(.partial)'), null, { timeout: 30000 });
  // after the discontinuity: hello's words, on the player's timeline where they are spoken
  await page.waitForFunction(() => [...window.seenCues.values()].some((c) => /world|speech|recognition|system/i.test(c.text)), null, { timeout: 120000 });
  const state = await page.evaluate(() => {
    const video = document.querySelector('#player-video');
    return { cues: [...window.seenCues.values()], currentTime: video.currentTime, paused: video.paused };
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'relay-captions-player.png'), fullPage: true });

  assert.ok(state.currentTime > 10, `the stream played: ${JSON.stringify(state)}`);
  assert.ok(state.cues.every((c) => c.kind === 'subtitles' && c.mode === 'showing'), JSON.stringify(state.cues));
  assert.ok(state.cues.some((c) => c.playing && /upon a time|village|apples|festival/i.test(c.text)),
    `the story's cues came while the media played: ${JSON.stringify(state.cues)}`);
  const words = state.cues.map((c) => c.text).join(' ');
  assert.ok(wordRecall(words, fixtureText('story')) >= 0.3, words);
  // Cue times are on the player's timeline, which starts at the source's first PTS: the words of
  // the story's first sentences come within its first seconds, as in the source.
  for (const cue of state.cues.filter((c) => /upon a time|village|apples/i.test(c.text))) {
    assert.ok(cue.start >= -0.5 && cue.start < 8, JSON.stringify(cue));
  }
  const hello = state.cues.filter((c) => /world|speech|recognition|system/i.test(c.text));
  assert.ok(hello.length > 0, JSON.stringify(state.cues));
  for (const cue of hello) {
    assert.ok(cue.start >= origin.segments[DISCONTINUITY_AT].start - 0.5 && cue.end <= HELLO_S[1] + 1.5, `across the discontinuity: ${JSON.stringify(cue)}`);
  }
  if (await page.isVisible('#cancel')) await page.click('#cancel'); // else the source has ended the job
  await page.waitForSelector('#job-state[data-state="done"]', { timeout: 60000 });
  assert.deepEqual(pageErrors, []);
});
