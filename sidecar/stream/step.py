"""Decoding live streams' windows: one encoder pass and one generate for a whole batch, then the words'
times from the cross-attention (one ``align`` call).

faster-whisper's ``transcribe`` pads every window to 30 s and seeks past an unfinished last segment,
decoding the rest again. Here a window is encoded at its own length (CTranslate2 takes fewer than 3,000
frames), with silence after it and a floor, because a window that ends in speech, or a very short one,
makes Whisper loop (measured in bench/RESULTS.md, "Live streams: the encoder window"): it is encoded
as max(ENCODE_FLOOR_S, audio + TAIL_PAD_S) seconds. An unfinished last segment is returned as such; the
stream's policy decides what to commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

SR = 16000
MAX_WINDOW_S = 30.0
# Shorter encoder windows loop on a second of speech (5 of 20 clips at 3 s, 0 at 4 s), and a window
# shorter than ~8 s mishears its first words ("The Long Whirl" for "Hello world" at a stream's start).
ENCODE_FLOOR_S = 10.0
TAIL_PAD_S = 2.0  # silence after the audio: without it 21 of 28 windows looped, with 1 s 3, with 2 s none
# Below these, a window is taken for silence or noise (faster-whisper's defaults).
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
# A window of s seconds gets at most TOKENS_PER_S * s + TOKENS_SLACK new tokens. Fast English is 4 to 5
# words (about 6 tokens and a timestamp pair) a second, fast Japanese or Chinese about 10 tokens; a loop
# runs to Whisper's 448-token limit, and every token costs a decoder step (a loop in a 10-s window took
# several decodes' time).
TOKENS_PER_S = 15
TOKENS_SLACK = 32
_PREPEND = "\"'“¿([{-"
_APPEND = "\"'.。,，!！?？:：”)]}、"
_SENTENCE_END = (".", "!", "?", "。", "！", "？")
_UNSPACED = {"zh", "ja", "th", "lo", "my", "yue"}  # faster-whisper splits these into characters


@dataclass(frozen=True)
class WordTime:
    start: float  # seconds from the window's start
    end: float
    text: str  # with its leading space
    probability: float = 1.0  # the aligner's: the mean of its tokens' probabilities


@dataclass(frozen=True)
class Piece:
    start: float  # seconds from the window's start
    end: float
    text: str
    finished: bool  # closed by a timestamp pair (Whisper thinks the sentence or phrase ended)
    words: Tuple[WordTime, ...] = ()


@dataclass(frozen=True)
class StepResult:
    pieces: List[Piece]
    language: str
    language_probability: float
    no_speech: bool
    avg_logprob: float = 0.0


@dataclass(frozen=True)
class Window:
    samples: np.ndarray  # 16 kHz float32, at most 30 s
    prompt: Optional[str] = None  # text said before the window (context for spelling and style)


def encoder_samples(length: int) -> int:
    """How many samples a window of ``length`` samples is encoded as (silence after the audio)."""
    return min(int(MAX_WINDOW_S * SR), max(int(ENCODE_FLOOR_S * SR), length + int(TAIL_PAD_S * SR)))


def token_budget(seconds: float) -> int:
    """The most tokens a decode of ``seconds`` of audio may write."""
    return int(TOKENS_PER_S * seconds) + TOKENS_SLACK


def decode_window(model, samples: np.ndarray, *, language: Optional[str], task: str, beam_size: int,
                  prompt: Optional[str] = None) -> StepResult:
    """One window; see ``decode_batch``."""
    return decode_batch(model, [Window(samples, prompt)], language=language, task=task, beam_size=beam_size)[0]


def decode_batch(model, windows: Sequence[Window], *, language: Optional[str], task: str,
                 beam_size: int) -> List[StepResult]:
    """Decode several windows together with a faster-whisper ``WhisperModel``: one encoder batch, one
    generate batch, one align batch.

    Args:
        language: shared by the batch; None (detect) only for a batch of one.
    Returns:
        One StepResult per window, in order.
    """
    from faster_whisper.tokenizer import Tokenizer

    if language is None and len(windows) != 1:
        raise ValueError(f"language detection decodes one window at a time, got {len(windows)}")
    length = max(encoder_samples(w.samples.size) for w in windows)
    features = np.stack([_features(model, w.samples, length) for w in windows])
    content = [min(w.samples.size // model.feature_extractor.hop_length, features.shape[-1]) for w in windows]
    encoder_output = model.encode(features)
    language_probability = 1.0
    if language is None:
        if model.model.is_multilingual:
            token, language_probability = model.model.detect_language(encoder_output)[0][0]
            language = token[2:-2]
        else:
            language = "en"
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task=task, language=language)
    previous = [tokenizer.encode(" " + w.prompt.strip()) if w.prompt and w.prompt.strip() else []
                for w in windows]
    # CTranslate2 wants <|startoftranscript|> at the same position in every item of a batch: each
    # item keeps as many of its last prompt tokens as the shortest prompt has
    keep = min(min(len(p) for p in previous), model.max_length // 2 - 1)
    prompts = [model.get_prompt(tokenizer, p[len(p) - keep:] if keep else []) for p in previous]
    budget = max(token_budget(w.samples.size / SR) for w in windows)
    results = model.model.generate(
        encoder_output, prompts, beam_size=beam_size, max_length=min(model.max_length, len(prompts[0]) + budget),
        return_scores=True,
        return_no_speech_prob=True, suppress_blank=True, suppress_tokens=[-1], max_initial_timestamp_index=50,
    )
    precision = model.time_precision
    spans = []
    for result, frames in zip(results, content):
        tokens = result.sequences_ids[0]
        window_s = frames * model.feature_extractor.time_per_frame
        spans.append(_split(tokenizer, tokens, window_s, precision))
    timings = _align(model, tokenizer, encoder_output, [sum((s[2] for s in p), []) for p in spans], content)
    out = []
    for result, pieces, words in zip(results, spans, timings):
        tokens = result.sequences_ids[0]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        no_speech = result.no_speech_prob > NO_SPEECH_THRESHOLD and avg_logprob < LOG_PROB_THRESHOLD
        made = [] if no_speech else _untangled(_with_words(tokenizer, pieces, words))
        out.append(StepResult(made, language, float(language_probability), no_speech, float(avg_logprob)))
    return out


def _features(model, samples: np.ndarray, length: int) -> np.ndarray:
    padded = np.zeros(length, dtype=np.float32)
    padded[:samples.size] = samples
    features = model.feature_extractor(padded)
    frames = length // model.feature_extractor.hop_length
    return features[:, :frames - frames % 2]


def _split(tokenizer, tokens: List[int], window_s: float, precision: float) -> list:
    """Cut the generated tokens at Whisper's timestamp tokens: <|t0|> text <|t1|><|t1|> text <|t2|> ...

    Returns (start, end, text tokens, finished) for each piece with text.
    """
    begin = tokenizer.timestamp_begin
    pieces: list = []
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
            pieces.append((start, stamp, text_tokens, True))
            text_tokens, start = [], None
        else:
            start = stamp  # the second of a pair: the next piece starts here
    if text_tokens:
        pieces.append((start if start is not None else 0.0, window_s, text_tokens, False))
    return [p for p in pieces if tokenizer.decode(p[2]).strip()]


def _align(model, tokenizer, encoder_output, token_lists: List[List[int]], frames: List[int]) -> List[list]:
    """Word timings for each window's text tokens (faster-whisper's ``find_alignment``, batched)."""
    from faster_whisper.transcribe import merge_punctuations

    if not any(token_lists):
        return [[] for _ in token_lists]
    # an empty item would break the batch: it gets one token, and its answer is thrown away
    filled = [t if t else [tokenizer.eot - 1] for t in token_lists]
    alignments = model.find_alignment(tokenizer, filled, encoder_output, frames)
    out = []
    for tokens, alignment in zip(token_lists, alignments):
        if not tokens:
            out.append([])
            continue
        merge_punctuations(alignment, _PREPEND, _APPEND)
        out.append(alignment)
    return out


def _untangled(pieces: List[Piece]) -> List[Piece]:
    """Words the aligner stretched over silence, trimmed as faster-whisper trims them: a phrase's first
    word, or one after a sentence's end, starts at most twice the median word length before its end; a
    sentence's last word ends at most that long after its start. (Without it a phrase after a pause was
    timed seconds early: its first word began where the silence did.)"""
    lengths = sorted(w.end - w.start for p in pieces for w in p.words if w.end > w.start)
    if not lengths:
        return pieces
    longest = 2 * min(0.7, lengths[len(lengths) // 2])
    out = []
    for p in pieces:
        words = list(p.words)
        for i, w in enumerate(words):
            if w.end - w.start <= longest:
                continue
            if i == 0 or words[i - 1].text.rstrip().endswith(_SENTENCE_END):
                words[i] = w = WordTime(round(w.end - longest, 3), w.end, w.text, w.probability)
            elif w.text.rstrip().endswith(_SENTENCE_END):
                words[i] = WordTime(w.start, round(w.start + longest, 3), w.text, w.probability)
        out.append(Piece(p.start, p.end, p.text, p.finished, tuple(words)))
    return out


def _with_words(tokenizer, spans: list, alignment: List[dict]) -> List[Piece]:
    """The pieces, each with the words whose tokens it holds (words go in token order)."""
    pieces = []
    index = 0
    for start, end, tokens, finished in spans:
        words = []
        count = 0
        while index < len(alignment) and count < len(tokens):
            timing = alignment[index]
            count += len(timing["tokens"])
            index += 1
            if not timing["word"]:
                continue
            # the aligner's times, not clamped into the piece: Whisper's timestamp tokens are often off
            # by a few hundred ms, and a piece's first word clamped to its start would move a cut into it
            w0 = max(0.0, float(timing["start"]))
            w1 = max(w0, float(timing["end"]))
            if words and not timing["word"][0].isspace() and tokenizer.language_code not in _UNSPACED:
                # "o" + "'clock." is one word: a final never ends inside it
                last = words.pop()
                words.append(WordTime(last.start, round(w1, 3), last.text + timing["word"],
                                      min(last.probability, float(timing["probability"]))))
            else:
                words.append(WordTime(round(w0, 3), round(w1, 3), timing["word"], float(timing["probability"])))
        pieces.append(Piece(round(start, 3), round(max(end, start), 3), tokenizer.decode(tokens), finished,
                            tuple(words)))
    return pieces
