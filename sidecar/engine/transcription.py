"""Transcription with faster-whisper: how a request becomes model calls, and its segments JSON.

The engine (engine.py) owns the device and the models and calls these; no state lives here.
"""

from __future__ import annotations

from ..config import Config
from ..errors import InvalidParams
from ..params import TranscribeParams
from . import audio

# Substrings of CTranslate2 / CUDA errors that mean the GPU, not the input, failed.
_CUDA_MARKERS = ("cuda", "cublas", "cudnn", "out of memory", "cufft", "nccl", "gpu")


def is_cuda_failure(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(m in text for m in _CUDA_MARKERS)


def start_decoding(model, params: TranscribeParams, media: audio.Audio, config: Config):
    """Start faster-whisper on ``media``: batched from ``config.batch_threshold_s`` of audio on (or
    when the request names a batch size), else sequential. Returns (segments, info, batch_size)."""
    kwargs = dict(
        language=params.language,
        task=params.task,
        beam_size=params.beam_size,
        word_timestamps=params.word_timestamps,
        initial_prompt=params.initial_prompt,
    )
    batch_size = params.batch_size
    if (batch_size is None and params.vad_filter is not False and config.batch_threshold_s
            and media.duration >= config.batch_threshold_s):
        # Long audio: batched was faster at equal or better WER in the benchmark (bench/RESULTS.md).
        batch_size = config.default_batch_size
    if batch_size:
        from faster_whisper import BatchedInferencePipeline

        vad = True if params.vad_filter is None else params.vad_filter
        if not vad and media.duration >= 30:
            raise InvalidParams("vad_filter", "must be true for batched transcription of audio longer "
                                "than 30 s (batches are cut at speech pauses)")
        segments, info = BatchedInferencePipeline(model).transcribe(
            media.samples, batch_size=batch_size, vad_filter=vad, **kwargs)
        return segments, info, batch_size
    segments, info = model.transcribe(media.samples, vad_filter=bool(params.vad_filter), **kwargs)
    return segments, info, None


def segment_dict(seg, with_words: bool) -> dict:
    item = {"id": seg.id, "start": round(seg.start, 3), "end": round(seg.end, 3), "text": seg.text}
    if with_words and seg.words:
        item["words"] = [
            {"start": round(w.start, 3), "end": round(w.end, 3), "word": w.word,
             "probability": round(float(w.probability), 4)}
            for w in seg.words
        ]
    return item
