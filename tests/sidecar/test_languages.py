"""The relay's language list (relay/requests/languages.js), which every relay entry point checks a request's
language against, is the sidecar's own (faster-whisper's codes, which sidecar/params.py accepts)."""

import json
import shutil
import subprocess

import pytest

from client import ROOT


def test_the_relay_knows_exactly_the_languages_the_sidecar_knows():
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    from sidecar.params import _languages

    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed: the relay is a Node program")
    out = subprocess.run([node, "-e", "console.log(JSON.stringify(Object.keys(require('./relay/requests/languages').LANGUAGES)))"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout
    assert set(json.loads(out)) == set(_LANGUAGE_CODES) == _languages()
