"""Drives one real sidecar with fuzz cases: writes a chunk of lines, reads the answers as they come (the
client's reader thread drains stdout, so neither pipe can fill up), and checks every answer against the case
that produced it.

Every line with an id gets a fresh id, so answers are matched by id. Answers with a null id (parse errors,
invalid requests, requests whose id is null) cannot be matched; they all come from the read loop in order,
so a chunk ends with a ``ping`` barrier and the null answers before the barrier are counted against what the
chunk's cases expect.
"""

from __future__ import annotations

import collections
import itertools
import json
import time
from typing import Any, Optional

import orjson

from rpc_fuzz_cases import OK, Case, Raw

from sidecar.endpoint.framing import parse_line

NOTIFICATIONS = {"ready", "status", "segment"}


def encode(body: Any, ensure_ascii: bool = True) -> bytes:
    """json.dumps, but Raw numbers are written verbatim."""
    raws: list = []

    def swap(value):
        if isinstance(value, Raw):
            raws.append(value.text)
            return f"@@RAW{len(raws) - 1}@@"
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(body), ensure_ascii=ensure_ascii, separators=(",", ":"))
    for i, raw in enumerate(raws):
        text = text.replace(f'"@@RAW{i}@@"', raw)
    return text.encode("utf-8")


def id_key(value: Any) -> tuple:
    return ("num", value) if isinstance(value, (int, float)) and not isinstance(value, bool) else ("str", value)


def answer_code(message: dict) -> Any:
    return OK if "result" in message else message["error"]["code"]


def check_protocol_line(raw: bytes) -> dict:
    """One stdout line is one strict JSON-RPC 2.0 message: a notification or a response."""
    assert raw.endswith(b"\n") and not raw.endswith(b"\r\n"), raw[-40:]
    message = orjson.loads(raw)  # strict: no NaN, no invalid UTF-8
    assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", raw[:200]
    if "method" in message:
        assert message["method"] in NOTIFICATIONS and "id" not in message, raw[:200]
        assert isinstance(message.get("params"), dict), raw[:200]
    else:
        assert set(message) in ({"jsonrpc", "id", "result"}, {"jsonrpc", "id", "error"}), raw[:200]
        if "error" in message:
            err = message["error"]
            assert isinstance(err.get("code"), int) and isinstance(err.get("message"), str), raw[:200]
    return message


class Expected:
    __slots__ = ("case", "line", "answers", "id", "bucket", "codes")

    def __init__(self, case: Case, line: bytes, id_value: Any) -> None:
        self.case, self.line, self.id, self.answers = case, line, id_value, []


