"""The protocol, declared once: JSON Schema files (draft 2020-12) next to this module.

``methods/<name>.json`` holds a method's ``$defs.params`` and ``$defs.result``,
``notifications/<name>.json`` a notification's params, ``common.json`` the shared pieces and
``errors.json`` the codes and ``data.kind`` values. The sidecar validates params from them
(:mod:`sidecar.params`), the relay reads its option limits and its error → HTTP status mapping from
them, and the tests check ``node_bridge/index.d.ts``, the README and real answers against them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Tuple

HERE = Path(__file__).resolve().parent
# A base URI only so that relative $refs ("../common.json#/$defs/model") resolve; nothing is fetched.
BASE_URI = "https://whisper-sidecar.invalid/protocol/"


def files() -> Dict[str, Path]:
    """Every schema file by its path relative to this folder, e.g. 'methods/transcribe.json'."""
    return {p.relative_to(HERE).as_posix(): p for p in sorted(HERE.rglob("*.json"))}


@lru_cache(maxsize=None)
def load(relative: str) -> dict:
    """The parsed schema file, e.g. load('methods/transcribe.json')."""
    with open(HERE / relative, encoding="utf-8") as f:
        return json.load(f)


def methods() -> Tuple[str, ...]:
    return tuple(sorted(p.stem for p in (HERE / "methods").glob("*.json")))


def notifications() -> Tuple[str, ...]:
    return tuple(sorted(p.stem for p in (HERE / "notifications").glob("*.json")))


def params_schema(method: str) -> dict:
    return load(f"methods/{method}.json")["$defs"]["params"]


def result_schema(method: str) -> dict:
    return load(f"methods/{method}.json")["$defs"]["result"]


def errors() -> dict:
    return load("errors.json")


def _is_int(checker: Any, value: Any) -> bool:
    # JSON Schema counts 5.0 as an integer; the sidecar's params never did (and bools are not numbers).
    return isinstance(value, int) and not isinstance(value, bool)


@lru_cache(maxsize=None)
def _registry():
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    return Registry().with_resources(
        (BASE_URI + name, Resource.from_contents(load(name), default_specification=DRAFT202012))
        for name in files()
    )


@lru_cache(maxsize=None)
def _validator_class():
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_int)
    return validators.extend(Draft202012Validator, type_checker=checker)


@lru_cache(maxsize=None)
def validator(relative: str, pointer: str = ""):
    """A jsonschema validator for the schema at ``relative`` (a file) and ``pointer`` inside it,
    e.g. validator('methods/transcribe.json', '/$defs/params')."""
    cls = _validator_class()
    return cls({"$ref": f"{BASE_URI}{relative}#{pointer}"}, registry=_registry())


@lru_cache(maxsize=None)
def params_validator(method: str):
    return validator(f"methods/{method}.json", "/$defs/params")


@lru_cache(maxsize=None)
def result_validator(method: str):
    return validator(f"methods/{method}.json", "/$defs/result")


@lru_cache(maxsize=None)
def notification_validator(method: str):
    return validator(f"notifications/{method}.json")
