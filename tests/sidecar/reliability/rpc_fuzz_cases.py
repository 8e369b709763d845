"""Hypothesis strategies for the protocol fuzz: each draws a ``Case`` that knows what the sidecar must answer.

A case is one line (or a few lines sharing an id). Its expectation is decided by construction, not by asking
the sidecar: wrong types for every param of every method, unknown methods, schema violations, non-objects,
batches, garbage bytes, invalid UTF-8, truncated JSON, deep nesting and huge numbers. Only the JSON parse step
uses an oracle, the sidecar's own ``parse_line`` (orjson, then the stdlib for numbers orjson refuses), and
the test counts how often that oracle turned a line the generator thought valid into a parse error.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from typing import Any, Optional, Tuple

from hypothesis import strategies as st

from sidecar import protocol
from sidecar.params import _languages

OK = "ok"  # a result, not an error
METHODS = protocol.methods()  # every declared method (the stream_* ones too): an "unknown method" is none of them
LANGUAGES = sorted(_languages())
MISSING = "/nonexistent/whisper-fuzz/no-such-file.wav"
ID_KINDS = ("int", "str", "float", "neg", "u64")
QUEUED = (-32005,)  # queue_full is a fair answer for anything that goes through the job queue
# Placeholders the test swaps for real files: a folder, an empty file, a text file named .wav.
BAD_PATHS = {"@dir": -32002, "@empty": -32003, "@text": -32003}


class Raw:
    """A number written verbatim into the line (1e400, 10**400, -0.0...), which json.dumps cannot emit."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text})"


@dataclass
class Case:
    label: str
    body: Any = None  # a JSON-like value; the id is added to it when it is a dict and id_kind is set
    raw: Optional[bytes] = None  # a literal line instead of body
    id_kind: Optional[str] = None  # None: no "id" member (a notification, or no object at all)
    expect: str = OK  # "id" | "null" | "none" | "id_or_null" | "oracle"
    codes: Tuple = (OK,)  # allowed answers: OK or error codes
    param: Optional[str] = None  # the data.param a -32602 must name
    copies: int = 1  # >1: the same line (same id) sent again at once
    null_codes: Tuple = ()  # for id_or_null: codes allowed on the null-id answer
    ensure_ascii: bool = True
    meta: dict = field(default_factory=dict)


# ---- values -----------------------------------------------------------------------------------------
def json_values(max_leaves: int = 6):
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(-(2 ** 63), 2 ** 64 - 1),
        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    )
    return st.recursive(
        scalars,
        lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=6), kids, max_size=3)),
        max_leaves=max_leaves,
    )


HUGE = st.sampled_from([
    Raw("1e400"), Raw("-1e400"), Raw("1e-400"), Raw("1" + "0" * 400), Raw("18446744073709551616"),
    Raw("-9223372036854775809"), Raw("123456789012345678901234567890"), Raw("-0.0"), Raw("1E+2"),
    Raw("0." + "0" * 300 + "1"), 2 ** 64 - 1, -(2 ** 63), 1.7976931348623157e308, 5e-324,
])
NOT_STRING = st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                       st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                       HUGE)
NOT_BOOL = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5),
                     st.lists(st.booleans(), max_size=2), st.dictionaries(st.text(max_size=3), st.booleans(), max_size=1),
                     st.sampled_from([0, 1, "true", "false"]), HUGE)
SAFE_TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), min_size=1, max_size=40)


def bad_int(lo: int, hi: int):
    return st.one_of(
        st.booleans(), st.text(max_size=5), st.floats(allow_nan=False, allow_infinity=False),
        st.integers(max_value=lo - 1), st.integers(min_value=hi + 1), st.lists(st.integers(), max_size=2),
        st.sampled_from([str(lo), float(lo), True, {"value": lo}]), HUGE,
    )


