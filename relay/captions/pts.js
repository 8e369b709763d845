'use strict';

/**
 * The first presentation timestamp of an HLS segment, in 90 kHz ticks (what WebVTT's X-TIMESTAMP-MAP
 * MPEGTS value is counted in): the first audio PES of an MPEG-TS segment (PAT -> PMT -> the audio PID;
 * any PES when the PMT names no audio), or the ID3 `com.apple.streaming.transportStreamTimestamp` of a
 * packed-audio segment (RFC 8216 §3.4). null for anything else (fragmented MP4 is not read here).
 */

const PACKET = 188;
const SYNC = 0x47;
/** PMT stream types that carry audio: MPEG-1/2 audio, ADTS AAC, LATM AAC, AC-3, E-AC-3. */
const AUDIO_TYPES = new Set([0x03, 0x04, 0x0f, 0x11, 0x81, 0x87]);
const SCAN_PACKETS = 4000; // ~750 KB: the first audio PES is near the start of any real segment
const ID3_OWNER = 'com.apple.streaming.transportStreamTimestamp';

/**
 * Args: bytes — a whole segment (clear, not encrypted).
 * Returns: the first PTS in 90 kHz ticks (0 .. 2^33-1), or null when none is found.
 */
function firstPts(bytes) {
  if (!bytes || bytes.length < 10) return null;
  if (bytes.toString('latin1', 0, 3) === 'ID3') return id3Timestamp(bytes);
  const start = syncOffset(bytes);
  return start === -1 ? null : tsFirstPts(bytes, start);
}

function syncOffset(bytes) {
  for (let at = 0; at < Math.min(PACKET, bytes.length); at += 1) {
    if (bytes[at] === SYNC && (at + PACKET >= bytes.length || bytes[at + PACKET] === SYNC)) return at;
  }
  return -1;
}

function tsFirstPts(bytes, start) {
  let pmtPid = null;
  let audioPid = null;
  let anyPts = null;
  const end = Math.min(bytes.length, start + SCAN_PACKETS * PACKET);
  for (let at = start; at + PACKET <= end; at += PACKET) {
    if (bytes[at] !== SYNC) continue;
    const pid = ((bytes[at + 1] & 0x1f) << 8) | bytes[at + 2];
    const unitStart = (bytes[at + 1] & 0x40) !== 0;
    const control = (bytes[at + 3] >> 4) & 0x3;
    if (!(control & 0x1)) continue; // no payload
    const payload = at + 4 + (control & 0x2 ? 1 + bytes[at + 4] : 0);
    if (payload >= at + PACKET || !unitStart) continue;
    if (pid === 0) pmtPid = patPmtPid(bytes, payload, at + PACKET) ?? pmtPid;
    else if (pid === pmtPid) audioPid = pmtAudioPid(bytes, payload, at + PACKET) ?? audioPid;
    else {
      const pts = pesPts(bytes, payload, at + PACKET);
      if (pts === null) continue;
      if (audioPid !== null && pid === audioPid) return pts;
      if (anyPts === null) anyPts = { pid, pts };
    }
  }
  return anyPts ? anyPts.pts : null;
}

/** The first program's PMT PID from a PAT section. */
function patPmtPid(bytes, payload, end) {
  const section = payload + 1 + bytes[payload]; // pointer field
  for (let at = section + 8; at + 4 <= end - 4; at += 4) {
    const program = (bytes[at] << 8) | bytes[at + 1];
    if (program !== 0) return ((bytes[at + 2] & 0x1f) << 8) | bytes[at + 3];
  }
  return null;
}

function pmtAudioPid(bytes, payload, end) {
  const section = payload + 1 + bytes[payload];
  const length = ((bytes[section + 1] & 0x0f) << 8) | bytes[section + 2];
  const infoLength = ((bytes[section + 10] & 0x0f) << 8) | bytes[section + 11];
  const last = Math.min(end, section + 3 + length - 4); // before the CRC
  for (let at = section + 12 + infoLength; at + 5 <= last;) {
    const type = bytes[at];
    const pid = ((bytes[at + 1] & 0x1f) << 8) | bytes[at + 2];
    if (AUDIO_TYPES.has(type)) return pid;
    at += 5 + (((bytes[at + 3] & 0x0f) << 8) | bytes[at + 4]);
  }
  return null;
}

function pesPts(bytes, at, end) {
  if (at + 14 > end || bytes[at] !== 0 || bytes[at + 1] !== 0 || bytes[at + 2] !== 1) return null;
  if ((bytes[at + 7] & 0x80) === 0) return null; // no PTS
  return readTimestamp(bytes, at + 9);
}

/** A 33-bit PES timestamp from its 5 bytes (marker bits skipped). */
function readTimestamp(bytes, at) {
  return ((bytes[at] >> 1) & 0x07) * 2 ** 30 + bytes[at + 1] * 2 ** 22 + (bytes[at + 2] >> 1) * 2 ** 15
    + bytes[at + 3] * 2 ** 7 + (bytes[at + 4] >> 1);
}

/** The PRIV frame Apple's packed audio carries its first PTS in (an 8-byte big-endian 33-bit number). */
function id3Timestamp(bytes) {
  const size = syncsafe(bytes, 6);
  const end = Math.min(bytes.length, 10 + size);
  for (let at = 10; at + 10 <= end;) {
    const id = bytes.toString('latin1', at, at + 4);
    const length = bytes[3] === 4 ? syncsafe(bytes, at + 4) : bytes.readUInt32BE(at + 4);
    if (!/^[A-Z0-9]{4}$/.test(id) || length <= 0) return null;
    const body = bytes.subarray(at + 10, Math.min(end, at + 10 + length));
    const zero = body.indexOf(0);
    if (id === 'PRIV' && zero !== -1 && body.toString('latin1', 0, zero) === ID3_OWNER && body.length >= zero + 9) {
      return Number(body.readBigUInt64BE(zero + 1) & 0x1ffffffffn);
    }
    at += 10 + length;
  }
  return null;
}

function syncsafe(bytes, at) {
  return ((bytes[at] & 0x7f) << 21) | ((bytes[at + 1] & 0x7f) << 14) | ((bytes[at + 2] & 0x7f) << 7) | (bytes[at + 3] & 0x7f);
}

module.exports = { firstPts };
