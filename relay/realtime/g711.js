'use strict';

/**
 * G.711 (ITU-T G.711) μ-law and A-law to 16-bit linear PCM, by a 256-entry table each. Used by the
 * realtime session (`g711_ulaw`/`g711_alaw`, `audio/pcmu`/`audio/pcma`) and the Deepgram route
 * (`encoding=mulaw`/`alaw`): one byte in, one little-endian int16 sample out, at the same rate (8 kHz).
 */

function ulawSample(byte) {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84;
  return u & 0x80 ? -magnitude : magnitude;
}

function alawSample(byte) {
  const a = byte ^ 0x55;
  const exponent = (a >> 4) & 0x07;
  let magnitude = (a & 0x0f) << 4;
  magnitude = exponent === 0 ? magnitude + 8 : (magnitude + 0x108) << (exponent - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

const TABLES = Object.freeze({
  ulaw: Int16Array.from({ length: 256 }, (_, b) => ulawSample(b)),
  alaw: Int16Array.from({ length: 256 }, (_, b) => alawSample(b)),
});

/**
 * Args: bytes (Buffer of G.711 codes), law ('ulaw' | 'alaw').
 * Returns: a Buffer of PCM16 little-endian, two bytes per input byte.
 */
function decodeG711(bytes, law) {
  const table = TABLES[law];
  if (!table) throw new TypeError(`decodeG711: law must be 'ulaw' or 'alaw', got ${JSON.stringify(law)}`);
  const out = Buffer.allocUnsafe(bytes.length * 2);
  for (let i = 0; i < bytes.length; i += 1) out.writeInt16LE(table[bytes[i]], i * 2);
  return out;
}

module.exports = { decodeG711 };
