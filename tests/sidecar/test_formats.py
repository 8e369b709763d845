from sidecar.engine.formats import to_srt, to_txt, to_vtt

RESULT = {"text": " Hello there. General Kenobi.", "segments": [
    {"id": 1, "start": 0.0, "end": 1.5, "text": " Hello there."},
    {"id": 2, "start": 3661.25, "end": 3662.0, "text": " General Kenobi."},
]}


def test_txt():
    assert to_txt(RESULT) == "Hello there. General Kenobi.\n"


def test_srt_numbers_blocks_and_uses_commas():
    assert to_srt(RESULT) == ("1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n"
                              "2\n01:01:01,250 --> 01:01:02,000\nGeneral Kenobi.\n")


def test_vtt_header_and_dots():
    out = to_vtt(RESULT)
    assert out.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n")
    assert "01:01:01.250 --> 01:01:02.000" in out
