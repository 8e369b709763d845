'use strict';

/** Whisper's language codes and names (from openai/whisper tokenizer.py), for OpenAI's verbose_json. */
const LANGUAGES = Object.freeze({
  en: 'english', zh: 'chinese', de: 'german', es: 'spanish', ru: 'russian', ko: 'korean', fr: 'french',
  ja: 'japanese', pt: 'portuguese', tr: 'turkish', pl: 'polish', ca: 'catalan', nl: 'dutch', ar: 'arabic',
  sv: 'swedish', it: 'italian', id: 'indonesian', hi: 'hindi', fi: 'finnish', vi: 'vietnamese',
  he: 'hebrew', uk: 'ukrainian', el: 'greek', ms: 'malay', cs: 'czech', ro: 'romanian', da: 'danish',
  hu: 'hungarian', ta: 'tamil', no: 'norwegian', th: 'thai', ur: 'urdu', hr: 'croatian', bg: 'bulgarian',
  lt: 'lithuanian', la: 'latin', mi: 'maori', ml: 'malayalam', cy: 'welsh', sk: 'slovak', te: 'telugu',
  fa: 'persian', lv: 'latvian', bn: 'bengali', sr: 'serbian', az: 'azerbaijani', sl: 'slovenian',
  kn: 'kannada', et: 'estonian', mk: 'macedonian', br: 'breton', eu: 'basque', is: 'icelandic',
  hy: 'armenian', ne: 'nepali', mn: 'mongolian', bs: 'bosnian', kk: 'kazakh', sq: 'albanian',
  sw: 'swahili', gl: 'galician', mr: 'marathi', pa: 'punjabi', si: 'sinhala', km: 'khmer', sn: 'shona',
  yo: 'yoruba', so: 'somali', af: 'afrikaans', oc: 'occitan', ka: 'georgian', be: 'belarusian',
  tg: 'tajik', sd: 'sindhi', gu: 'gujarati', am: 'amharic', yi: 'yiddish', lo: 'lao', uz: 'uzbek',
  fo: 'faroese', ht: 'haitian creole', ps: 'pashto', tk: 'turkmen', nn: 'nynorsk', mt: 'maltese',
  sa: 'sanskrit', lb: 'luxembourgish', my: 'myanmar', bo: 'tibetan', tl: 'tagalog', mg: 'malagasy',
  as: 'assamese', tt: 'tatar', haw: 'hawaiian', ln: 'lingala', ha: 'hausa', ba: 'bashkir', jw: 'javanese',
  su: 'sundanese', yue: 'cantonese',
});

/**
 * A language as a caller writes it ("en", "EN", "en-US") → Whisper's code ("en"), or null when Whisper
 * does not know it: the one check every entry point (REST, /v1, realtime, Deepgram) makes, so a
 * language the sidecar would refuse is the caller's error at once, never a job that fails later.
 */
function languageCode(value) {
  if (typeof value !== 'string' || !/^[a-z]{2,3}(-[a-z0-9]{1,8})*$/i.test(value.trim())) return null;
  const code = value.trim().toLowerCase().split('-')[0];
  return Object.hasOwn(LANGUAGES, code) ? code : null;
}

/** "en" → "english"; an unknown code is returned as it is. */
function languageName(code) {
  return (code && LANGUAGES[code]) || code || null;
}

module.exports = { LANGUAGES, languageCode, languageName };
