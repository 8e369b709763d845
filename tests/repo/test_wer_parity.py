"""bench/wer.py and its Node port bench/wer.js give the same words, WER and recall on the same inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.wer import wer, word_recall, words  # noqa: E402

AUDIO = ROOT / "tests" / "fixtures" / "audio"
_FIXTURES = {p.stem: p.read_text(encoding="utf-8") for p in sorted(AUDIO.glob("*.txt"))}

# [reference, hypothesis]: digits, punctuation, case, contractions, quotes, Unicode, edge cases.
PAIRS = [
    ["Hello world. This is a test of the speech recognition system.",
     " Hello, world! This is a test of the speech-recognition system."],
    ["Please call me back at the office before five o'clock.", "please call me back at the office before 5 o'clock"],
    ["Please call me back at the office before five o'clock.", "Please call me back at the office before 5 O\u2019Clock."],
    ["I have 10 apples and 2 pears", "I have ten apples and two pears"],
    ["Room 11 on floor 0", "room eleven on floor zero"],
    ["It's 3:45 in 2024, 100% sure", "its 3 45 in 2024 100 sure"],
    ["Don't stop, won't stop; we're here.", "dont stop wont stop were here"],
    ["Don't stop, won't stop; we're here.", "Don\u2019t stop \u2014 won\u2019t stop, we\u2019re here\u2026"],
    ["'Quoted' words and ''double'' quotes", "quoted words and double quotes"],
    ["state-of-the-art", "state of the art"],
    ["THE QUICK BROWN FOX", "the quick brown fox"],
    ["Café naïve résumé", "cafe naive resume"],
    ["\u0130stanbul \u212aelvin straße \u03a3\u039f\u03a3", "istanbul kelvin strasse sos"],
    ["tabs\tand\nnewlines\r\nand  spaces", "tabs and newlines and spaces"],
    ["constructor __proto__ toString hasOwnProperty", "constructor proto tostring hasownproperty"],
    ["1 2 3 4 5 6 7 8 9 10 11", "one two three four five six seven eight nine ten eleven"],
    ["", ""],
    ["", "extra words here"],
    ["some words", ""],
    ["'''", "' ' '"],
    ["a b c d e", "e d c b a"],
    ["repeat repeat repeat", "repeat"],
    ["Hello world", "Hello world hello world hello world"],
    ["emoji \U0001F600 here", "emoji here"],
]
PAIRS += [[text, text.upper()] for text in _FIXTURES.values()]
PAIRS += [[a, b] for a in _FIXTURES.values() for b in _FIXTURES.values() if a != b]


def run_node(pairs):
    node = shutil.which("node")
    assert node, "node is not on PATH: the parity test needs it (npm test always has it)"
    script = ("const w = require(process.argv[1]); let s = ''; process.stdin.on('data', (c) => { s += c; });"
              "process.stdin.on('end', () => process.stdout.write(JSON.stringify(JSON.parse(s).map(([r, h]) => ("
              "{words_reference: w.words(r), words_hypothesis: w.words(h), wer: w.wordErrorRate(r, h),"
              " recall: w.wordRecall(h, r)})))));")
    out = subprocess.run([node, "-e", script, str(ROOT / "bench" / "wer.js")], input=json.dumps(pairs),
                         capture_output=True, text=True, encoding="utf-8", timeout=60, check=True)
    return json.loads(out.stdout)


def run_python_cli(pairs):
    out = subprocess.run([sys.executable, "-m", "bench.wer"], input=json.dumps(pairs), cwd=str(ROOT),
                         capture_output=True, text=True, encoding="utf-8", timeout=60, check=True)
    return json.loads(out.stdout)


def test_node_port_matches_python_on_every_input():
    python = [{"words_reference": words(r), "words_hypothesis": words(h), "wer": wer(r, h),
               "recall": word_recall(h, r)} for r, h in PAIRS]
    node = run_node(PAIRS)
    assert len(node) == len(PAIRS)
    for pair, p, n in zip(PAIRS, python, node):
        assert n == p, pair  # exact: the same words, the same floats


def test_python_cli_answers_the_same_as_the_module():
    assert run_python_cli(PAIRS[:5]) == run_node(PAIRS[:5])


@pytest.mark.parametrize("reference,hypothesis,expected", [
    ("Please call me back at five o'clock.", "please call me back at 5 O\u2019clock", 0.0),
    ("Don't stop", "dont stop", 0.5),  # the apostrophe is kept inside a word: one substitution in two
    ("a b c d", "a x c", 0.5),
    ("", "two words", 2.0),
])
def test_known_values(reference, hypothesis, expected):
    assert wer(reference, hypothesis) == expected
    assert run_node([[reference, hypothesis]])[0]["wer"] == expected


def test_normalization_examples():
    assert words("\u2018Hello,\u2019 World! It's 5 o'clock.") == ["hello", "world", "it's", "five", "oclock"]
    assert words("constructor 11") == ["constructor", "11"]
    assert word_recall("hello there", "Hello, world") == 0.5
    assert word_recall("anything", "") == 1.0
