"""Whether the installed llama-cpp-python was built for this CPU.

pip builds llama-cpp-python from its sdist with llama.cpp's default ``GGML_NATIVE=ON``
(``-march=native``), and caches the wheel keyed by the sdist alone, not by the CPU. A pip cache
shared between machines (a CI cache, a container volume, a network home) therefore hands a
wheel built on one CPU to another: built on this AVX-512 EPYC it dies on SIGILL on a CPU without
AVX-512, built on a Sapphire Rapids with AMX it dies here. The model servers would crash at
their first matrix product, so this check runs before any is started.

ggml reports the instruction sets it was *compiled* for (``__AVX512F__`` and the like, not what
the CPU has) in ``llama_print_system_info``; each is compared with the CPU's flags from
``/proc/cpuinfo``. The query runs in a child process: a library built for another CPU may die
already while loading, and that death is itself the answer.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from zeta_router.errors import ZetaError

#: ggml's names for the x86 instruction sets it reports (ggml-cpu.cpp), and the Linux
#: ``/proc/cpuinfo`` flag of each (SSE3 is ``pni`` there).
GGML_TO_CPU_FLAG = {
    "SSE3": "pni",
    "SSSE3": "ssse3",
    "AVX": "avx",
    "AVX_VNNI": "avx_vnni",
    "AVX2": "avx2",
    "F16C": "f16c",
    "FMA": "fma",
    "BMI2": "bmi2",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}

#: What rebuilds the wheel for the machine running it (the cached one is dropped first, or pip
#: would install it again), and what builds one that runs on any x86-64 CPU with AVX2.
REBUILD = (
    "pip cache remove llama_cpp_python && "
    "pip install --force-reinstall --no-deps -c constraints.txt llama-cpp-python"
)
PORTABLE = (
    'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-cache-dir --force-reinstall --no-deps '
    "-c constraints.txt llama-cpp-python"
)

_QUERY = "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())"


class CpuMismatch(ZetaError):
    """The installed llama.cpp needs instructions this CPU lacks; the message says how to fix."""


def compiled_features(system_info: str) -> frozenset[str]:
    """The instruction sets of ``llama_print_system_info``'s ``NAME = 1`` entries."""
    found = set()
    for part in system_info.replace("\n", "|").split("|"):
        name, sep, value = part.rpartition("=")
        # The first entry of a backend carries its prefix: "CPU : SSE3 = 1".
        name = name.rpartition(":")[2].strip()
        if sep and value.strip() == "1" and name in GGML_TO_CPU_FLAG:
            found.add(name)
    return frozenset(found)


def cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The first ``flags`` line of ``/proc/cpuinfo`` (every core of a machine reports the same)."""
    for line in cpuinfo.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def missing_features(system_info: str, cpuinfo: str) -> tuple[str, ...]:
    """ggml's names of the instruction sets the build uses and this CPU lacks, sorted."""
    flags = cpu_flags(cpuinfo)
    if not flags:
        return ()  # Not Linux, or no flags line: nothing to compare against.
    needed = compiled_features(system_info)
    return tuple(sorted(f for f in needed if GGML_TO_CPU_FLAG[f] not in flags))


@dataclass(frozen=True)
class Fit:
    """A build that fits this CPU: the instruction sets it was compiled for."""

    compiled: frozenset[str]


def read_cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return ""


def refusal(system_info: str, cpuinfo: str) -> str | None:
    """Why a build that reports ``system_info`` cannot run on this CPU, or None when it can."""
    missing = missing_features(system_info, cpuinfo)
    if not missing:
        return None
    return (
        f"llama-cpp-python was built for a CPU with {', '.join(missing)}, which this CPU "
        "lacks (a wheel from a pip cache shared between machines?); its model servers "
        f"would die on SIGILL. Rebuild it here: {REBUILD} (or build one for any AVX2 CPU "
        f"with {PORTABLE})"
    )


def check_llama_cpp_python(python: str = sys.executable, timeout_s: float = 120.0) -> Fit:
    """Ask the installed llama-cpp-python what it was built for; raise :class:`CpuMismatch`
    when it cannot run here (it died loading, or it uses instructions this CPU lacks)."""
    done = subprocess.run(
        [python, "-c", _QUERY],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode == -signal.SIGILL:
        raise CpuMismatch(
            "llama-cpp-python dies on an illegal instruction while loading: it was built for "
            f"another CPU (a wheel from a pip cache shared between machines?). Rebuild it "
            f"here: {REBUILD}"
        )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-600:]
        raise CpuMismatch(f"llama-cpp-python does not load (exit {done.returncode}): {tail}")
    info, cpuinfo = done.stdout, read_cpuinfo()
    if why := refusal(info, cpuinfo):
        raise CpuMismatch(why)
    return Fit(compiled_features(info))
