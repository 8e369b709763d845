"""Protocol fuzz: over 10,000 generated lines against ONE real sidecar process.

Hypothesis draws chunks of cases (rpc_fuzz_cases.py): wrong types for every param of every method, unknown
methods, schema violations, batches, garbage, invalid UTF-8, truncated JSON, deep nesting, huge numbers,
notifications, null and duplicate ids. The driver (rpc_fuzz_driver.py) checks each answer against its case.
Derandomized, so CI runs the same lines every time; no shrinking, since the process keeps state between
examples and a failure names its whole chunk instead.
"""

import sys

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from client import AUDIO, Sidecar, fixture_text, max_wer, wer
from rpc_fuzz_cases import BAD_PATHS, Case, cases
from rpc_fuzz_driver import Fuzzer, encode

CHUNK = 50
EXAMPLES = 205  # x CHUNK lines, plus the hand-written edge cases below: over 10,000 lines


@pytest.fixture(scope="module")
def fuzzer(sidecar_env, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-files")
    (folder / "empty.wav").write_bytes(b"")
    (folder / "notes.wav").write_text("not audio\n" * 100)
    paths = {"@dir": str(folder), "@empty": str(folder / "empty.wav"), "@text": str(folder / "notes.wav")}
    assert set(paths) == set(BAD_PATHS)
    sc = Sidecar(env=sidecar_env)
    sc.ready()
    fz = Fuzzer(sc, paths)
    yield fz
    if sc.proc.poll() is None:
        sc.proc.kill()
        sc.proc.wait()
    print(f"\nprotocol fuzz: {fz.lines_sent} lines, by expected answer {dict(fz.stats)}; "
          f"valid-looking lines orjson refused: {dict(fz.orjson_rejected)}", file=sys.stderr)


@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, phases=(Phase.generate,),
          suppress_health_check=list(HealthCheck))
@given(chunk=st.lists(cases(), min_size=CHUNK, max_size=CHUNK))
def test_generated_lines(fuzzer, chunk):
    fuzzer.run_chunk(chunk)


def _raw(label, line, expect="null", codes=(-32700,), id_kind=None, **kw):
    return Case(label, raw=line, expect=expect, codes=codes, id_kind=id_kind, **kw)


def test_hand_written_edges(fuzzer):
    ping = b'{"jsonrpc":"2.0","method":"ping","id":ID}'
    edges = [
        _raw("10,000 nested arrays", b"[" * 10000 + b"]" * 10000),
        _raw("10,000 nested objects", b'{"a":' * 10000 + b"1" + b"}" * 10000),
        _raw("10,000 nested arrays as params",
             b'{"jsonrpc":"2.0","method":"ping","params":' + b"[" * 10000 + b"]" * 10000 + b',"id":ID}',
             expect="id_or_null", codes=(-32602,), null_codes=(-32600, -32700), id_kind="int"),
        _raw("empty line", b"", expect="none", codes=()),
        _raw("spaces and tabs", b" \t  \x0b\x0c ", expect="none", codes=()),
        _raw("CRLF ending", ping + b"\r", expect="id", codes=("ok",), id_kind="int"),
        _raw("leading spaces", b"    " + ping, expect="id", codes=("ok",), id_kind="str"),
        _raw("BOM", b"\xef\xbb\xbf" + ping),
        _raw("NUL byte", b"\x00"),
        _raw("lone high surrogate escaped", b'{"jsonrpc":"2.0","method":"ping","id":"\\udbff"}'),
        _raw("all 256 bytes", bytes(b for b in range(256) if b != 10)),
        _raw("1 MiB string param", b'{"jsonrpc":"2.0","method":"transcribe","params":{"path":"'
             + b"p" * (1 << 20) + b'"},"id":ID}', expect="id", codes=(-32602,), id_kind="int", param="path"),
        _raw("5 MiB line", b'{"jsonrpc":"2.0","method":"ping","params":["' + b"x" * (5 << 20) + b'"],"id":1}',
             codes=(-32600,)),
        Case("gpu_status recheck", {"jsonrpc": "2.0", "method": "gpu_status", "params": {"recheck": True}},
             id_kind="int", expect="id"),
        Case("a valid request in a batch must not run",
             [{"jsonrpc": "2.0", "method": "shutdown", "id": "batch-shutdown"}], expect="null", codes=(-32600,)),
    ]
    fuzzer.run_chunk(edges, timeout=120)
    assert fuzzer.sc.proc.poll() is None


def test_real_transcriptions_amid_garbage(fuzzer):
    """A few real transcriptions, with fuzz chunks flowing while they run: the right text comes back."""
    names = ["hello", "numbers", "weather"]
    ids = [fuzzer.sc.send("transcribe", {"path": str(AUDIO / f"{n}.flac")}, id=f"real-{n}") for n in names]
    for rid in ids:
        fuzzer.track(rid, "real transcription")
    fuzzer.run_chunk([_raw("garbage during a transcription", b"\xff\x00garbage{")] * 20 +
                     [Case("ping", {"jsonrpc": "2.0", "method": "ping"}, id_kind="int", expect="id")] * 20)
    for name, rid in zip(names, ids):
        r = fuzzer.sc.response(rid, timeout=180)
        assert wer(fixture_text(name), r["result"]["text"]) <= max_wer(name), r


def test_final_accounting_then_shutdown(fuzzer):
    """Over all lines: one answer per id, nothing unsolicited, stdout all protocol; then a clean exit."""
    assert fuzzer.sc.proc.poll() is None, "the sidecar died during the fuzz"
    fuzzer.finish()
    assert fuzzer.lines_sent >= 10_000, fuzzer.lines_sent
    assert not fuzzer.sc.responses_with_id("batch-shutdown")
    assert not fuzzer.sc.responses_with_id("batch-member")
    rid = fuzzer.sc.send("shutdown")
    assert fuzzer.sc.response(rid, timeout=30)["result"]["shutting_down"] is True
    assert fuzzer.sc.proc.wait(30) == 0
    fuzzer._check_lines()
