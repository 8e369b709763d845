"""Transcription with faster-whisper: how a request becomes model calls, window by window, and its
segments (results.Segment).

The engine (engine.py) owns the device and the models and calls these. A file is transcribed in windows
(audio.Decoder), so memory does not grow with its duration (issue 19); across windows the segment times
and ids run on, each window gets the request's own prompt (not the text so far: on a 181-s recording in
120-s windows the carried text made Whisper repeat it, 12.2 % WER against 6.7 % in one piece; without it,
6.7 %), and the language, once heard, stays fixed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterator, Optional

from ..config import Config
from ..errors import InvalidParams
from ..params import TranscribeParams
from . import audio
from .logprobs import SegmentScorer
from .results import Segment

# Whisper's own window: a request's batch_size asks for windows that hold that many of them.
_CHUNK_S = 30


def choose_batch_size(params: TranscribeParams, config: Config, duration_s: float) -> Optional[int]:
    """Batched from ``config.batch_threshold_s`` of audio on (or when the request names a batch size),
    else None: sequential."""
    if params.batch_size:
        return params.batch_size
    if params.vad_filter is not False and config.batch_threshold_s and duration_s >= config.batch_threshold_s:
        # Long audio: batched was faster at equal or better WER in the benchmark (bench/RESULTS.md).
        return config.default_batch_size
    return None


class WindowedTranscription:
    """One request's transcription of one file: :meth:`segments` decodes and transcribes it window by
    window; afterwards ``language``, ``language_probability``, ``duration`` and ``batch_size`` say what
    the whole file gave."""

    def __init__(self, model, params: TranscribeParams, config: Config, header: audio.Header) -> None:
        self._model = model
        self._params = params
        self._config = config
        self._header = header
        self.language: Optional[str] = None
        self.language_probability = 0.0
        self.duration = 0.0
        self.batch_size: Optional[int] = None

    def segments(self, on_window: Callable[[float], None] = lambda end_s: None) -> Iterator[Segment]:
        """The segments, in order, with file times.

        Args:
            on_window: called with the end of each window once it is transcribed (progress, cancel).
        Raises:
            InvalidParams: batched without VAD on audio longer than 30 s.
            NotAudio, AudioTooLong: from the decoder (possibly after segments were yielded).
        """
        params = self._params
        with audio.Decoder(self._header, self._config.max_audio_s) as decoder:
            window = decoder.read(self._config.window_s)
            # The header's duration, else at least the first window's (exact when it is the only one).
            duration_s = self._header.declared_s or window.end_s
            self.batch_size = choose_batch_size(params, self._config, duration_s)
            decode = self._decoder_for(self.batch_size, duration_s)
            # A batch size the request names gets windows that fill a batch: memory it asked for.
            window_s = max(self._config.window_s, _CHUNK_S * (params.batch_size or 0))
            told, guess = params.language, None  # the language the model is told: fixed once heard
            next_id = 1
            while window is not None:
                # Digital silence after the first window is not worth a model call (a hostile file of
                # hours of zeros would otherwise cost a language detection per window).
                if len(window.samples) and (window.start_s == 0 or not audio.is_silent(window.samples)):
                    found, info = decode(window.samples, told, params.initial_prompt or None)
                    first_id = next_id
                    scorer = SegmentScorer(self._model, params.task, info.language) if params.logprobs else None
                    for seg in found:
                        item = Segment.from_whisper(seg, params.word_timestamps, next_id, window.start_s)
                        if scorer:
                            item = replace(item, logprobs=scorer.score(seg, window.samples))
                        yield item
                        next_id += 1
                    guess = guess or (info.language, info.language_probability)
                    if told is None and next_id > first_id:  # the first window with speech decides
                        told = info.language
                        self.language, self.language_probability = info.language, info.language_probability
                self.duration = window.end_s
                on_window(window.end_s)
                window = decoder.read(window_s)
        if self.language is None:  # a language the request named (as the model took it), or no speech
            self.language, self.language_probability = guess

    def _decoder_for(self, batch_size: Optional[int], duration_s: float):
        """(samples, language, prompt) -> (segments, info), by the batched pipeline or sequentially."""
        params = self._params
        kwargs = dict(task=params.task, beam_size=params.beam_size, word_timestamps=params.word_timestamps)
        if batch_size:
            from faster_whisper import BatchedInferencePipeline

            vad = True if params.vad_filter is None else params.vad_filter
            if not vad and duration_s >= _CHUNK_S:
                raise InvalidParams("vad_filter", "must be true for batched transcription of audio longer "
                                    "than 30 s (batches are cut at speech pauses)")
            pipeline = BatchedInferencePipeline(self._model)
            return lambda samples, language, prompt: pipeline.transcribe(
                samples, batch_size=batch_size, vad_filter=vad, language=language, initial_prompt=prompt,
                **kwargs)
        return lambda samples, language, prompt: self._model.transcribe(
            samples, vad_filter=bool(params.vad_filter), language=language, initial_prompt=prompt, **kwargs)

