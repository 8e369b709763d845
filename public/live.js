'use strict';

// The Live panel: the microphone → an AudioWorklet (pcm-worklet.js: PCM16, 24 kHz, 100 ms) → the
// relay's /v1/realtime?intent=transcription WebSocket (OpenAI's Realtime transcription events),
// captions as they come: partials grey (transcription.partial, the relay's extension), finals black
// (the transcription deltas), a level meter, and the device the sidecar decodes on.

(() => {
  const $ = (selector) => document.querySelector(selector);
  const KEY_PROTOCOL = 'openai-insecure-api-key.';
  const STOP_GRACE_MS = 10000; // after Stop, how long the last turn may take to complete
  let live = null; // {ws, context, stream, node}
  let finishing = null; // after Stop: closes the socket once the last turn completed
  let committedId = null; // the item the last input_audio_buffer.committed named

  const ui = {
    start: $('#live-start'), stop: $('#live-stop'), level: $('#live-level'), captions: $('#live-captions'),
    state: $('#live-state'), device: $('#live-device'), error: $('#live-error'),
  };
  if (!ui.start) return;

  function setState(text) {
    ui.state.textContent = text;
    ui.state.dataset.state = text;
  }

  function showError(message) {
    ui.error.textContent = message;
    ui.error.hidden = !message;
  }

  /** The caption line of an item: a black final part and a grey partial part. */
  function line(itemId) {
    let el = ui.captions.querySelector(`[data-item="${CSS.escape(itemId)}"]`);
    if (!el) {
      el = document.createElement('p');
      el.className = 'caption';
      el.dataset.item = itemId;
      const final = document.createElement('span');
      final.className = 'final';
      const partial = document.createElement('span');
      partial.className = 'partial';
      el.append(final, partial);
      ui.captions.append(el);
      ui.captions.scrollTop = ui.captions.scrollHeight;
    }
    return { el, final: el.querySelector('.final'), partial: el.querySelector('.partial') };
  }

  function onEvent(event) {
    switch (event.type) {
      case 'conversation.item.input_audio_transcription.delta': {
        const l = line(event.item_id);
        l.final.textContent += event.delta;
        l.partial.textContent = '';
        break;
      }
      case 'transcription.partial': {
        const l = line(event.item_id);
        l.partial.textContent = (l.final.textContent ? ' ' : '') + event.text;
        break;
      }
      case 'conversation.item.input_audio_transcription.completed': {
        const l = line(event.item_id);
        l.final.textContent = event.transcript;
        l.partial.textContent = '';
        l.el.classList.add('done');
        if (!event.transcript) l.el.remove();
        // after Stop, the turn the commit closed is the last one
        if (finishing && event.item_id === committedId) finishing();
        break;
      }
      case 'input_audio_buffer.committed':
        committedId = event.item_id;
        break;
      case 'input_audio_buffer.speech_started':
        setState('hearing speech');
        break;
      case 'input_audio_buffer.speech_stopped':
        setState('listening');
        break;
      case 'transcription.status':
        if (event.device) {
          ui.device.textContent = event.device === 'cuda' ? 'CUDA' : event.device.toUpperCase();
          ui.device.className = `badge badge-${event.device}`;
        }
        break;
      case 'error':
        showError(`${event.error.code}: ${event.error.message}`);
        break;
      default:
    }
  }

  function base64(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(binary);
  }

  function openSocket() {
    const key = window.relayClient && window.relayClient.key ? window.relayClient.key() : null;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const protocols = key ? ['realtime', KEY_PROTOCOL + key] : ['realtime'];
    const ws = new WebSocket(`${scheme}//${location.host}/v1/realtime?intent=transcription`, protocols);
    ws.addEventListener('message', (message) => onEvent(JSON.parse(message.data)));
    return new Promise((resolve, reject) => {
      ws.addEventListener('open', () => resolve(ws), { once: true });
      ws.addEventListener('close', (event) => reject(new Error(event.code === 1006
        ? 'The relay refused the connection (is an API key needed?).' : `Closed (${event.code}).`)), { once: true });
    });
  }

  async function start() {
    showError('');
    ui.start.disabled = true;
    setState('starting');
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
      });
      const ws = await openSocket();
      const language = $('#language') ? $('#language').value : '';
      ws.send(JSON.stringify({ type: 'session.update', session: { type: 'transcription', audio: { input: {
        format: { type: 'audio/pcm', rate: 24000 },
        transcription: { model: 'whisper-1', language: language || null },
        turn_detection: { type: 'server_vad', silence_duration_ms: 500 } } } } }));
      const context = new AudioContext();
      await context.audioWorklet.addModule('/pcm-worklet.js');
      const node = new AudioWorkletNode(context, 'pcm16-writer');
      const mute = context.createGain();
      mute.gain.value = 0;
      context.createMediaStreamSource(stream).connect(node).connect(mute).connect(context.destination);
      node.port.onmessage = ({ data }) => {
        ui.level.value = Math.min(1, data.level * 4);
        if (ws.readyState === WebSocket.OPEN) {
          ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: base64(data.pcm) }));
        }
      };
      ws.addEventListener('close', () => { if (live && live.ws === ws) stop(); });
      live = { ws, context, stream, node };
      ui.stop.disabled = false;
      setState('listening');
    } catch (err) {
      showError(err.message || String(err));
      setState('stopped');
      ui.start.disabled = false;
    }
  }

  async function stop() {
    if (!live) return;
    const { ws, context, stream } = live;
    live = null;
    ui.stop.disabled = true;
    for (const track of stream.getTracks()) track.stop();
    await context.close().catch(() => {});
    ui.level.value = 0;
    setState('finishing');
    // Commit what was said since the last turn, let the turns complete, then close.
    let timer = null;
    const finish = () => {
      if (finishing !== finish) return;
      finishing = null;
      clearTimeout(timer);
      ws.close(1000);
      setState('stopped');
      ui.start.disabled = false;
    };
    finishing = finish;
    committedId = null;
    timer = setTimeout(finish, STOP_GRACE_MS);
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'input_audio_buffer.commit' }));
    else finish();
  }

  ui.start.addEventListener('click', start);
  ui.stop.addEventListener('click', stop);
})();
