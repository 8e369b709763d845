"""Requests the fuzz found answered without their id, so a client waiting on that id never hears back.

Both are valid JSON with a readable id. JSON-RPC allows a null id only when the id could not be read.
Both were fixed in sidecar/server.py (now sidecar/endpoint/framing.py): a stdlib-JSON fallback for
numbers orjson refuses, and an envelope check that does not recurse into params (jsonrpcserver's
jsonschema check did).
"""

import pytest


def _answers_to(sidecar, line: bytes, rid) -> list:
    sidecar.send_raw(line + b"\n")
    sidecar.call("ping", timeout=30)  # the read loop answers in order: by now the line was answered
    return sidecar.responses_with_id(rid)


def test_a_request_nested_1000_deep_is_answered_with_its_id(sidecar):
    line = b'{"jsonrpc":"2.0","method":"ping","params":{"x":' + b"[" * 1000 + b"]" * 1000 + b'},"id":424201}'
    answers = _answers_to(sidecar, line, 424201)
    assert len(answers) == 1 and answers[0]["error"]["code"] in (-32600, -32602)


def test_a_number_beyond_double_range_is_answered_with_its_id(sidecar):
    line = b'{"jsonrpc":"2.0","method":"transcribe","params":{"path":"x.wav","beam_size":1e400},"id":424202}'
    answers = _answers_to(sidecar, line, 424202)
    assert len(answers) == 1 and answers[0]["error"]["code"] == -32602


def test_a_400_digit_integer_in_params_is_answered_with_its_id(sidecar):
    line = (b'{"jsonrpc":"2.0","method":"transcribe","params":{"path":"x.wav","beam_size":1'
            + b"0" * 400 + b'},"id":424203}')
    answers = _answers_to(sidecar, line, 424203)
    assert len(answers) == 1 and answers[0]["error"]["code"] == -32602


def test_a_lone_surrogate_in_an_unknown_param_name_is_answered_with_its_id(sidecar):
    line = b'{"jsonrpc":"2.0","method":"ping","params":{"\\ud800x":1},"id":424204}'
    answers = _answers_to(sidecar, line, 424204)
    assert len(answers) == 1 and answers[0]["error"]["code"] == -32602