# ---- transcribe -------------------------------------------------------------------------------------
TRANSCRIBE_BAD = {
    "path": st.one_of(NOT_STRING, st.just(""), st.just("   "), st.just("a\x00b"), st.just("x" * 5000)),
    "language": st.one_of(NOT_STRING, st.just(""), st.text(string.ascii_lowercase, min_size=4, max_size=30)
                          .filter(lambda s: s not in LANGUAGES and s != "auto"), st.just("x" * 17)),
    "task": st.one_of(NOT_STRING, st.just(""), st.text(min_size=1, max_size=12)
                      .filter(lambda s: s.strip() and s not in ("transcribe", "translate"))),
    "beam_size": bad_int(1, 20),
    "vad_filter": NOT_BOOL,
    "word_timestamps": NOT_BOOL,
    "initial_prompt": st.one_of(NOT_STRING, st.just("nul\x00inside"), st.just("p" * 4097)),
    "batch_size": bad_int(1, 64),
    "model": st.one_of(NOT_STRING, st.just(""), st.just("m" * 1025)),
    "device": st.one_of(NOT_STRING, st.sampled_from(["gpu", "CUDA", "tpu", "cuda:0", "", " cpu"])),
}
TRANSCRIBE_GOOD = {
    "language": st.one_of(st.sampled_from(LANGUAGES), st.just("auto"), st.none()),
    "task": st.sampled_from(["transcribe", "translate", None]),
    "beam_size": st.one_of(st.integers(1, 20), st.none()),
    "vad_filter": st.one_of(st.booleans(), st.none()),
    "word_timestamps": st.one_of(st.booleans(), st.none()),
    "initial_prompt": st.one_of(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                                        max_size=60), st.none()),
    "batch_size": st.one_of(st.integers(1, 64), st.none()),
    "model": st.one_of(SAFE_TEXT.filter(str.strip), st.none()),
    "device": st.sampled_from(["auto", "cuda", "cpu", None]),
}


def _request(method: str, params: Any = "absent") -> dict:
    msg = {"jsonrpc": "2.0", "method": method}
    if params != "absent":
        msg["params"] = params
    return msg


@st.composite
def transcribe_cases(draw):
    good = draw(st.fixed_dictionaries({}, optional=TRANSCRIBE_GOOD))
    kind = draw(st.sampled_from(["bad_param", "bad_param", "bad_param", "unknown_key", "good", "bad_path",
                                 "no_path", "positional"]))
    if kind == "bad_param":
        name = draw(st.sampled_from(sorted(TRANSCRIBE_BAD)))
        params = {"path": MISSING, **good, name: draw(TRANSCRIBE_BAD[name])}
        return Case(f"transcribe bad {name}", _request("transcribe", params), codes=(-32602,), param=name)
    if kind == "unknown_key":
        key = draw(st.text(max_size=10).filter(lambda k: k not in TRANSCRIBE_GOOD and k != "path"))
        params = {"path": MISSING, **good, key: draw(json_values(2))}
        return Case("transcribe unknown param", _request("transcribe", params), codes=(-32602,), param=key)
    if kind == "no_path":
        params = {**good, **draw(st.sampled_from([{}, {"path": None}]))}
        return Case("transcribe without path", _request("transcribe", params), codes=(-32602,), param="path")
    if kind == "positional":
        args = draw(st.lists(json_values(2), min_size=1, max_size=3))
        return Case("transcribe positional", _request("transcribe", args), codes=(-32602,))
    path, code = draw(st.sampled_from(sorted(BAD_PATHS.items()))) if kind == "bad_path" else (MISSING, -32001)
    return Case(f"transcribe {kind}", _request("transcribe", {"path": path, **good}), codes=(code,) + QUEUED)


