"""Real ELF libraries built with cc, loaded by configure() in a fresh subprocess.

The libraries carry real sonames and NEEDED entries and no rpath, like the wheels'
cross-folder dependencies: they only load when the loader order is right.
"""

from __future__ import annotations

import json
import os

import pytest

from cudafakes import (build_cublas, build_cudnn9, build_driver_stub, build_so, cu_dir, lib_dir,
                       needs_cc, run_python)

pytestmark = needs_cc

CONSUMER = """
    #include <dlfcn.h>
    /* Like ctranslate2: cuBLAS is dlopen'ed by name at the first encode. */
    int encode(void) {
        void *h = dlopen("libcublas.so.12", RTLD_NOW);
        if (!h) return -1;
        int (*version)(void) = (int (*)(void)) dlsym(h, "cublasGetVersion_v2");
        return version ? version() : -2;
    }
"""

PROBE = """
    import ctypes, json, logging, sys
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    consumer = ctypes.CDLL(sys.argv[1] if len(sys.argv) > 1 else {consumer!r})
    before = consumer.encode()
    from sidecar.cuda import paths
    from sidecar.cuda.search import SearchContext
    report = {make_report}
    after = consumer.encode()
    maps = sorted({{line.split()[-1] for line in open("/proc/self/maps") if ".so" in line}})
    print(json.dumps({{"before": before, "after": after, "report": report.to_dict(), "maps": maps}}))
"""


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """cuBLAS 12 (and a CUDA 13 cuBLAS) in a user site, cuDNN 9 in a system site."""
    root = tmp_path_factory.mktemp("elf")
    user, system = root / "user-site", root / "system-site"
    stub = build_driver_stub(root / "link-only")
    cublas = build_cublas(lib_dir(user, "linux", "cublas"), 12)
    cublas13 = build_cublas(cu_dir(user, "linux", 13), 13)
    cudnn = build_cudnn9(lib_dir(system, "linux", "cudnn"), stub)
    os.remove(stub)  # the driver exists at link time only, as on a build machine
    consumer = build_so(root / "app", "libfakect2.so", CONSUMER, needed=[])
    return {"user": user, "system": system, "cublas": cublas, "cublas13": cublas13,
            "cudnn": cudnn, "consumer": consumer}


def run_probe(layout, make_report="paths.configure()", pythonpath=None):
    code = PROBE.format(consumer=str(layout["consumer"]), make_report=make_report)
    path = pythonpath or [layout["user"], layout["system"]]
    result = run_python(code, {"PYTHONPATH": os.pathsep.join(map(str, path))})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_configure_preloads_so_a_later_dlopen_by_name_finds_cublas(layout):
    out, stderr = run_probe(layout)
    assert out["before"] == -1  # nothing to find before configure()
    assert out["after"] == 120 + 12  # cublasGetVersion_v2 through cublasLt
    report = out["report"]
    assert report["paths_configured"] is True, report["reason"]
    cublas = report["libraries"]["cublas"]
    assert cublas["dir"] == str(layout["cublas"]["cublas"].parent) and cublas["loaded"]
    assert cublas["files"] == ["libcublasLt.so.12", "libcublas.so.12"]
    assert "GPU library paths configured (2 paths)" in stderr


def test_cuda_13_beside_12_is_never_mapped(layout):
    out, _ = run_probe(layout)
    mapped = [os.path.basename(p) for p in out["maps"]]
    assert "libcublas.so.12" in mapped and "libcublasLt.so.12" in mapped
    assert not any(name.endswith(".so.13") for name in mapped)


def test_cudnn_is_found_in_the_other_site_and_loaded(layout):
    out, _ = run_probe(layout)
    cudnn = out["report"]["libraries"]["cudnn"]
    assert cudnn["dir"] == str(layout["cudnn"]["front"].parent)
    assert cudnn["loaded"] is True and cudnn["required"] is False  # the installed 4.8.5
    rtc = "libcudnn_engines_runtime_compiled.so.9"
    assert rtc in cudnn["files"] and "needs the NVIDIA driver" in cudnn["not_loaded"][rtc]
    mapped = {os.path.basename(p) for p in out["maps"]}
    expected = {n for n in cudnn["files"] if n != rtc}
    assert expected <= mapped and rtc not in mapped


def test_cudnn_required_by_ctranslate2_4_5(layout):
    out, _ = run_probe(layout, make_report="paths.build_report(SearchContext.current(), '4.5.0')")
    report = out["report"]
    assert report["paths_configured"] is True and report["libraries"]["cudnn"]["required"] is True


def test_cudnn_required_but_absent(layout):
    out, _ = run_probe(layout, make_report="paths.build_report(SearchContext.current(), '4.5.0')",
                       pythonpath=[layout["user"]])
    report = out["report"]
    assert report["paths_configured"] is False
    assert "cuDNN 9" in report["reason"] and out["after"] == 132  # cuBLAS still loaded


def test_wrong_order_fails_which_is_why_order_matters(layout):
    code = f"""
        import ctypes
        try:
            ctypes.CDLL({str(layout['cublas']['cublas'])!r}, mode=ctypes.RTLD_GLOBAL)
        except OSError as e:
            print("failed:", e)
    """
    result = run_python(code)
    assert "failed:" in result.stdout and "libcublasLt.so.12" in result.stdout


def test_a_library_that_does_not_load_is_named_in_the_reason(tmp_path):
    site = tmp_path / "site"
    folder = lib_dir(site, "linux", "cublas")
    build_cublas(folder)
    (folder / "libcublas.so.12").write_bytes(b"this is not an ELF file")
    code = """
        import json
        from sidecar.cuda import paths
        print(json.dumps(paths.configure().to_dict()))
    """
    result = run_python(code, {"PYTHONPATH": str(site)})
    report = json.loads(result.stdout)
    assert report["paths_configured"] is False
    assert report["libraries"]["cublas"]["loaded"] is False
    assert "libcublas.so.12" in report["reason"] and "did not load" in report["reason"]
