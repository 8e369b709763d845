"""list_models: the models a sidecar has without a download (the embedded one, complete hub models in its
cache folder, by hub id and short name), its default model, and the names it could download; through a
real sidecar process with a cache folder laid out as faster-whisper's hub cache."""

import os


def hub_model(cache, repo, complete=True, mtime=1_700_000_000):
    org, name = repo.split("/")
    snapshot = cache / "hub" / f"models--{org}--{name}" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / ("model.bin" if complete else "config.json")).write_bytes(b"x")
    os.utime(snapshot, (mtime, mtime))


def test_the_cache_folder_s_complete_hub_models_by_id_and_short_name(spawn, tmp_path):
    hub_model(tmp_path, "Systran/faster-whisper-small")
    hub_model(tmp_path, "Systran/faster-whisper-base")  # "base" stays the embedded model
    hub_model(tmp_path, "someone/half-downloaded", complete=False)
    sc = spawn(WHISPER_CACHE_DIR=str(tmp_path), WHISPER_PRELOAD="0", WHISPER_MODEL="small")
    sc.ready()
    result = sc.call("list_models", timeout=120)["result"]
    by_name = {m["name"]: m for m in result["models"]}
    assert by_name["base"] == {"name": "base", "repo": None, "source": "embedded", "created": 0}
    assert by_name["small"] == {"name": "small", "repo": "Systran/faster-whisper-small", "source": "hub-cache",
                                "created": 1_700_000_000}
    assert by_name["Systran/faster-whisper-small"]["repo"] == "Systran/faster-whisper-small"
    assert "Systran/faster-whisper-base" in by_name and [m["name"] for m in result["models"]].count("base") == 1
    assert "someone/half-downloaded" not in by_name
    assert result["default_model"] == "small"
    assert {"tiny", "large-v3", "turbo"} <= set(result["known"])


def test_a_default_model_that_is_a_folder_is_not_named(spawn, tmp_path):
    folder = tmp_path / "private-ct2"
    folder.mkdir()
    sc = spawn(WHISPER_CACHE_DIR=str(tmp_path / "cache"), WHISPER_PRELOAD="0", WHISPER_MODEL=str(folder))
    sc.ready()
    result = sc.call("list_models", timeout=120)["result"]
    assert result["default_model"] is None
    assert [m["name"] for m in result["models"]] == ["base"]
    assert sc.call("list_models", {"bogus": 1})["error"]["data"]["param"] == "bogus"