# ---- the other methods ------------------------------------------------------------------------------
@st.composite
def gpu_status_cases(draw):
    kind = draw(st.sampled_from(["bad", "bad", "good", "unknown_key", "positional"]))
    if kind == "bad":
        name = draw(st.sampled_from(["recheck", "wait"]))
        params = {name: draw(NOT_BOOL)}
        if draw(st.booleans()):
            other = "wait" if name == "recheck" else "recheck"
            params[other] = draw(st.booleans()) if other == "wait" else False
        return Case(f"gpu_status bad {name}", _request("gpu_status", params), codes=(-32602,), param=name)
    if kind == "good":  # recheck: true re-runs the device check and unloads models; one explicit test does it
        params = draw(st.sampled_from(["absent", {}, [], {"wait": True}, {"wait": False}, {"recheck": False},
                                       [False], [False, True]]))
        return Case("gpu_status", _request("gpu_status", params))
    if kind == "unknown_key":
        key = draw(st.text(max_size=8).filter(lambda k: k not in ("recheck", "wait")))
        return Case("gpu_status unknown key", _request("gpu_status", {key: draw(json_values(2))}), codes=(-32602,))
    args = draw(st.lists(json_values(1), min_size=3, max_size=5))
    return Case("gpu_status too many args", _request("gpu_status", args), codes=(-32602,))


@st.composite
def load_model_cases(draw):
    kind = draw(st.sampled_from(["bad_model", "bad_device", "unknown", "unknown_key", "positional_bad"]))
    if kind == "bad_model":
        return Case("load_model bad model", _request("load_model", {"model": draw(st.one_of(
            NOT_STRING, st.just(""), st.just("m" * 1025), st.just("a\x00")))}), codes=(-32602,), param="model")
    if kind == "bad_device":
        return Case("load_model bad device", _request("load_model", {"device": draw(st.one_of(
            NOT_STRING, st.sampled_from(["gpu", "", "metal"])))}), codes=(-32602,), param="device")
    if kind == "unknown":  # offline: an unknown name is -32602, a folder or hub id that is not there -32004
        name = "fz-" + draw(SAFE_TEXT)
        return Case("load_model unknown model", _request("load_model", {"model": name, "device": "cpu"}),
                    codes=(-32602, -32004, OK) + QUEUED)
    if kind == "unknown_key":
        key = draw(st.text(max_size=8).filter(lambda k: k not in ("model", "device")))
        return Case("load_model unknown key", _request("load_model", {key: 1}), codes=(-32602,))
    return Case("load_model positional", _request("load_model", [draw(NOT_STRING)]), codes=(-32602,))


CANCEL_IDS = st.one_of(st.integers(-10 ** 8, 10 ** 8), st.text(max_size=10).map(lambda s: "c:" + s),
                       st.floats(-1e8, 1e8, allow_nan=False))


