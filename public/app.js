'use strict';

// The relay's web page: upload a file or a URL, follow the job over Server-Sent Events, list past
// jobs, show the sidecar's gpu_status. Plain DOM, no build, no network beyond the relay itself.

(() => {
  const $ = (selector) => document.querySelector(selector);
  const api = '/api/transcriptions';
  const relayClient = window.relayClient; // public/client.js: the API key, fetch and SSE with it
  let stop = null; // stops following the job on screen
  let current = null; // its id

  // ---- GPU badge and report -------------------------------------------------------------------
  async function loadGpu() {
    const badge = $('#device-badge');
    try {
      const gpu = await getJson('/api/gpu');
      const device = gpu.device || 'unknown';
      badge.textContent = device === 'cuda' ? 'CUDA' : device === 'cpu' ? 'CPU' : 'starting';
      badge.className = `badge badge-${device}`;
      badge.title = gpu.fallback_reason || `${device} (${gpu.compute_type || '?'})`;
      $('#device-reason').textContent = device === 'cpu' ? (gpu.fallback_reason || 'CPU was requested') : '';
      renderGpuReport(gpu);
      if (!gpu.device) setTimeout(loadGpu, 2000);
    } catch (err) {
      badge.textContent = 'sidecar unavailable';
      badge.className = 'badge badge-unknown';
      $('#device-reason').textContent = err.message;
    }
  }

  function renderGpuReport(gpu) {
    const rows = [
      ['Device', gpu.device], ['Compute type', gpu.compute_type], ['Model', gpu.model],
      ['Model loaded', gpu.model_loaded], ['CUDA devices', gpu.cuda_device_count],
      ['Library paths configured', gpu.paths_configured], ['CUDA verified', gpu.verified],
      ['Fallback reason', gpu.fallback_reason], ['Libraries', gpu.library_reason],
      ['CTranslate2', gpu.ctranslate2_version], ['faster-whisper', gpu.faster_whisper_version],
      ['Python', gpu.python], ['Platform', gpu.platform],
    ].filter(([, value]) => value !== undefined && value !== null && value !== '');
    const list = $('#gpu-report');
    list.replaceChildren(...rows.flatMap(([name, value]) => [el('dt', name), el('dd', String(value))]));
    $('#gpu-json').textContent = JSON.stringify(gpu, null, 2);
  }

  // ---- submitting -----------------------------------------------------------------------------
  function options() {
    const chosen = { task: $('#task').value };
    if ($('#language').value) chosen.language = $('#language').value;
    if ($('#vad').checked) chosen.vad_filter = true;
    return chosen;
  }

  async function submit(event) {
    event.preventDefault();
    showFormError(null);
    const file = $('#file-input').files[0];
    const url = $('#url-input').value.trim();
    if (!file && !url) return showFormError('Choose a file or paste a URL.');
    $('#submit').disabled = true;
    try {
      let job;
      if (file) {
        const form = new FormData();
        for (const [name, value] of Object.entries(options())) form.append(name, String(value));
        form.append('file', file, file.name);
        job = await upload(form);
      } else {
        setMessage('Downloading the URL…');
        job = await getJson(api, { method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ url, ...options() }) });
      }
      $('#file-input').value = '';
      $('#file-name').textContent = '';
      $('#url-input').value = '';
      follow(job.id, job.name);
      loadJobs();
    } catch (err) {
      showFormError(err.message);
    } finally {
      $('#submit').disabled = false;
    }
  }

  /** XMLHttpRequest rather than fetch: it reports upload progress. */
  function upload(form) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      const sent = relayClient.headers();
      xhr.open('POST', api);
      for (const [name, value] of Object.entries(sent)) xhr.setRequestHeader(name, value);
      xhr.responseType = 'json';
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) setMessage(`Uploading… ${Math.round((100 * e.loaded) / e.total)}%`);
      };
      xhr.onload = () => {
        if (xhr.status === 401) relayClient.askForKey(sent.authorization ? sent.authorization.slice(7) : null);
        return xhr.status === 202 ? resolve(xhr.response) : reject(new Error(errorMessage(xhr.response, xhr.status)));
      };
      xhr.onerror = () => reject(new Error('The upload failed (network error).'));
      xhr.send(form);
    });
  }

  // ---- following a job ------------------------------------------------------------------------
  function follow(id, name) {
    if (stop) stop();
    current = id;
    $('#job').hidden = false;
    $('#job').dataset.id = id; // public/player.js plays a live HLS job's source with its captions
    $('#job-name').textContent = name || id;
    $('#transcript').replaceChildren();
    $('#downloads').hidden = true;
    $('#job-error').hidden = true;
    setProgress(0);
    const handlers = {};
    const on = (type, handler) => { handlers[type] = handler; };
    let ended = false;
    stop = relayClient.streamEvents(`${api}/${id}/events`, {
      onEvent: (type, data) => {
        if (['done', 'error', 'cancelled'].includes(type)) ended = true;
        if (handlers[type]) handlers[type](data);
      },
      onFailure: (error) => finish('error', error),
      isDone: () => ended,
    });
    on('snapshot', (job) => {
      // Sent first on every (re)connection, followed by every segment so far: start over.
      $('#transcript').replaceChildren();
      $('#job').dataset.kind = job.kind || '';
      setLive(job.live);
      setState(job.state);
      setProgress(job.progress || 0);
      setMessage(job.message || '');
    });
    on('state', (data) => {
      if (data.kind !== undefined) $('#job').dataset.kind = data.kind || '';
      if (data.live !== undefined) setLive(data.live);
      setState(data.state);
    });
    on('lag', (data) => setMessage(`Live · ${formatSeconds(data.received_s)} received · ${data.lag_s.toFixed(1)} s behind`));
    on('status', (status) => {
      if (status.message) setMessage(status.message);
      if (status.progress !== null && status.progress !== undefined) setProgress(status.progress);
    });
    on('progress', (data) => setProgress(data.progress));
    on('segment', addSegment);
    on('reset', (data) => {
      const kept = [...$('#transcript').children].slice(0, data.keep);
      $('#transcript').replaceChildren(...kept);
    });
    on('done', () => finish('done'));
    on('cancelled', (data) => finish('cancelled', data && data.error));
    on('error', (data) => finish('error', data && data.error));
  }

  function finish(state, error) {
    if (stop) stop();
    stop = null;
    setState(state);
    $('#cancel').hidden = true;
    if (state === 'done') {
      setProgress(1);
      showDownloads(current);
    }
    if (error) {
      $('#job-error').textContent = error.message || String(error);
      $('#job-error').hidden = false;
    }
    loadJobs();
    loadGpu(); // the model is loaded now, or the device changed after a CUDA fallback
  }

  /**
   * A final is kept; a partial (live jobs: `final: false`, grey) is replaced by the next partial or
   * final; a gap (audio that never came) is marked.
   */
  function addSegment(segment) {
    const partial = $('#transcript .partial');
    if (partial) partial.remove();
    const kind = segment.final === false ? 'segment partial' : (segment.gap ? 'segment gap' : 'segment');
    const line = el('p', '', kind);
    const text = segment.gap ? `— ${formatSeconds(segment.end - segment.start)} missing (${segment.reason || 'gap'}) —` : segment.text.trim();
    line.append(el('time', clock(segment.start)), document.createTextNode(text));
    $('#transcript').append(line);
    line.scrollIntoView({ block: 'nearest' });
  }

  function setLive(live) {
    $('#job').dataset.live = live ? 'true' : 'false';
    $('#cancel').textContent = live ? 'Stop' : 'Cancel';
  }

  function formatSeconds(seconds) {
    return `${Math.max(0, seconds || 0).toFixed(1)} s`;
  }

  function showDownloads(id) {
    for (const link of document.querySelectorAll('#downloads a')) {
      link.href = `${api}/${id}.${link.dataset.format}?download`;
    }
    $('#downloads').hidden = false;
  }

  function setState(state) {
    $('#job-state').textContent = state;
    $('#job-state').dataset.state = state;
    $('#cancel').hidden = !(state === 'queued' || state === 'running' || state === 'downloading');
  }

  function setProgress(value) {
    const bar = $('#progress');
    bar.value = Math.max(Number(bar.value) || 0, Math.min(1, Math.max(0, value)));
  }

  function setMessage(text) {
    $('#job-message').textContent = text;
  }

  async function cancel() {
    if (!current) return;
    await relayClient.apiFetch(`${api}/${current}`, { method: 'DELETE' });
  }

  // ---- past jobs ------------------------------------------------------------------------------
  async function loadJobs() {
    let jobs = [];
    try {
      jobs = (await getJson(`${api}?limit=50`)).jobs;
    } catch {
      return;
    }
    $('#jobs-empty').hidden = jobs.length > 0;
    const rows = jobs.map((job) => {
      const row = el('tr');
      row.dataset.id = job.id;
      const links = el('td');
      if (job.state === 'done') {
        for (const format of ['txt', 'srt', 'vtt', 'json']) {
          const link = el('a', format);
          link.href = `${api}/${job.id}.${format}?download`;
          links.append(link);
        }
      }
      row.append(el('td', job.name || job.id), el('td', job.state), el('td', job.device || ''),
        el('td', new Date(job.created_at).toLocaleString()), links);
      row.addEventListener('click', (e) => {
        if (e.target.tagName !== 'A') follow(job.id, job.name);
      });
      return row;
    });
    $('#jobs tbody').replaceChildren(...rows);
  }

  // ---- helpers --------------------------------------------------------------------------------
  async function getJson(url, init) {
    const response = await relayClient.apiFetch(url, init);
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(errorMessage(body, response.status));
    return body;
  }

  function errorMessage(body, status) {
    return (body && body.error && body.error.message) || `The relay answered ${status}.`;
  }

  function showFormError(message) {
    $('#form-error').textContent = message || '';
    $('#form-error').hidden = !message;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function clock(seconds) {
    const s = Math.floor(seconds || 0);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }

  function setUpDropZone() {
    const zone = $('#drop-zone');
    const input = $('#file-input');
    input.addEventListener('change', () => { $('#file-name').textContent = input.files[0] ? input.files[0].name : ''; });
    zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      zone.classList.remove('over');
      if (e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        input.dispatchEvent(new Event('change'));
      }
    });
  }

  // ---- distributed mode: a banner while the queue (Redis) is away ------------------------------
  const HEALTH_EVERY_MS = 5000;
  async function watchHealth() {
    try {
      const response = await fetch('/healthz'); // open without a key
      const health = await response.json();
      $('#queue-banner').hidden = health.queue !== 'reconnecting';
      if (!health.queue) return; // single-machine mode: no queue to watch
    } catch {
      // the relay itself is away: the job's SSE says so
    }
    setTimeout(watchHealth, HEALTH_EVERY_MS);
  }

  $('#job-form').addEventListener('submit', submit);
  $('#cancel').addEventListener('click', cancel);
  setUpDropZone();
  relayClient.onKeyEntered(() => {
    loadGpu();
    loadJobs();
  });
  loadGpu();
  loadJobs();
  watchHealth();
})();
