"""The check that the installed llama-cpp-python was built for this CPU: ggml's compile-time
instruction sets against /proc/cpuinfo, a library that dies loading, and the CLI around it.

The CPUs are the ones this project ran on (an AVX-512 AMD EPYC, a Sapphire Rapids with AMX)
and one it never had (an AVX2-only CPU); their flags lines are cut to what matters here."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from zeta_router import localfleet
from zeta_router.cli import main as cli_main
from zeta_router.localfleet import llama_available
from zeta_router.managed import cpufit
from zeta_router.managed.llamabuild import cpu_key
from zeta_router.managed.process import describe_exit

EPYC = (
    "model name\t: AMD EPYC\nflags\t\t: fpu sse sse2 pni ssse3 fma sse4_1 sse4_2 avx f16c bmi2 avx2"
    " avx512f avx512dq avx512bw avx512vl avx512vbmi avx512_vnni avx512_bf16 avx_vnni\n"
)
SAPPHIRE_RAPIDS = (
    "model name\t: Intel(R) Xeon(R) Platinum 8488C\nflags\t\t: fpu sse sse2 pni ssse3 fma avx f16c"
    " bmi2 avx2 avx512f avx512vbmi avx512_vnni avx512_bf16 avx_vnni amx_tile amx_int8 amx_bf16\n"
)
AVX2_ONLY = (
    "model name\t: AMD Ryzen 7 3700X\nflags\t\t: fpu sse sse2 pni ssse3 fma avx f16c bmi2 avx2\n"
)

#: llama_print_system_info of a wheel built natively on each (the EPYC line is this machine's).
BUILT_ON_EPYC = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | "
    "BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | "
    "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)
BUILT_ON_SPR = BUILT_ON_EPYC.replace("LLAMAFILE", "AMX_INT8 = 1 | LLAMAFILE")
#: GGML_NATIVE=OFF: llama.cpp's fixed AVX2 set (SSE4.2, AVX, AVX2, FMA, F16C, BMI2).
BUILT_PORTABLE = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)


def test_compiled_features_are_the_ones_set_to_1() -> None:
    got = cpufit.compiled_features(BUILT_ON_SPR)
    assert {"SSE3", "AVX512", "AMX_INT8"} <= got
    # Not instruction sets: the build's other switches.
    assert not {"LLAMAFILE", "OPENMP", "REPACK"} & got
    assert cpufit.compiled_features("CPU : AVX2 = 0 | AVX = 1 |") == {"AVX"}


@pytest.mark.parametrize(
    ("built", "cpu", "missing"),
    [
        (BUILT_ON_EPYC, EPYC, ()),
        (BUILT_ON_SPR, SAPPHIRE_RAPIDS, ()),
        (BUILT_ON_SPR, EPYC, ("AMX_INT8",)),  # the crash a shared cache brings here
        (BUILT_ON_EPYC, SAPPHIRE_RAPIDS, ()),
        (
            BUILT_ON_EPYC,
            AVX2_ONLY,
            ("AVX512", "AVX512_BF16", "AVX512_VBMI", "AVX512_VNNI", "AVX_VNNI"),
        ),
        (BUILT_PORTABLE, AVX2_ONLY, ()),
        (BUILT_PORTABLE, EPYC, ()),
        (BUILT_PORTABLE, SAPPHIRE_RAPIDS, ()),
        (BUILT_ON_EPYC, "no flags line here", ()),  # nothing to compare against: no verdict
    ],
)
def test_missing_features(built: str, cpu: str, missing: tuple[str, ...]) -> None:
    assert cpufit.missing_features(built, cpu) == missing


def test_every_reported_set_has_a_cpuinfo_flag_of_the_cpus_that_have_it() -> None:
    have = cpufit.cpu_flags(SAPPHIRE_RAPIDS)
    assert all(flag in have for flag in cpufit.GGML_TO_CPU_FLAG.values())


def test_llama_server_cache_key_differs_between_these_cpus() -> None:
    # Its build is -march=native as well: a cached binary must never cross to another CPU.
    assert len({cpu_key(EPYC), cpu_key(SAPPHIRE_RAPIDS), cpu_key(AVX2_ONLY)}) == 3


def fake_python(tmp_path: Path, body: str) -> str:
    """An executable standing in for ``python -c <query>``: it ignores its arguments."""
    exe = tmp_path / "python"
    exe.write_text(f"#!/bin/sh\n{body}\n")
    exe.chmod(0o755)
    return str(exe)


def test_a_build_for_another_cpu_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpufit, "read_cpuinfo", lambda: EPYC)
    python = fake_python(tmp_path, f"echo '{BUILT_ON_SPR}'")
    with pytest.raises(cpufit.CpuMismatch, match="AMX_INT8") as info:
        cpufit.check_llama_cpp_python(python)
    assert cpufit.REBUILD in str(info.value) and "GGML_NATIVE=OFF" in str(info.value)
    monkeypatch.setattr(cpufit, "read_cpuinfo", lambda: SAPPHIRE_RAPIDS)
    assert "AMX_INT8" in cpufit.check_llama_cpp_python(python).compiled


def test_a_library_that_dies_loading_on_sigill_is_refused(tmp_path: Path) -> None:
    python = fake_python(tmp_path, "kill -ILL $$")
    with pytest.raises(cpufit.CpuMismatch, match="illegal instruction") as info:
        cpufit.check_llama_cpp_python(python)
    assert cpufit.REBUILD in str(info.value)
    broken = fake_python(tmp_path, "echo 'ImportError: no llama_cpp' >&2; exit 1")
    with pytest.raises(cpufit.CpuMismatch, match=r"exit 1.*no llama_cpp"):
        cpufit.check_llama_cpp_python(broken)


def test_a_server_killed_by_sigill_is_described_as_such() -> None:
    assert "built for another CPU" in describe_exit(-signal.SIGILL)
    assert describe_exit(-signal.SIGSEGV) == "killed by SIGSEGV"


@pytest.mark.skipif(not llama_available(), reason="llama-cpp-python is not installed")
@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="no /proc/cpuinfo")
def test_the_installed_llama_cpp_python_fits_this_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    # Installed by pip on this machine (or by CI for its runner): it must fit, or the demo and
    # the llama tests would crash; `zeta-router fleet check` is what .ci/run asks.
    assert cli_main(["fleet", "check"]) == 0
    assert "fits this CPU" in capsys.readouterr().out


@pytest.mark.skipif(not llama_available(), reason="llama-cpp-python is not installed")
def test_the_llama_cpp_python_server_refuses_a_cpu_its_build_does_not_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What this machine's wheel meets on a CPU without AVX-512, before any model is loaded.
    monkeypatch.setattr(cpufit, "read_cpuinfo", lambda: "flags\t: sse sse2 pni")
    with pytest.raises(SystemExit, match=r"built for a CPU with .*AVX2") as info:
        localfleet.main(["serve-python", "--model", "/nonexistent.gguf"])
    assert cpufit.REBUILD in str(info.value)
