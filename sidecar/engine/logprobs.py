"""Token log-probabilities of a transcribed segment (OpenAI's include[]=logprobs), asked for with the
transcribe param ``logprobs``.

faster-whisper does not report them, and its decoding is left as it is: once it has given a segment,
its text tokens are scored in one forced pass, CTranslate2's ``Whisper.align`` (the pass faster-whisper
runs for word timestamps, whose word probabilities are the means of these), after the
start-of-transcript sequence (language, task, no timestamps). The audio is a clip of up to 30 s that
starts just before the segment; the segments after it that end inside that clip reuse its encoder
output, with the clip's earlier segments' tokens forced before theirs, so a 30-s stretch of speech
costs about one encoder pass. The request's prompt is not given, so a token's log-probability is the
model's given the clip's audio and the tokens before it in the clip.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

_SR = 16000
# Audio kept either side of a segment's timestamps, which can cut into its first or last word.
_MARGIN_S = 0.5
_WINDOW_S = 30
# Whisper's input, in mel frames (10 ms each).
_FRAMES = 3000
# Whisper's decoder takes 448 tokens; a clip's forced tokens stay well below, with the start sequence.
_MAX_TOKENS = 400
# A probability of 0 (align's float underflow) is reported as this log-probability, not -inf.
_FLOOR = -100.0


class SegmentScorer:
    """Scores the segments of one decode call: ``score(seg, samples)`` -> ``[{token, logprob, bytes}]``.

    Args:
        model: faster-whisper's WhisperModel (its ``model`` is the CTranslate2 Whisper).
        task: "transcribe" or "translate".
        language: the language the segment was decoded in.
    """

    def __init__(self, model, task: str, language: str) -> None:
        from faster_whisper.tokenizer import Tokenizer

        self._model = model
        self._tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task=task,
                                    language=language)
        self._start = self._tokenizer.sot_sequence + [self._tokenizer.no_timestamps]
        self._clip = None  # (start_s, end_s, encoder output, frames, the tokens scored in it so far)

    def score(self, seg, samples: np.ndarray) -> list:
        """``seg``'s text tokens with their log-probabilities; ``samples`` is the audio that ``seg``'s
        times are relative to (16 kHz mono float32), the same for all the segments of this scorer."""
        tokens = [t for t in (seg.tokens or []) if t < self._tokenizer.eot]
        if not tokens:
            return []
        clip = self._clip
        if clip is None or not (clip[0] <= seg.start and seg.end + _MARGIN_S <= clip[1]) \
                or len(clip[4]) + len(tokens) > _MAX_TOKENS:
            clip = self._clip = self._new_clip(seg.start, samples)
        before = clip[4]
        result = self._model.model.align(clip[2], self._start, [before + tokens], [clip[3]])[0]
        probs = list(result.text_token_probs)[len(before):]
        clip[4] = before + tokens
        out = []
        for token, prob in zip(tokens, probs):
            raw = token_bytes(self._model.hf_tokenizer, token)
            logprob = max(min(math.log(prob), 0.0), _FLOOR) if prob > 0 else _FLOOR
            out.append({"token": raw.decode("utf-8", errors="replace"), "logprob": round(logprob, 6),
                        "bytes": list(raw)})
        return out

    def _new_clip(self, seg_start: float, samples: np.ndarray) -> list:
        start = max(0.0, seg_start - _MARGIN_S)
        audio = samples[int(start * _SR):int((start + _WINDOW_S) * _SR)]
        features = self._model.feature_extractor(audio)[..., :_FRAMES]
        frames = features.shape[-1]
        padded = np.pad(features, [(0, 0), (0, _FRAMES - frames)]) if frames < _FRAMES else features
        return [start, start + len(audio) / _SR, self._model.encode(padded), max(frames, 1), []]


def token_bytes(hf_tokenizer, token_id: int) -> bytes:
    """A token's UTF-8 bytes (a piece of a character, for some): Whisper's byte-level BPE spells each
    byte as one printable character (GPT-2's table)."""
    piece = hf_tokenizer.id_to_token(token_id) or ""
    table = _unicode_to_byte()
    return bytes(table[c] for c in piece if c in table)


@lru_cache(maxsize=1)
def _unicode_to_byte() -> dict:
    """GPT-2's bytes_to_unicode, inverted: printable bytes stand for themselves, the rest are shifted
    to 256 and on."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[chr(b)] = b
        else:
            table[chr(256 + extra)] = b
            extra += 1
    return table
