"""README.md's protocol tables (Methods, Notifications, Errors) against the schema files in
sidecar/protocol/: a param, result key, notification field or error kind that one has and the other
lacks fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sidecar import protocol

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> list:
    """The rows of the first table under the heading ``title``, as lists of cells."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{title}\n")
    rows = []
    for line in text[start + 1:].splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not line.startswith("| ---"):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows[1:]  # without the header


def _top_level_keys(cell: str) -> set:
    """The keys of the first ``{...}`` in a cell, top level only: ``{a, b?: x, c: {d}}`` -> {a, b, c}."""
    start = cell.index("{")
    depth, item, items = 0, "", []
    for ch in cell[start:]:
        if ch in "{[":
            depth += 1
            if depth == 1:
                continue
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                items.append(item)
                break
        if depth == 1 and ch == ",":
            items.append(item)
            item = ""
        elif depth >= 1:
            item += ch
    return {re.match(r"\s*([A-Za-z_]\w*)", i).group(1) for i in items if i.strip()}


def _methods() -> dict:
    return {re.search(r"`(\w+)`", row[0]).group(1): row for row in _section("### Methods")}


def test_the_readme_lists_every_method_and_no_other():
    assert set(_methods()) == set(protocol.methods())


@pytest.mark.parametrize("method", protocol.methods())
def test_a_methods_params_in_the_readme_are_the_schemas(method):
    cell = _methods()[method][1]
    listed = set() if cell in ("–", "-") else _top_level_keys(cell)
    assert listed == set(protocol.params_schema(method)["properties"]), cell


@pytest.mark.parametrize("method", protocol.methods())
def test_a_methods_result_in_the_readme_is_the_schemas(method):
    cell = _methods()[method][2]
    listed = _top_level_keys(cell)
    if "`transcribe`'s result plus" in cell:
        listed |= _top_level_keys(_methods()["transcribe"][2])
    assert listed == set(protocol.result_schema(method)["properties"]), cell


def test_the_notifications_in_the_readme_are_the_schemas():
    listed: dict = {}
    for row in _section("### Notifications (sidecar → client)"):
        name = re.search(r"`(\w+)`", row[0]).group(1)
        keys = listed.setdefault(name, set())
        for match in re.finditer(r"`(\{[^`]*\})`", row[1]):
            keys |= _top_level_keys(match.group(1))
    assert set(listed) == set(protocol.notifications())
    for name, keys in listed.items():
        schema = protocol.load(f"notifications/{name}.json")
        declared = set()
        for variant in schema.get("oneOf", [schema]):
            declared |= set(variant["properties"])
        assert keys == declared, name


def test_the_error_table_in_the_readme_is_errors_json():
    rows = {int(row[0]): row[1] for row in _section("### Errors")}
    declared = protocol.errors()
    assert set(declared["codes"].values()) <= set(rows)
    for kind, k in declared["kinds"].items():
        if -32099 <= k["code"] <= -32000:
            assert rows.get(k["code"], "").startswith(f"`{kind}`"), (kind, k["code"])
    app_codes = {code for code in rows if -32099 <= code <= -32000}
    assert app_codes == {k["code"] for k in declared["kinds"].values() if -32099 <= k["code"] <= -32000}
