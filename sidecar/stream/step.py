"""One decode of a live stream's window: one encoder pass and one generate, nothing more.

faster-whisper's ``transcribe`` seeks past an unfinished last segment and decodes the rest again,
which doubles the cost of exactly the decode a live stream makes most (audio that ends mid-word).
Here the window is at most 30 s, decoded once; an unfinished last segment is simply returned as
unfinished, and the stream's policy decides what to commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

MAX_WINDOW_S = 30.0
# Below these, a window is taken for silence or noise (faster-whisper's defaults).
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0


@dataclass(frozen=True)
class Piece:
    start: float  # seconds from the window's start
    end: float
    text: str
    finished: bool  # closed by a timestamp pair (Whisper thinks the sentence or phrase ended)


@dataclass(frozen=True)
class StepResult:
    pieces: List[Piece]
    language: str
    language_probability: float
    no_speech: bool


def decode_window(model, samples: np.ndarray, *, language: Optional[str], task: str, beam_size: int,
                  prompt: Optional[str] = None) -> StepResult:
    """Decode ``samples`` (16 kHz float32, at most 30 s) with a faster-whisper ``WhisperModel``.

    ``prompt``: text said before this window (context for spelling and style).
    """
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer

    features = model.feature_extractor(samples)
    content_frames = min(features.shape[-1] - 1, model.feature_extractor.nb_max_frames)
    encoder_output = model.encode(pad_or_trim(features))
    language_probability = 1.0
    if language is None:
        if model.model.is_multilingual:
            token, language_probability = model.model.detect_language(encoder_output)[0][0]
            language = token[2:-2]
        else:
            language = "en"
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task=task, language=language)
    previous = tokenizer.encode(" " + prompt.strip()) if prompt and prompt.strip() else []
    result = model.model.generate(
        encoder_output,
        [model.get_prompt(tokenizer, previous)],
        beam_size=beam_size,
        max_length=model.max_length,
        return_scores=True,
        return_no_speech_prob=True,
        suppress_blank=True,
        suppress_tokens=[-1],
        max_initial_timestamp_index=50,
    )[0]
    tokens = result.sequences_ids[0]
    avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
    no_speech = result.no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob < LOG_PROB_THRESHOLD
    window_s = content_frames * model.feature_extractor.time_per_frame
    pieces = [] if no_speech else _split(tokenizer, tokens, window_s, model.time_precision)
    return StepResult(pieces, language, float(language_probability), no_speech)


def _split(tokenizer, tokens: List[int], window_s: float, precision: float) -> List[Piece]:
    """Cut the generated tokens at Whisper's timestamp tokens: <|t0|> text <|t1|><|t1|> text <|t2|> ..."""
    begin = tokenizer.timestamp_begin
    pieces: List[Piece] = []
    start: Optional[float] = None
    text_tokens: List[int] = []
    for token in tokens:
        if token < begin:
            if token < tokenizer.eot:
                text_tokens.append(token)
            continue
        stamp = min((token - begin) * precision, window_s)
        if start is None:
            start = stamp
        elif text_tokens:
            _add(pieces, tokenizer, start, stamp, text_tokens, finished=True)
            text_tokens, start = [], None
        else:
            start = stamp  # the second of a pair: the next piece starts here
    if text_tokens:
        _add(pieces, tokenizer, start if start is not None else 0.0, window_s, text_tokens, finished=False)
    return pieces


def _add(pieces: List[Piece], tokenizer, start: float, end: float, text_tokens: List[int], finished: bool) -> None:
    text = tokenizer.decode(text_tokens)
    if text.strip():
        pieces.append(Piece(round(start, 3), round(max(end, start), 3), text, finished))
