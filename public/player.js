'use strict';

// The player of a live job from an HLS source: the source itself (from its origin) with the job's
// captions as a subtitle track that is on, beside the caption list. It loads the job's master.m3u8
// through signed URLs (GET /api/transcriptions/:id/captions/urls, with the page's key), because a
// player's own requests cannot carry the key. hls.js comes from the relay (node_modules), or the
// browser plays HLS itself (Safari).

(() => {
  const relayClient = window.relayClient; // public/client.js
  // How far behind the live edge the player sits: the captions are listed once the sidecar has
  // committed them, a few seconds after the words were published; a player closer to the edge would
  // pass the words before their captions come.
  const LIVE_DELAY_S = 12;
  const $ = (selector) => document.querySelector(selector);
  let shownFor = null;
  let hls = null;

  function stop() {
    if (hls) hls.destroy();
    hls = null;
    shownFor = null;
    const video = $('#player-video');
    video.removeAttribute('src');
    video.load();
    $('#player').hidden = true;
  }

  /** Called whenever the job card says something new about the job it shows. */
  function update() {
    const job = $('#job');
    const id = job.dataset.id || null;
    const wanted = id && job.dataset.live === 'true' && job.dataset.kind === 'hls';
    if (shownFor && shownFor !== id) stop();
    if (wanted && shownFor !== id) start(id);
  }

  async function start(id) {
    shownFor = id;
    const note = $('#player-note');
    const response = await relayClient.apiFetch(`/api/transcriptions/${encodeURIComponent(id)}/captions/urls`);
    if (!response.ok || shownFor !== id) return;
    const urls = await response.json();
    const video = $('#player-video');
    $('#player').hidden = false;
    note.textContent = 'The stream, with its captions on.';
    video.muted = true; // autoplay needs it; the controls unmute
    if (window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls({
        enableWorker: false, // a worker would be a blob: script, which the page's CSP refuses
        liveSyncDuration: LIVE_DELAY_S,
        liveMaxLatencyDuration: LIVE_DELAY_S * 3,
        subtitleDisplay: true,
      });
      hls.on(window.Hls.Events.SUBTITLE_TRACKS_UPDATED, () => {
        if (hls.subtitleTracks.length > 0) hls.subtitleTrack = 0;
      });
      hls.on(window.Hls.Events.ERROR, (event, data) => {
        if (data.fatal) note.textContent = `The player stopped: ${data.details}.`;
      });
      hls.loadSource(urls.master);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = urls.master;
      video.textTracks.addEventListener('addtrack', (event) => { event.track.mode = 'showing'; });
    } else {
      note.textContent = 'This browser cannot play HLS.';
      return;
    }
    video.play().catch(() => { note.textContent = 'Press play to watch the stream with its captions.'; });
  }

  new MutationObserver(update).observe($('#job'), { attributes: true, attributeFilter: ['data-id', 'data-live', 'data-kind'] });
})();