@st.composite
def cancel_cases(draw):
    kind = draw(st.sampled_from(["good", "bad", "missing", "unknown_key", "positional"]))
    if kind == "good":
        return Case("cancel unknown id", _request("cancel", {"id": draw(CANCEL_IDS)}))
    if kind == "bad":
        value = draw(st.one_of(st.none(), st.booleans(), st.lists(st.integers(), max_size=2),
                               st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
        return Case("cancel bad id", _request("cancel", {"id": value}), codes=(-32602,), param="id")
    if kind == "missing":
        return Case("cancel without id", _request("cancel", draw(st.sampled_from(["absent", {}, []]))),
                    codes=(-32602,), param="id")
    if kind == "unknown_key":
        return Case("cancel unknown key", _request("cancel", {"id": 1, "force": True}), codes=(-32602,))
    return Case("cancel positional", _request("cancel", draw(st.lists(CANCEL_IDS, min_size=2, max_size=4))),
                codes=(-32602,))


@st.composite
def shutdown_cases(draw):  # never a valid shutdown: only the final test stops the process
    params = draw(st.one_of(st.lists(json_values(1), min_size=1, max_size=3),
                            st.dictionaries(st.text(max_size=6), json_values(1), min_size=1, max_size=2)))
    return Case("shutdown with params", _request("shutdown", params), codes=(-32602,))


@st.composite
def ping_cases(draw):
    if draw(st.booleans()):
        return Case("ping", _request("ping", draw(st.sampled_from(["absent", {}, []]))))
    params = draw(st.one_of(st.lists(json_values(1), min_size=1, max_size=3),
                            st.dictionaries(st.text(max_size=6), json_values(1), min_size=1, max_size=2)))
    return Case("ping with params", _request("ping", params), codes=(-32602,))


@st.composite
def unknown_method_cases(draw):
    name = draw(st.text(max_size=20).filter(lambda m: m not in METHODS and not m.startswith("_test")))
    params = draw(st.one_of(st.just("absent"), st.lists(json_values(1), max_size=2),
                            st.dictionaries(st.text(max_size=4), json_values(1), max_size=2)))
    return Case("unknown method", _request(name, params), codes=(-32601,))


def method_cases():
    return st.one_of(ping_cases(), gpu_status_cases(), transcribe_cases(), load_model_cases(),
                     cancel_cases(), shutdown_cases(), unknown_method_cases())


# ---- the envelope -----------------------------------------------------------------------------------
@st.composite
def schema_violations(draw):
    """Objects that are not JSON-RPC requests: answered -32600, with their own id when it can be read
    (so the caller's request ends at once), else with a null id."""
    base = {"jsonrpc": "2.0", "method": "ping"}
    kind = draw(st.sampled_from(["jsonrpc", "no_jsonrpc", "method", "no_method", "params", "id", "extra"]))
    if kind == "jsonrpc":
        base["jsonrpc"] = draw(st.one_of(st.sampled_from(["1.0", "2", "2.0 ", "", None, 2.0, 2]), json_values(2))
                               .filter(lambda v: v != "2.0"))
    elif kind == "no_jsonrpc":
        del base["jsonrpc"]
    elif kind == "method":
        base["method"] = draw(st.one_of(st.none(), st.booleans(), st.integers(), st.lists(st.text(), max_size=2)))
    elif kind == "no_method":
        del base["method"]
    elif kind == "params":
        base["params"] = draw(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)))
    elif kind == "id":
        base["id"] = draw(st.one_of(st.booleans(), st.lists(st.integers(), max_size=2),
                                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
        return Case(f"schema: {kind}", base, expect="null", codes=(-32600,))
    else:
        base[draw(st.text(max_size=6).filter(lambda k: k not in ("jsonrpc", "method", "id", "params")))] = 1
    return Case(f"schema: {kind}", base, id_kind="str", expect="id", codes=(-32600,))


@st.composite
def non_objects(draw):
    """JSON that is not an object: scalars and arrays (batches included, even of valid requests)."""
    kind = draw(st.sampled_from(["scalar", "array", "batch", "empty_batch"]))
    if kind == "scalar":
        value = draw(st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 63), 2 ** 63), st.text(max_size=8),
                               st.floats(allow_nan=False, allow_infinity=False)))
    elif kind == "array":
        value = draw(st.lists(json_values(3), max_size=4))
    elif kind == "batch":  # not supported: one -32600 for the line, and no member may run
        value = [_request("ping", []) | {"id": "batch-member"},
                 _request("shutdown") | {"id": "batch-shutdown"}] * draw(st.integers(1, 3))
    else:
        value = []
    return Case(f"non-object: {kind}", value, expect="null", codes=(-32600,))


BAD_UTF8 = [b"\xff", b"\xfe\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80",
            b"\xf8\x88\x80\x80\x80", b"\xc3"]


@st.composite
def invalid_utf8(draw):
    """A valid ping whose string holds invalid UTF-8: the whole line is a parse error."""
    bad = draw(st.sampled_from(BAD_UTF8))
    where = draw(st.sampled_from(["method", "id", "param"]))
    if where == "method":
        line = b'{"jsonrpc":"2.0","method":"pi' + bad + b'ng","id":"u8"}'
    elif where == "id":
        line = b'{"jsonrpc":"2.0","method":"ping","id":"u8' + bad + b'"}'
    else:
        line = b'{"jsonrpc":"2.0","method":"transcribe","params":{"path":"/tmp/' + bad + b'.wav"},"id":"u8"}'
    return Case(f"invalid utf-8 in {where}", raw=line, expect="null", codes=(-32700,))


