"""``python -m bench [all|SECTION...] [--quick] [--repeat N] [--long-repeat N]``: run the benchmarks,
print markdown tables, write JSON to bench/results/."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from . import machine
from .context import Context
from .report import machine_lines
from .sections import SECTIONS

log = logging.getLogger("bench")


def parse(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("sections", nargs="*", default=["all"], metavar="SECTION",
                        help=f"all (default) or any of: {', '.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 repeat, a 1-minute 'long' file, fewer settings (figures not meaningful)")
    parser.add_argument("--repeat", type=int, help="runs per short clip and side (default: per section, 2-5)")
    parser.add_argument("--long-repeat", type=int, help="runs of the long file per side (default: 1-2)")
    parser.add_argument("--sidecar-env", action="append", default=[], metavar="KEY=VALUE",
                        help="environment for every sidecar the benchmark starts (repeatable), "
                             "e.g. OMP_WAIT_POLICY=PASSIVE")
    parser.add_argument("--whisper-streaming", type=Path, metavar="DIR",
                        help="a copy of github.com/ufal/whisper_streaming (never committed here): the live "
                             "section runs its simulation beside ours (default: $WHISPER_STREAMING_DIR)")
    parser.add_argument("--out", type=Path, default=Context.out, help="results folder (default bench/results)")
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="only rewrite the markdown of a saved run (latest.json) next to it, and print it")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    names = list(SECTIONS) if "all" in args.sections else args.sections
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from all, {', '.join(SECTIONS)}")
    for flag in ("repeat", "long_repeat"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1, got {getattr(args, flag)}")
    args.env = {}
    for item in args.sidecar_env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--sidecar-env expects KEY=VALUE, got {item!r}")
        args.env[key] = value
    args.names = names
    return args


def main(argv=None) -> int:
    args = parse(argv)
    if args.render:
        doc = json.loads(args.render.read_text(encoding="utf-8"))
        text = markdown_document(doc)
        args.render.with_suffix(".md").write_text(text, encoding="utf-8")
        print(text)
        return 0
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not args.verbose:  # faster-whisper logs every file it processes
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    ctx = Context(quick=args.quick, repeat=args.repeat, long_repeat=args.long_repeat, out=args.out,
                  sidecar_env=args.env, peer_dir=args.whisper_streaming)
    ctx.out.mkdir(parents=True, exist_ok=True)
    info = machine.describe()
    info["gpu"] = machine.gpu()
    info["sidecar_env"] = args.env
    started = time.time()
    results, failed = {}, []
    for name in args.names:
        section = SECTIONS[name]
        log.info("== %s", section.TITLE)
        t0 = time.monotonic()
        try:
            result = section.run(ctx)
        except Exception as e:  # one broken section must not lose the others' figures
            log.exception("section %s failed", name)
            failed.append(name)
            result = {"error": f"{type(e).__name__}: {e}"}
        result["elapsed_s"] = round(time.monotonic() - t0, 1)
        results[name] = result
        text = render(name, result)
        print(text + "\n", flush=True)
        write_json(ctx.out / f"{name}.json", {"machine": info, "quick": args.quick, "result": result})
    info["load_average_at_end"] = machine.load_average()
    doc = {"machine": info, "quick": args.quick, "started": time.strftime("%Y-%m-%d %H:%M:%S %z",
           time.localtime(started)), "elapsed_s": round(time.time() - started, 1),
           "files": {n: ctx._cache[k].to_dict() for n, k in (("long", "long"), ("medium", "medium"))
                     if k in ctx._cache}, "sections": results}
    stem = "latest" if args.names == list(SECTIONS) else "last-" + "-".join(args.names)
    if args.quick:
        stem += "-quick"
    write_json(ctx.out / f"{stem}.json", doc)
    (ctx.out / f"{stem}.md").write_text(markdown_document(doc), encoding="utf-8")
    log.info("wrote %s and %s.md (%.0f s)", ctx.out / f"{stem}.json", ctx.out / stem, doc["elapsed_s"])
    return 1 if failed else 0


def render(name: str, result: dict) -> str:
    section = SECTIONS[name]
    body = f"Failed: {result['error']}" if "error" in result else section.markdown(result)
    return f"### {section.TITLE}\n\n{body}"


def markdown_document(doc: dict) -> str:
    head = [f"# Benchmark results{' (quick smoke run: figures not meaningful)' if doc['quick'] else ''}", "",
            f"Run {doc['started']}, {doc['elapsed_s'] / 60:.1f} minutes, with `python -m bench "
            f"{' '.join(doc['sections'])}{' --quick' if doc['quick'] else ''}`.", "", machine_lines(doc["machine"])]
    if doc.get("files"):
        head += [""] + [f"- {name} file: {f['duration']:.0f} s, made from the fixtures" for name, f in doc["files"].items()]
    parts = ["\n".join(head)] + [render(n, r) for n, r in doc["sections"].items()]
    return "\n\n".join(parts) + "\n"


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
