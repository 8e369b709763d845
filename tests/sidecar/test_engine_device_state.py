"""The engine's device state: one probe at a time, and the one cache folder passed down to it."""

import threading
import time
from pathlib import Path

from sidecar.config import Config
from sidecar.cuda.verify import ProbeRun
from sidecar.engine import Engine
from sidecar.engine.gpu import Gpu


def counting_gpu(folder, runs, seconds=0.5):
    lock = threading.Lock()

    def runner(argv, timeout_s, env):
        with lock:
            runs.append(list(argv))
        time.sleep(seconds)
        return ProbeRun(0, False, "", seconds)

    return Gpu(Path(folder), ("fake-probe",), count=lambda: 1, runner=runner)


def test_concurrent_rechecks_start_one_probe(cache_dir, tmp_path):
    runs = []
    config = Config(cache_dir=Path(cache_dir), model="base", preload=False)
    engine = Engine(config, lambda m, p: None, gpu=counting_gpu(tmp_path, runs))
    assert engine.start().result(60).device == "cuda"
    assert len(runs) == 1
    first, second = engine.recheck(), engine.recheck()
    assert first is second  # the second shares the probe the first started
    assert first.result(60).verification["cached"] is False
    assert len(runs) == 2 and engine.decided()


def test_a_recheck_during_the_first_setup_runs_after_it(cache_dir, tmp_path):
    runs = []
    config = Config(cache_dir=Path(cache_dir), model="base", preload=False)
    engine = Engine(config, lambda m, p: None, gpu=counting_gpu(tmp_path, runs))
    started = engine.start()
    rechecked = engine.recheck()
    assert rechecked is not started and engine.settled() is rechecked
    assert rechecked.result(60).verification["cached"] is False
    assert started.done() and len(runs) == 2


def test_the_gpu_verdict_goes_to_the_configured_cache_folder():
    config = Config.from_env({"WHISPER_CACHE_DIR": "~/x"})
    assert config.cache_dir == Path.home() / "x"
    assert Gpu.from_config(config).cache_folder == config.cache_dir


def test_a_small_machine_decodes_with_one_thread_unless_told_otherwise(monkeypatch):
    """On 2 CPUs two CTranslate2 threads made each decode about twice as slow as one (bench/RESULTS.md)."""
    from sidecar import config as config_module

    assert [config_module.default_cpu_threads(n) for n in (1, 2, 3, 16)] == [1, 1, 0, 0]
    monkeypatch.setattr(config_module, "cpu_count", lambda: 2)
    assert Config.from_env({}).cpu_threads == 1
    assert Config.from_env({"WHISPER_CPU_THREADS": "0"}).cpu_threads == 0, "0 still asks for CTranslate2's default"
    assert Config.from_env({"WHISPER_CPU_THREADS": "3"}).cpu_threads == 3
    # one decode per CPU on such a machine: with one decoder, three live streams fell behind
    assert Config.from_env({}).live_decoders == 2
    assert Config.from_env({"WHISPER_CPU_THREADS": "0"}).live_decoders == 1, "threads of their own: one decoder"
    assert Config.from_env({"WHISPER_LIVE_DECODERS": "1"}).live_decoders == 1
    monkeypatch.setattr(config_module, "cpu_count", lambda: 1)
    assert Config.from_env({}).live_decoders == 1
    monkeypatch.setattr(config_module, "cpu_count", lambda: 8)
    assert Config.from_env({}).cpu_threads == 0
    assert Config.from_env({}).live_decoders == 1 and Config.from_env({"WHISPER_LIVE_DECODERS": "2"}).live_decoders == 2
