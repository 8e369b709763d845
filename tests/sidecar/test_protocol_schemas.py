"""The protocol's schema files (sidecar/protocol/) against the code: the sidecar's real answers and
notifications validate against them, its error classes are errors.json's kinds, and the files are
well-formed and shipped in the package."""

from __future__ import annotations

import base64
import json
import re
from fnmatch import fnmatch

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from client import AUDIO, ROOT
from sidecar import errors, protocol
from sidecar.params import StreamOptions, TranscribeParams


def _invalid(validator, instance) -> list:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


# ---- the files ----------------------------------------------------------------------------------------
def test_every_file_is_a_valid_draft_2020_12_schema_and_every_ref_resolves():
    for name in protocol.files():
        Draft202012Validator.check_schema(protocol.load(name))
    for method in protocol.methods():
        protocol.params_validator(method).is_valid({})  # resolves the $refs on the way
        protocol.result_validator(method).is_valid({})
        assert protocol.params_schema(method)["additionalProperties"] is False, method
    for method in protocol.notifications():
        protocol.notification_validator(method).is_valid({})


def test_pyproject_ships_every_schema_file_as_package_data():
    # tomllib is 3.11+ and CI also runs 3.9: the one line is read as the JSON list it is written as
    line = re.search(r'^"sidecar\.protocol" = (\[.*\])$', (ROOT / "pyproject.toml").read_text(), re.M)
    globs = json.loads(line.group(1))
    for name in protocol.files():
        assert any(fnmatch(name, g) and name.count("/") == g.count("/") for g in globs), name


def test_transcribe_params_dataclass_has_the_schemas_params():
    assert set(TranscribeParams.__dataclass_fields__) == set(protocol.params_schema("transcribe")["properties"])


def test_stream_options_dataclass_has_the_schemas_params():
    fields = set(StreamOptions.__dataclass_fields__) - {"silence_s"} | {"silence_ms"}  # kept in seconds
    assert fields == set(protocol.params_schema("stream_open")["properties"])


def test_error_classes_are_errors_json_kinds():
    declared = protocol.errors()
    kinds = {cls.kind: cls.code for cls in _subclasses(errors.SidecarError)}
    kinds["internal"] = errors.internal_error(RuntimeError("x"))["code"]
    assert kinds == {kind: k["code"] for kind, k in declared["kinds"].items()}
    assert declared["codes"] == {
        "parse_error": errors.PARSE_ERROR, "invalid_request": errors.INVALID_REQUEST,
        "method_not_found": errors.METHOD_NOT_FOUND, "invalid_params": errors.INVALID_PARAMS,
        "internal_error": errors.INTERNAL_ERROR, "request_cancelled": errors.REQUEST_CANCELLED,
    }
    for kind, k in declared["kinds"].items():
        assert (-32099 <= k["code"] <= -32000) or k["code"] in declared["codes"].values(), kind


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


# ---- the sidecar's real answers -----------------------------------------------------------------------
def _ok(sidecar, method, params=None, timeout=180, called=None):
    if called is not None:
        called.add(method)
    r = sidecar.call(method, params, timeout=timeout)
    assert "result" in r, r
    assert not _invalid(protocol.result_validator(method), r["result"]), (method, _invalid(
        protocol.result_validator(method), r["result"]), r["result"])
    return r["result"]


def test_real_answers_and_notifications_validate_against_the_schemas(sidecar):
    sidecar.ready()
    called = set()

    def ok(method, params=None):
        return _ok(sidecar, method, params, called=called)

    ok("ping")
    early = ok("gpu_status", {"wait": False})
    assert set(early) == set(protocol.result_schema("gpu_status")["properties"])
    ok("gpu_status")
    ok("load_model", {"device": "cpu"})
    ok("transcribe", {"path": str(AUDIO / "hello.flac"), "word_timestamps": True})
    ok("transcribe", {"path": str(AUDIO / "hello.flac"), "batch_size": 2, "language": "en"})
    ok("cancel", {"id": 123456})
    assert "base" in [m["name"] for m in ok("list_models")["models"]]

    sid = ok("stream_open", {"format": "pcm_s16le", "silence_ms": 300})["stream_id"]
    samples = _flac_samples(AUDIO / "hello.flac")
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    for i in range(0, len(pcm), 32000):
        ok("stream_write", {"stream_id": sid, "data": base64.b64encode(pcm[i:i + 32000]).decode()})
    ok("stream_write", {"stream_id": sid, "gap_s": 1.5})
    ok("stream_close", {"stream_id": sid})
    other = ok("stream_open", {"format": "auto"})["stream_id"]
    ok("stream_abort", {"stream_id": other})

    seen = set()
    for m in list(sidecar.messages):
        if "method" in m:
            seen.add(m["method"])
            v = protocol.notification_validator(m["method"])
            assert not _invalid(v, m["params"]), (m, _invalid(v, m["params"]))
    assert {"ready", "status", "segment", "speech"} <= seen, seen
    assert called | {"shutdown"} == set(protocol.methods()), "every declared method is served and answers"


def test_error_answers_carry_a_declared_kind(sidecar):
    kinds = protocol.errors()["kinds"]
    for method, params in [("transcribe", {"path": "/nonexistent/x.flac"}), ("transcribe", {"path": str(AUDIO)}),
                           ("transcribe", {"path": "x", "bogus": 1}), ("stream_close", {"stream_id": "s99999"})]:
        error = sidecar.call(method, params)["error"]
        assert error["data"]["kind"] in kinds and kinds[error["data"]["kind"]]["code"] == error["code"], error


def test_shutdown_answer_validates(spawn):
    sc = spawn()
    sc.ready()
    _ok(sc, "shutdown")
    assert sc.proc.wait(30) == 0


def _flac_samples(path) -> np.ndarray:
    from faster_whisper import decode_audio

    return decode_audio(str(path), sampling_rate=16000)


@pytest.mark.parametrize("method", protocol.methods())
def test_each_method_refuses_unknown_params_per_its_schema(method):
    schema = protocol.params_schema(method)
    assert not protocol.params_validator(method).is_valid({"surely_not_a_param": 1}), schema
