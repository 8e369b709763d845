"""The command line uses the same engine: a transcript on stdout, progress on stderr."""

import json
import subprocess
import sys

from client import AUDIO, ROOT, fixture_text, wer


def run(args, env_extra, timeout=180):
    import os

    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "sidecar", *args], capture_output=True, text=True,
                          env=env, cwd=str(ROOT), timeout=timeout)


def test_transcribe_prints_a_transcript(sidecar_env):
    p = run(["transcribe", str(AUDIO / "numbers.flac")], sidecar_env)
    assert p.returncode == 0, p.stderr
    assert wer(fixture_text("numbers"), p.stdout) <= 0.15
    assert "Transcription complete!" in p.stderr


def test_transcribe_srt_and_vtt(sidecar_env):
    srt = run(["transcribe", str(AUDIO / "hello.flac"), "--format", "srt"], sidecar_env)
    assert srt.stdout.startswith("1\n00:00:00,000 --> ")
    vtt = run(["transcribe", str(AUDIO / "hello.flac"), "--format", "vtt"], sidecar_env)
    assert vtt.stdout.startswith("WEBVTT\n\n00:00:00.000 --> ")


def test_transcribe_missing_file_exits_nonzero_with_a_message(sidecar_env):
    p = run(["transcribe", "/no/such/file.wav"], sidecar_env)
    assert p.returncode == 2
    assert "File not found: /no/such/file.wav" in p.stderr
    assert p.stdout == ""


def test_gpu_status_prints_json(sidecar_env):
    p = run(["gpu-status"], sidecar_env)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["device"] in ("cpu", "cuda")
    assert "libraries" in report and "fallback_reason" in report
