"""Search and configure on fake layouts, for Linux and Windows alike (platform injected)."""

from __future__ import annotations

import os

from cudafakes import (FakeLoader, context, cu_dir, install_cublas, install_cudnn, lib_dir, names,
                       touch_all)
from sidecar.cuda.catalog import requirement_for, specs_for
from sidecar.cuda.paths import build_report, log_report
from sidecar.cuda.search import find_library


def report_for(ctx, ct2="4.8.5", loader=None, driver=False, added=None):
    return build_report(ctx, ct2, load_library=loader or FakeLoader(),
                        add_dll_directory=(added.append if added is not None else (lambda d: d)),
                        driver_present=lambda: driver)


def test_namespace_packages_split_over_user_and_system_site(tmp_path, platform):
    user, system = tmp_path / "user-site", tmp_path / "system-site"
    cublas_dir = install_cublas(user, platform)
    cudnn_dir = install_cudnn(system, platform)
    loader = FakeLoader()
    report = report_for(context(platform, site_dirs=[system, user]), loader=loader)
    assert report.paths_configured, report.reason
    assert report.cublas.dir == str(cublas_dir) and report.cublas.source == "site-packages"
    assert report.cudnn.dir == str(cudnn_dir) and report.cudnn.found
    assert report.cudnn.required is False  # ctranslate2 4.8.5
    assert report.configured_dirs == [str(cublas_dir), str(cudnn_dir)]
    # Dependency order: cublasLt before cublas, cuDNN graph first and the front library last.
    loaded = [os.path.basename(p) for p in loader.loaded]
    assert loaded[:2] == list(names(platform))
    cudnn_loaded = loaded[2:]
    assert "graph" in cudnn_loaded[0] and cudnn_loaded[-1] in ("libcudnn.so.9", "cudnn64_9.dll")
    assert report.to_dict()["libraries"]["cublas"]["files"] == list(names(platform))


def test_sys_path_step_comes_before_site_packages(tmp_path, platform):
    first, second = tmp_path / "venv", tmp_path / "site"
    install_cublas(first, platform)
    install_cublas(second, platform)
    report = report_for(context(platform, sys_path=[first], site_dirs=[second]))
    assert report.cublas.dir == str(lib_dir(first, platform, "cublas"))
    assert report.cublas.source == "sys.path"


def test_cu12_and_cu13_side_by_side_picks_12_and_never_loads_13(tmp_path, platform):
    site = tmp_path / "site"
    install_cublas(site, platform, major=13)
    cu12 = install_cublas(site, platform, major=12)
    loader = FakeLoader()
    report = report_for(context(platform, sys_path=[site]), loader=loader)
    assert report.paths_configured and report.cublas.dir == str(cu12)
    assert not any("13" in os.path.basename(p) for p in loader.loaded), loader.loaded
    assert str(cu_dir(site, platform, 13)) in report.searched


def test_only_cuda_13_libraries_gives_a_precise_reason(tmp_path, platform):
    site = tmp_path / "site"
    cu13 = install_cublas(site, platform, major=13)
    loader = FakeLoader()
    report = report_for(context(platform, sys_path=[site]), loader=loader)
    assert not report.paths_configured and loader.loaded == []
    assert "needs cuBLAS 12" in report.reason
    assert "other versions, which are never loaded" in report.reason
    assert str(cu13) in report.reason and names(platform, major=13)[-1] in report.reason


def test_cudnn_absent_and_not_required_is_configured(tmp_path, platform):
    site = tmp_path / "site"
    install_cublas(site, platform)
    report = report_for(context(platform, sys_path=[site]), ct2="4.6.3")
    assert report.paths_configured and report.reason is None
    assert report.cudnn.to_dict()["found"] is False and report.cudnn.required is False
    assert report.configured_dirs == [str(lib_dir(site, platform, "cublas"))]


def test_cudnn_required_and_absent_is_not_configured(tmp_path, platform):
    site = tmp_path / "site"
    install_cublas(site, platform)
    report = report_for(context(platform, sys_path=[site]), ct2="4.5.0")
    assert not report.paths_configured
    assert report.cudnn.required is True and report.cudnn.found is False
    assert report.cublas.loaded  # cuBLAS itself was fine
    assert "cuDNN 9" in report.reason and "not found" in report.reason
    assert str(tmp_path / "site" / "nvidia") in " ".join(report.searched)