class Fuzzer:
    def __init__(self, sidecar, paths: dict) -> None:
        self.sc = sidecar
        self.paths = paths  # BAD_PATHS placeholder -> real path
        self._ids = itertools.count(1)
        self._barriers = itertools.count(1)
        self.expected: dict = {}  # id key -> Expected
        self.scanned = 0  # messages already routed to their Expected
        self.lines_sent = 0
        self.stats = collections.Counter()
        self.orjson_rejected = collections.Counter()  # generator thought valid, orjson said no
        self.unsolicited: list = []  # answers whose id was never sent
        self.lines_checked = 0

    # ---- building lines ---------------------------------------------------------------------------
    def _new_id(self, kind: str) -> Any:
        n = next(self._ids)
        return {"int": 10 ** 9 + n, "str": f"fz-{n}", "float": 10 ** 9 + n + 0.5, "neg": -(10 ** 9 + n),
                "u64": 2 ** 64 - 1 - n, "null": None}[kind]

    def _place_paths(self, body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("params"), dict):
            path = body["params"].get("path")
            if isinstance(path, str) and path in self.paths:
                body = {**body, "params": {**body["params"], "path": self.paths[path]}}
        return body

    def build(self, case: Case) -> list:
        """The lines for ``case``, each with the Expected that will judge its answer (None: unmatched)."""
        id_value = self._new_id(case.id_kind) if case.id_kind else None
        if case.raw is not None:
            line = case.raw
            if case.id_kind:
                head, _, tail = line.rpartition(b"ID")
                line = head + json.dumps(id_value).encode() + tail
        else:
            body = self._place_paths(case.body)
            if case.id_kind and isinstance(body, dict):
                body = {**body, "id": id_value}
            line = encode(body, case.ensure_ascii)
        expected = Expected(case, line, id_value)
        expected.bucket, expected.codes = self.outcome(case, line)
        if expected.bucket in ("id", "id_or_null"):
            self.expected[id_key(id_value)] = expected
        return [(line, expected)] * case.copies

    def outcome(self, case: Case, line: bytes) -> tuple:
        """(bucket, codes): bucket is id | id_or_null | null | none, after the parse oracle."""
        stripped = line.strip()
        if not stripped:
            return "none", ()
        try:
            value = parse_line(stripped)  # the sidecar's own parser: orjson, then the stdlib for huge numbers
        except ValueError:
            if case.expect in ("id", "none"):
                self.orjson_rejected[case.label] += 1
            return "null", (-32700,)
        if case.expect == "oracle" or (case.expect == "null" and not isinstance(value, dict)):
            return "null", (-32600,)  # random bytes that happen to parse are never a valid request
        return case.expect, case.codes

    # ---- sending and judging ----------------------------------------------------------------------
    def track(self, id_value: Any, label: str, codes: tuple = (OK,)) -> None:
        """Expect one answer to a request sent outside run_chunk."""
        e = Expected(Case(label, expect="id", codes=codes), b"", id_value)
        e.bucket, e.codes = "id", codes
        self.expected[id_key(id_value)] = e

    def _route(self) -> None:
        """Give each new response to its Expected (caller holds the client's condition)."""
        messages = self.sc.messages
        while self.scanned < len(messages):
            m = messages[self.scanned]
            self.scanned += 1
            if "method" in m or "__unparsable__" in m or m.get("id") is None:
                continue
            e = self.expected.get(id_key(m["id"]))
            if e is not None:
                e.answers.append(m)
            elif not str(m["id"]).startswith("barrier-"):
                self.unsolicited.append(m)

    def _wait(self, done, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self.sc._cond:
            while True:
                self._route()
                if done():
                    return
                if self.sc.proc.poll() is not None:
                    raise AssertionError(f"the sidecar died ({self.sc.proc.returncode}) waiting for {what}; "
                                         f"stderr tail: {''.join(self.sc.stderr_lines[-20:])}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} within {timeout} s")
                self.sc._cond.wait(min(left, 0.2))

    def _index_of_response(self, id_value: str) -> int:
        for i in range(len(self.sc.messages) - 1, -1, -1):
            if self.sc.messages[i].get("id") == id_value and "method" not in self.sc.messages[i]:
                return i
        return -1

    def run_chunk(self, cases: list, timeout: float = 90.0) -> None:
        plan = [item for case in cases for item in self.build(case)]
        with self.sc._cond:
            start = len(self.sc.messages)
        barrier = f"barrier-{next(self._barriers)}"
        payload = b"".join(line + b"\n" for line, _ in plan)
        self.sc.send_raw(payload + encode({"jsonrpc": "2.0", "method": "ping", "id": barrier}) + b"\n")
        self.lines_sent += len(plan)
        self.stats.update(e.bucket for _, e in plan)
        self._wait(lambda: self._index_of_response(barrier) >= 0, timeout, f"the {barrier} answer")
        with self.sc._cond:
            window = self.sc.messages[start:self._index_of_response(barrier)]
        nulls = [m for m in window if "method" not in m and "id" in m and m["id"] is None]
        self._check_nulls(plan, nulls)
        unique = {id(e): e for _, e in plan if e.bucket == "id"}.values()
        self._wait(lambda: all(len(e.answers) >= e.case.copies for e in unique), timeout, "the chunk's answers")
        for _, e in plan:
            if e.bucket == "id" or (e.bucket == "id_or_null" and e.answers):
                self._check_answers(e)
        self._check_lines()

    def _check_nulls(self, plan: list, nulls: list) -> None:
        definite = collections.Counter(e.codes[0] for _, e in plan if e.bucket == "null")
        flexible = [e for _, e in plan if e.bucket == "id_or_null" and not e.answers]
        self.stats["id_or_null answered with a null id"] += len(flexible)
        seen = collections.Counter(answer_code(m) for m in nulls)
        extra = seen - definite
        missing = definite - seen
        ok = not missing and sum(extra.values()) == len(flexible) and all(
            code in e.case.null_codes for e in flexible for code in extra)
        assert ok, (f"null-id answers {dict(seen)} but the chunk expects {dict(definite)} plus "
                    f"{len(flexible)} unanswered deep-nesting line(s); lines:\n" + self._describe(plan))

    def _check_answers(self, e: Expected) -> None:
        case = e.case
        codes = [answer_code(m) for m in e.answers]
        assert len(e.answers) == case.copies, f"{len(e.answers)} answers to {e.line[:300]!r} ({case.label}): {codes}"
        for m in e.answers:
            code = answer_code(m)
            assert code in e.codes, f"{case.label}: got {m} to {e.line[:300]!r}, expected one of {e.codes}"
            if code == -32602 and case.param is not None:
                assert m["error"]["data"]["param"] == case.param, f"{case.label}: {m}"
            if isinstance(code, int) and -32099 <= code <= -32000:
                assert m["error"]["data"]["kind"], m

    def _check_lines(self) -> None:
        while self.lines_checked < len(self.sc.raw_lines):
            check_protocol_line(self.sc.raw_lines[self.lines_checked])
            self.lines_checked += 1

    @staticmethod
    def _describe(plan: list) -> str:
        return "\n".join(f"  {e.bucket:10} {e.case.label}: {line[:160]!r}" for line, e in plan)

    def finish(self, quiet_s: float = 1.0) -> None:
        """After the last chunk: nothing answered twice, nothing unsolicited, every line protocol."""
        time.sleep(quiet_s)
        with self.sc._cond:
            self._route()
        for e in self.expected.values():
            if e.bucket == "id":
                assert len(e.answers) == e.case.copies, (e.case.label, e.line[:200], e.answers)
            else:
                assert len(e.answers) <= 1, (e.case.label, e.answers)
        assert not self.unsolicited, self.unsolicited[:5]
        self._check_lines()
