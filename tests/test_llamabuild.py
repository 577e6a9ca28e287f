"""Building llama-server from the sdist's sources: the pipeline with real cmake and a real compiler
on a tiny stand-in source tree (seconds, not the real build's minutes), and its failure modes."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from zeta_router.cli import main as cli_main
from zeta_router.managed import llamabuild

needs_toolchain = pytest.mark.skipif(
    bool(llamabuild.missing_tools()), reason=f"missing: {llamabuild.missing_tools()}"
)

SERVER_CMAKE = """
cmake_minimum_required(VERSION 3.14)
project(fake_llama C)
add_executable(llama-server server.c)
set_target_properties(llama-server PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
"""
SERVER_C = '#include <stdio.h>\nint main(void) { puts("version: 1 (fake)"); return 0; }\n'


def sdist(tmp_path: Path, files: dict[str, str], name: str = "llama_cpp_python-9.9.9") -> Path:
    path = tmp_path / f"{name}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def tree(cmake: str = SERVER_CMAKE) -> dict[str, str]:
    return {
        "vendor/llama.cpp/CMakeLists.txt": cmake,
        "vendor/llama.cpp/server.c": SERVER_C,
        "vendor/llama.cpp/tools/server/README.md": "server sources",
        "llama_cpp/__init__.py": "",
    }


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("ZETA_ROUTER_CACHE", str(root))
    monkeypatch.delenv(llamabuild.ENV_BINARY, raising=False)
    monkeypatch.setattr(llamabuild, "installed_version", lambda: "9.9.9")
    # The real build's options mean nothing to the stand-in project; cmake only warns on them.
    return root


def leftovers(root: Path) -> list[str]:
    base = root / llamabuild.BINARY
    return sorted(p.name for p in base.iterdir()) if base.exists() else []


def test_cpu_key_depends_on_model_and_flags_not_on_their_order() -> None:
    a = llamabuild.cpu_key("model name\t: Xeon\nflags\t\t: avx2 amx_tile sse\n")
    assert a == llamabuild.cpu_key("model name: Xeon\nflags: sse avx2 amx_tile\n")
    assert a != llamabuild.cpu_key("model name: Xeon\nflags: sse avx2\n")
    assert a != llamabuild.cpu_key("model name: EPYC\nflags: avx2 amx_tile sse\n")
    assert len(a) == 10


@needs_toolchain
def test_build_installs_once_and_a_second_run_is_a_no_op(cache: Path) -> None:
    said: list[str] = []
    binary = llamabuild.build(progress=said.append, sdist=sdist(cache.parent, tree()), jobs=1)
    assert binary == llamabuild.target().binary and os.access(binary, os.X_OK)
    assert llamabuild.find_llama_server() == binary
    assert any("compiling llama-server" in m for m in said) and said[-1] == f"built {binary}"
    assert leftovers(cache) == [binary.parent.name]  # no build folder left behind
    said.clear()
    assert llamabuild.build(progress=said.append) == binary
    assert said == [f"llama-server is built already: {binary}"]


@needs_toolchain
def test_a_failed_compile_says_why_and_leaves_nothing_half_built(cache: Path) -> None:
    broken = tree()
    broken["vendor/llama.cpp/server.c"] = "int main(void) { return missing_symbol; }\n"
    with pytest.raises(llamabuild.BuildError, match=r"build failed (?s:.*)missing_symbol") as info:
        llamabuild.build(progress=lambda _: None, sdist=sdist(cache.parent, broken), jobs=1)
    # Only the whole log stays, where the message says.
    assert leftovers(cache) == [llamabuild.FAILED_LOG]
    log = cache / llamabuild.BINARY / llamabuild.FAILED_LOG
    assert str(log) in str(info.value) and b"missing_symbol" in log.read_bytes()
    assert llamabuild.find_llama_server() is None


def test_an_sdist_without_llama_cpp_is_refused(cache: Path) -> None:
    if llamabuild.missing_tools():
        pytest.skip("the tool check comes first")
    bad = sdist(cache.parent, {"llama_cpp/__init__.py": ""})
    with pytest.raises(llamabuild.BuildError, match=r"no vendor/llama\.cpp"):
        llamabuild.build(progress=lambda _: None, sdist=bad)
    assert leftovers(cache) == []


def test_missing_tools_name_the_apt_package(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(llamabuild.BuildError) as info:
        llamabuild.build(progress=lambda _: None)
    msg = str(info.value)
    assert "apt-get install -y cmake" in msg and "apt-get install -y g++" in msg
    assert leftovers(cache) == []


def test_env_override_and_cli_path(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["fleet", "path"]) == 1
    assert "zeta-router fleet build" in capsys.readouterr().err
    exe = tmp_path / "my-llama-server"
    shutil.copy("/bin/true", exe)
    monkeypatch.setenv(llamabuild.ENV_BINARY, str(exe))
    assert cli_main(["fleet", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(exe)


def test_a_stamp_for_another_cpu_is_not_a_build(cache: Path) -> None:
    t = llamabuild.target()
    t.directory.mkdir(parents=True)
    shutil.copy("/bin/true", t.binary)
    t.stamp.write_text('{"version": "9.9.9", "cpu": "someother"}')
    assert not llamabuild.is_built(t)
    t.stamp.write_text(f'{{"version": "9.9.9", "cpu": "{t.cpu}"}}')
    assert llamabuild.is_built(t)