def test_cuda_11_era_ctranslate2_needs_cublas_11_and_cudnn_8(tmp_path, platform):
    site = tmp_path / "site"
    install_cublas(site, platform)  # a 12, the wrong major
    report = report_for(context(platform, sys_path=[site]), ct2="3.24.0")
    assert report.cuda_major_needed == 11 and not report.paths_configured
    assert "needs cuBLAS 11 and cuDNN 8 (CUDA 11)" in report.reason


def test_nothing_installed(tmp_path, platform):
    report = report_for(context(platform, sys_path=[tmp_path], site_dirs=[tmp_path / "user"]))
    data = report.to_dict()
    assert data["paths_configured"] is False and data["cuda_major_needed"] == 12
    assert data["libraries"]["cublas"] == {
        "found": False, "dir": None, "files": [], "loaded": False, "error": None,
        "required": True, "source": None, "not_loaded": {}}
    assert str(tmp_path / "nvidia") in data["searched"]
    assert data["reason"].startswith("ctranslate2 4.8.5 needs cuBLAS 12 (CUDA 12): cuBLAS 12")


def test_ctranslate2_missing_or_unknown(tmp_path, platform):
    missing = report_for(context(platform), ct2=None)
    assert missing.reason == "ctranslate2 is not installed" and missing.cuda_major_needed is None
    unknown = report_for(context(platform), ct2="5.1.0")
    assert "no known CUDA requirement" in unknown.reason


def test_incomplete_folder_loses_to_a_complete_one(tmp_path, platform):
    broken, good = tmp_path / "broken", tmp_path / "good"
    folder = install_cublas(broken, platform)
    os.remove(folder / names(platform)[0])  # cublasLt gone
    install_cublas(good, platform)
    report = report_for(context(platform, sys_path=[broken, good]))
    assert report.cublas.dir == str(lib_dir(good, platform, "cublas"))


def test_incomplete_folder_alone_is_reported_with_what_is_missing(tmp_path, platform):
    folder = install_cublas(tmp_path, platform)
    os.remove(folder / names(platform)[0])
    report = report_for(context(platform, sys_path=[tmp_path]))
    assert report.cublas.found and not report.cublas.loaded and not report.paths_configured
    assert f"missing {names(platform)[0]}" in report.cublas.error
    assert "did not load" in report.reason


def test_environment_roots_in_order(tmp_path, platform):
    plat = context(platform).platform
    conda, cudnn_root, toolkit = tmp_path / "conda", tmp_path / "cudnn", tmp_path / "cuda"
    touch_all(tmp_path / plat.conda_dirs(str(conda))[0], names(platform))
    touch_all(tmp_path / plat.toolkit_dirs(str(toolkit))[0], names(platform))
    touch_all(tmp_path / plat.toolkit_dirs(str(cudnn_root))[0], names(platform, ct2="4.5.0", which="cudnn"))
    env = {"CONDA_PREFIX": str(conda), "CUDNN_PATH": str(cudnn_root), "CUDA_PATH": str(toolkit)}
    report = report_for(context(platform, env=env), ct2="4.5.0")
    assert report.paths_configured, report.reason
    assert report.cublas.source == "CONDA_PREFIX"
    assert report.cudnn.source == "CUDNN_PATH"


def test_cuda_home_and_system_search_path(tmp_path, platform):
    plat = context(platform).platform
    toolkit, on_path = tmp_path / "cuda", tmp_path / "on-path"
    touch_all(tmp_path / plat.toolkit_dirs(str(toolkit))[0], names(platform))
    path_var = "PATH" if platform == "windows" else "LD_LIBRARY_PATH"
    touch_all(on_path, names(platform, ct2="4.5.0", which="cudnn"))
    env = {"CUDA_HOME": str(toolkit), path_var: plat.PATHSEP.join(["", str(on_path)])}
    report = report_for(context(platform, env=env), ct2="4.5.0")
    assert report.cublas.source == "CUDA_HOME"
    assert report.cudnn.source == "system search path" and report.cudnn.dir == str(on_path)


def test_system_loader_cache(tmp_path):
    folder = touch_all(tmp_path / "usr-lib", names("linux"))[0].parent
    cache = {n: str(folder / n) for n in names("linux")}
    report = report_for(context("linux", loader_cache=cache))
    assert report.cublas.source == "system loader cache" and report.paths_configured


