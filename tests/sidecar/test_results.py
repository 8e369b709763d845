"""The engine's typed results (sidecar/engine/results.py) become the protocol's JSON only at the edge:
the same keys, order and rounding as the schema's shapes, checked against the schema itself."""

from types import SimpleNamespace

from sidecar import protocol
from sidecar.engine.models import ResolvedModel
from sidecar.engine.results import LoadedModel, Segment, Timings, Transcription

def valid(method, out):
    errors = [e.message for e in protocol.result_validator(method).iter_errors(out)]
    assert not errors, errors
    return protocol.result_schema(method)


def whisper_segment():
    word = SimpleNamespace(start=0.12345, end=0.5, word=" Hello", probability=0.987654)
    return SimpleNamespace(id=1, start=0.0, end=1.23456, text=" Hello.", words=[word])


def test_a_segment_with_words_is_the_wire_dict_with_times_offset_and_rounded():
    seg = Segment.from_whisper(whisper_segment(), True, seg_id=7, offset_s=30.0)
    out = seg.to_dict()
    assert out == {"id": 7, "start": 30.0, "end": 31.235, "text": " Hello.",
                   "words": [{"start": 30.123, "end": 30.5, "word": " Hello", "probability": 0.9877}]}
    assert list(out) == ["id", "start", "end", "text", "words"]
    assert "words" not in Segment.from_whisper(whisper_segment(), False).to_dict()


def test_a_transcription_is_the_schema_s_transcribe_result():
    segs = (Segment.from_whisper(whisper_segment(), True), Segment(2, 1.5, 2.0, " World.", logprobs=[
        {"token": " World", "logprob": -0.1, "bytes": [32, 87]}]))
    result = Transcription(segs, "en", 0.987654321, 2.00049, "cpu", "int8", "base", "no GPU",
                           Timings(0.000012345, 0.5, 1.0), None)
    out = result.to_dict()
    schema = valid("transcribe", out)
    assert out["text"] == "Hello. World."
    assert (out["language_probability"], out["duration"], out["rtf"]) == (0.9877, 2.0, 0.4999)
    assert out["timings"] == {"queue_s": 0.0, "load_s": 0.5, "transcribe_s": 1.0}
    assert list(out) == schema["required"]


def test_a_loaded_model_is_the_schema_s_load_model_result():
    out = LoadedModel(object(), ResolvedModel("base", "/m/base", "embedded"), "cpu", "int8", 0.123456).to_dict()
    valid("load_model", out)
    assert out == {"model": "base", "path": "/m/base", "source": "embedded", "device": "cpu",
                   "compute_type": "int8", "load_s": 0.1235}