@st.composite
def broken_json(draw):
    """Text that is not JSON: truncated requests, JSON5-isms, NaN, lone surrogates, random bytes."""
    kind = draw(st.sampled_from(["truncated", "js", "surrogate", "bytes", "bytes"]))
    if kind == "truncated":
        full = json.dumps(_request("transcribe", {"path": MISSING, "beam_size": 5}) | {"id": 1}).encode()
        line = full[: draw(st.integers(1, len(full) - 1))]
    elif kind == "js":
        line = draw(st.sampled_from([
            b"{'jsonrpc': '2.0', 'method': 'ping', 'id': 1}", b'{"jsonrpc":"2.0","method":"ping","id":1,}',
            b'{"jsonrpc":"2.0","method":"ping","id":NaN}', b'{"jsonrpc":"2.0","method":"ping","id":Infinity}',
            b'{jsonrpc:"2.0",method:"ping",id:1}', b'{"jsonrpc":"2.0","method":"ping","id":1} // c',
            b'{"jsonrpc":"2.0","method":"ping","id":1}{"jsonrpc":"2.0","method":"ping","id":2}',
            b'{"jsonrpc":"2.0","method":"ping","id":0x10}', b'{"jsonrpc":"2.0","method":"ping","id":01}',
            b'{"a":"\\x41"}', b'\x00{"jsonrpc":"2.0","method":"ping","id":1}', b'{"a":"tab\there"}', b"[,]",
        ]))
    elif kind == "surrogate":
        line = b'{"jsonrpc":"2.0","method":"\\ud83d","id":"s"}'
    else:
        line = draw(st.binary(min_size=1, max_size=64)).replace(b"\n", b"")
    return Case(f"broken json: {kind}", raw=line, expect="oracle")


@st.composite
def deep_nesting(draw):
    """Params nested hundreds or thousands deep: one answer, by id (-32602) or null (-32600/-32700)."""
    depth = draw(st.one_of(st.integers(1, 200), st.integers(900, 1100), st.integers(1100, 12000)))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    inner = opener * depth + b"1" * (opener == b'{"a":') + closer * depth
    method = draw(st.sampled_from(["ping", "cancel", "transcribe", "nope"]))
    param = {"ping": b'{"x":', "cancel": b'{"id":', "transcribe": b'{"path":', "nope": b'{"x":'}[method]
    code = -32601 if method == "nope" else -32602
    line = b'{"jsonrpc":"2.0","method":"' + method.encode() + b'","params":' + param + inner + b'},"id":ID}'
    return Case(f"nesting {depth} deep", raw=line, id_kind="int", expect="id_or_null", codes=(code,),
                null_codes=(-32600, -32700), meta={"depth": depth})


def as_notification(case: Case) -> Case:
    """The same request without an id: never answered, whatever is wrong with its params."""
    return Case(case.label + " (notification)", case.body, expect="none", codes=())


def with_id(case: Case, id_kind: str) -> Case:
    case.id_kind = id_kind
    if case.expect == OK:
        case.expect = "id"
    return case


@st.composite
def cases(draw):
    kind = draw(st.sampled_from(["method"] * 10 + ["notification", "null_id", "duplicate", "schema", "non_object",
                                                   "utf8", "broken", "nesting", "unicode"]))
    if kind in ("method", "unicode"):
        case = with_id(draw(method_cases()), draw(st.sampled_from(ID_KINDS)))
        case.ensure_ascii = kind != "unicode"
        return case
    if kind == "notification":
        return as_notification(draw(method_cases()))
    if kind == "null_id":  # quick methods only: their answers come back in order, on the read loop
        case = draw(st.one_of(ping_cases(), cancel_cases(), unknown_method_cases(), shutdown_cases()))
        case.id_kind, case.expect = "null", "null"
        return case
    if kind == "duplicate":  # the same id twice at once: each line is answered, once
        case = draw(st.one_of(ping_cases(), transcribe_cases()))
        case = with_id(case, draw(st.sampled_from(ID_KINDS)))
        case.copies = 2
        if case.body["method"] == "transcribe" and -32602 not in case.codes:
            case.codes = case.codes + (-32600,)  # "id already in use" while the first is in flight
        return case
    return draw({"schema": schema_violations(), "non_object": non_objects(), "utf8": invalid_utf8(),
                 "broken": broken_json(), "nesting": deep_nesting()}[kind])