def test_cudnn_wheel_for_another_cuda_major_is_skipped(tmp_path):
    site = tmp_path / "site"
    install_cublas(site, "linux")
    install_cudnn(site, "linux")
    (site / "nvidia_cudnn_cu13-9.14.0.dist-info").mkdir()
    report = report_for(context("linux", sys_path=[site]), ct2="4.5.0")
    assert not report.cudnn.found and not report.paths_configured
    assert "nvidia_cudnn_cu13-9.14.0.dist-info, not nvidia_cudnn_cu12" in report.reason
    (site / "nvidia_cudnn_cu12-9.1.0.dist-info").mkdir()
    assert report_for(context("linux", sys_path=[site]), ct2="4.5.0").paths_configured


def test_newer_cudnn_sub_library_loads_before_the_front_library(tmp_path):
    site = tmp_path / "site"
    folder = install_cudnn(site, "linux")
    touch_all(folder, ["libcudnn_future.so.9"])
    spec = specs_for(requirement_for("4.5.0"))[1]
    finding = find_library(spec, context("linux", sys_path=[site]), 12)
    assert finding.files[-2:] == ["libcudnn_future.so.9", "libcudnn.so.9"]


def test_driver_needing_cudnn_engine_is_optional_without_a_driver(tmp_path, platform):
    site = tmp_path / "site"
    install_cublas(site, platform)
    install_cudnn(site, platform)
    rtc = [n for n in names(platform, ct2="4.5.0", which="cudnn") if "runtime_compiled" in n][0]
    report = report_for(context(platform, sys_path=[site]), ct2="4.5.0", loader=FakeLoader([rtc]))
    assert report.paths_configured and report.cudnn.loaded
    assert "needs the NVIDIA driver" in report.cudnn.not_loaded[rtc]
    # With a driver present the same failure is a real error.
    report = report_for(context(platform, sys_path=[site]), ct2="4.5.0", loader=FakeLoader([rtc]),
                        driver=True)
    assert not report.cudnn.loaded and rtc in report.cudnn.error and not report.paths_configured


def test_windows_adds_dll_directories_and_prepends_path(tmp_path):
    site = tmp_path / "site"
    install_cublas(site, "windows")
    install_cudnn(site, "windows")
    ctx = context("windows", sys_path=[site], env={"PATH": r"C:\Windows;" + str(lib_dir(site, "windows", "cudnn"))})
    added = []
    report = report_for(ctx, ct2="4.5.0", added=added)
    dirs = [str(lib_dir(site, "windows", "cublas")), str(lib_dir(site, "windows", "cudnn"))]
    assert added == dirs
    assert ctx.env["PATH"].split(";") == dirs + [r"C:\Windows"]
    assert report.paths_configured


def test_windows_stale_cuda_path_is_dropped(tmp_path):
    site = tmp_path / "site"
    install_cublas(site, "windows")
    old = tmp_path / "CUDA" / "v11.8"
    touch_all(old / "bin", ["cublas64_11.dll"])
    ctx = context("windows", sys_path=[site], env={"CUDA_PATH": str(old)})
    report = report_for(ctx)
    assert "CUDA_PATH" not in ctx.env
    assert any("stale CUDA_PATH" in n and "cublas64_12.dll" in n for n in report.notes)
    assert report.paths_configured
    # A CUDA_PATH that holds the right cuBLAS is kept (and searched).
    good = tmp_path / "CUDA" / "v12.4"
    touch_all(good / "bin", names("windows"))
    ctx = context("windows", env={"CUDA_PATH": str(good)})
    assert report_for(ctx).cublas.source == "CUDA_PATH" and ctx.env["CUDA_PATH"] == str(good)


def test_linux_never_touches_the_environment(tmp_path):
    site = tmp_path / "site"
    install_cublas(site, "linux")
    env = {"CUDA_PATH": "/nonexistent", "LD_LIBRARY_PATH": "/x"}
    ctx = context("linux", sys_path=[site], env=env)
    report_for(ctx)
    assert ctx.env == env


def test_startup_diagnostics(tmp_path, caplog, platform):
    site = tmp_path / "site"
    install_cublas(site, platform)
    install_cudnn(site, platform)
    caplog.set_level("INFO", logger="sidecar.cuda")
    log_report(report_for(context(platform, sys_path=[site])))
    lines = [r.getMessage() for r in caplog.records]
    assert lines[:3] == ["GPU library paths configured (2 paths)",
                         f"cuBLAS: {lib_dir(site, platform, 'cublas')}",
                         f"cuDNN: {lib_dir(site, platform, 'cudnn')}"]
    caplog.clear()
    log_report(report_for(context(platform, sys_path=[tmp_path / "empty"])))
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "GPU library paths NOT configured - GPU may not work"
    assert lines[1].startswith("Reason: ctranslate2 4.8.5 needs cuBLAS 12")
