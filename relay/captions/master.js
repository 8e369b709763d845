'use strict';

/**
 * The master playlist for a job from an HLS source: the source's own variants (absolute URLs to the
 * origin, so the player fetches the media from where it is published) and the job's captions as
 * subtitle renditions of one group: its own track (DEFAULT=YES), and with `translation: true` the
 * English track beside it (DEFAULT=NO, AUTOSELECT=YES: a player whose language is English may pick
 * it). Every variant names the captions group with SUBTITLES=, so a player given this one URL plays
 * the original with the captions.
 */

const GROUP = 'captions';
/** A media playlist does not say its bit rate; BANDWIDTH is required, so a modest guess. */
const GUESSED_BANDWIDTH = 256000;

/**
 * Args: {text, url (the playlist the job was given, after redirects), captionsUri (relative to the
 *   master's own URL), language (BCP 47, or null), name, others ([{uri, language, name}]: more
 *   renditions, not the default)}.
 * Returns: the master playlist's text. A media playlist becomes the single variant.
 */
function masterPlaylist({ text, url, captionsUri, language = null, name = 'Captions', others = [] }) {
  const rendition = (r, isDefault) => `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="${GROUP}",NAME="${quoted(r.name)}"`
    + `${r.language ? `,LANGUAGE="${quoted(r.language)}"` : ''},DEFAULT=${isDefault ? 'YES' : 'NO'},AUTOSELECT=YES,`
    + `FORCED=NO,URI="${r.uri}"`;
  const media = [rendition({ uri: captionsUri, language, name }, true), ...others.map((r) => rendition(r, false))];
  if (!/#EXT-X-STREAM-INF:/.test(text)) {
    return `${['#EXTM3U', '#EXT-X-VERSION:3', ...media, `#EXT-X-STREAM-INF:BANDWIDTH=${GUESSED_BANDWIDTH},SUBTITLES="${GROUP}"`, url].join('\n')}\n`;
  }
  const out = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#EXT-X-STREAM-INF:')) {
      out.push(`${line.replace(/,SUBTITLES="[^"]*"/, '')},SUBTITLES="${GROUP}"`);
    } else if (line.startsWith('#')) {
      out.push(line.replace(/URI="([^"]*)"/, (all, uri) => `URI="${absolute(uri, url)}"`));
      if (line === '#EXTM3U') out.push(...media);
    } else {
      out.push(absolute(line, url));
    }
  }
  return `${out.join('\n')}\n`;
}

function absolute(uri, base) {
  try {
    return new URL(uri, base).href;
  } catch {
    return uri;
  }
}

function quoted(value) {
  return String(value).replace(/["\r\n]/g, '');
}

module.exports = { masterPlaylist };
