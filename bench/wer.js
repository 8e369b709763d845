'use strict';

/**
 * Normalized word error rate for Node: a faithful port of bench/wer.py (the one implementation for
 * the benchmark, the tests and the soak). tests/repo/test_wer_parity.py runs both on the same inputs
 * and fails when they disagree. Change both together.
 *
 * Normalization: lower case; a typographic apostrophe (U+2019) becomes "'"; "o'clock" becomes
 * "oclock"; everything but ASCII letters, digits, apostrophes and spaces becomes a space; apostrophes
 * at either end of a word are dropped; the numbers 0 to 10 written in digits are spelled out.
 */

const NUMBERS = new Map(Object.entries({
  0: 'zero', 1: 'one', 2: 'two', 3: 'three', 4: 'four', 5: 'five', 6: 'six', 7: 'seven', 8: 'eight', 9: 'nine', 10: 'ten',
}));
const NOT_WORD = /[^a-z0-9' ]+/g;

/** The normalized words of `text`, in order. */
function words(text) {
  const lowered = text.toLowerCase().replace(/\u2019/g, "'").replace(/o'clock/g, 'oclock');
  const out = [];
  for (let word of lowered.replace(NOT_WORD, ' ').split(' ')) {
    word = word.replace(/^'+|'+$/g, '');
    if (word) out.push(NUMBERS.has(word) ? NUMBERS.get(word) : word);
  }
  return out;
}

/**
 * Word-level edit distance over the reference length (0 is perfect; may exceed 1). An empty
 * reference counts as one word.
 */
function wordErrorRate(reference, hypothesis) {
  const r = words(reference);
  const h = words(hypothesis);
  const d = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i += 1) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= h.length; j += 1) {
      const cur = Math.min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] === h[j - 1] ? 0 : 1));
      prev = d[j];
      d[j] = cur;
    }
  }
  return d[h.length] / Math.max(1, r.length);
}

/**
 * Share of the reference's words (with repeats) found anywhere in the hypothesis, 0..1: a forgiving
 * check for short clips. 1 for an empty reference.
 */
function wordRecall(hypothesis, reference) {
  const got = new Set(words(hypothesis));
  const want = words(reference);
  if (want.length === 0) return 1;
  return want.filter((word) => got.has(word)).length / want.length;
}

module.exports = { words, wordErrorRate, wordRecall };
