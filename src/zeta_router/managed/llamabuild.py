"""Build llama.cpp's own ``llama-server`` once, from the sources inside llama-cpp-python's sdist.

The llama-cpp-python source distribution on PyPI carries llama.cpp's whole tree under
``vendor/llama.cpp``; building its ``llama-server`` target needs only cmake and a C++ compiler.
The binary goes into the cache (``<cache>/llama-server/<key>/llama-server``) keyed by the
llama-cpp-python version and this CPU: the build uses ``-march=native``, so a binary built on
one CPU must not be picked up on another.

The build happens in a temporary folder beside its target and is moved into place only once
the binary has answered ``--version``: a failed or interrupted build leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from zeta_router.errors import ZetaError

PACKAGE = "llama-cpp-python"
BINARY = "llama-server"
#: A failed build's whole log, beside the builds (the only thing a failure leaves).
FAILED_LOG = "build-failed.log"
#: Overrides the search: the path of a llama-server binary to use as it is.
ENV_BINARY = "ZETA_LLAMA_SERVER"

#: Everything llama-server does not need is off; the UI options keep cmake from fetching the
#: prebuilt web UI over the network (the build then embeds none, which the router never uses).
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DGGML_NATIVE=ON",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
)

Progress = Callable[[str], None]


class BuildError(ZetaError):
    """The build cannot run or failed; the message says why and what to install."""


@dataclass(frozen=True)
class Target:
    """Where a build for this machine and llama-cpp-python version lives."""

    version: str
    cpu: str
    directory: Path

    @property
    def binary(self) -> Path:
        return self.directory / BINARY

    @property
    def stamp(self) -> Path:
        return self.directory / "build.json"


def cache_root() -> Path:
    """zeta-router's cache folder; ``ZETA_ROUTER_CACHE`` overrides."""
    if env := os.environ.get("ZETA_ROUTER_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "zeta-router"


def cpu_key(cpuinfo: str | None = None) -> str:
    """A short hash of the CPU model and feature flags (what ``-march=native`` depends on)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        name, sep, value = line.partition(":")
        name = name.strip()
        if sep and name in ("model name", "flags") and name not in fields:
            fields[name] = " ".join(sorted(value.split())) if name == "flags" else value.strip()
    text = f"{sys.platform}|{os.uname().machine}|{fields.get('model name', '')}|"
    text += fields.get("flags", "")
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def installed_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise BuildError(
            f"{PACKAGE} is not installed, and its source is what llama-server is built from: "
            "pip install 'zeta-router[local]'"
        ) from None


def target(version: str | None = None, root: Path | None = None) -> Target:
    version = version or installed_version()
    cpu = cpu_key()
    return Target(version, cpu, (root or cache_root()) / BINARY / f"{version}-{cpu}")


def is_built(t: Target) -> bool:
    try:
        stamp = json.loads(t.stamp.read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(stamp, dict)
        and stamp.get("version") == t.version
        and stamp.get("cpu") == t.cpu
        and os.access(t.binary, os.X_OK)
    )


def find_llama_server() -> Path | None:
    """The llama-server to use: ``$ZETA_LLAMA_SERVER``, else the cached build for this
    machine, else None. A binary on PATH is not picked silently: its version is unknown."""
    if env := os.environ.get(ENV_BINARY):
        path = Path(env)
        return path if os.access(path, os.X_OK) else None
    try:
        t = target()
    except BuildError:
        return None
    return t.binary if is_built(t) else None


def missing_tools() -> list[str]:
    """What the build needs and this machine lacks, each with the Debian package to install."""
    missing = []
    if shutil.which("cmake") is None:
        missing.append("cmake (apt-get install -y cmake)")
    if not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
        missing.append("a C++ compiler (apt-get install -y g++)")
    if shutil.which("make") is None and shutil.which("ninja") is None:
        missing.append("make (apt-get install -y make)")
    return missing


def _run(argv: Sequence[str], cwd: Path, log: Path, progress: Progress, what: str) -> None:
    """Run one build step, its output to ``log``; cmake's ``[ NN%]`` lines become progress."""
    pct = re.compile(rb"^\[\s*(\d+)%\]")
    last = -1
    with log.open("ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        with subprocess.Popen(
            argv,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                m = pct.match(line)
                if m and int(m.group(1)) >= last + 10:
                    last = int(m.group(1))
                    progress(f"  {what}: {last}%")
            code = proc.wait()
    if code != 0:
        tail = log.read_bytes()[-1500:].decode(errors="replace").strip()
        raise BuildError(f"{what} failed (exit {code}); the end of its log:\n{tail}")


def download_sdist(version: str, into: Path, progress: Progress) -> Path:
    """llama-cpp-python's sdist from the package index (pip's cache answers a second time)."""
    progress(f"fetching the {PACKAGE} {version} source distribution with pip")
    argv = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        "-q",
        "-d",
        str(into),
        f"{PACKAGE}=={version}",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    found = sorted(into.glob("llama_cpp_python-*.tar.gz"))
    if done.returncode != 0 or not found:
        why = (done.stderr or done.stdout).strip()[-800:]
        raise BuildError(f"cannot download the {PACKAGE} {version} source: {why}")
    return found[0]


def extract_llama_cpp(sdist: Path, into: Path) -> Path:
    """Unpack only ``vendor/llama.cpp`` of the sdist; returns that folder."""
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/vendor/llama.cpp/" in m.name + "/"]
        if not members:
            raise BuildError(f"{sdist.name} holds no vendor/llama.cpp tree")
        tar.extractall(into, members=members, filter="data")
    roots = sorted(into.glob("*/vendor/llama.cpp"))
    if not roots or not (roots[0] / "tools" / "server").is_dir():
        raise BuildError(f"{sdist.name} holds no llama.cpp server sources (tools/server)")
    return roots[0]


def build(
    *,
    progress: Progress = print,
    jobs: int | None = None,
    force: bool = False,
    sdist: Path | None = None,
    root: Path | None = None,
) -> Path:
    """Build llama-server for this machine unless it is built already; returns the binary."""
    t = target(root=root)
    if is_built(t) and not force:
        progress(f"llama-server is built already: {t.binary}")
        return t.binary
    if missing := missing_tools():
        raise BuildError("building llama-server needs " + ", ".join(missing))
    jobs = jobs or os.cpu_count() or 2
    t.directory.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=t.directory.parent))
    log = work / "build.log"
    failed_log = t.directory.parent / FAILED_LOG
    try:
        if sdist is None:
            sdist = download_sdist(t.version, work, progress)
        src = extract_llama_cpp(sdist, work / "src")
        build_dir = work / "build"
        progress(f"configuring llama.cpp from {PACKAGE} {t.version}")
        _run(
            ["cmake", "-S", str(src), "-B", str(build_dir), *CMAKE_OPTIONS],
            work,
            log,
            progress,
            "configure",
        )
        progress(f"compiling llama-server with {jobs} jobs (several minutes on 2 cores)")
        _run(
            ["cmake", "--build", str(build_dir), "--target", BINARY, "-j", str(jobs)],
            work,
            log,
            progress,
            "build",
        )
        built = build_dir / "bin" / BINARY
        if not built.is_file():
            raise BuildError(f"the build finished but produced no {built}")
        staged = work / "out"
        staged.mkdir()
        shutil.copy2(built, staged / BINARY)
        check = subprocess.run(
            [str(staged / BINARY), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        if check.returncode != 0:
            raise BuildError(f"the built llama-server does not run: {check.stderr.strip()[-400:]}")
        version_line = (check.stdout + check.stderr).strip().splitlines()
        stamp = {
            "version": t.version,
            "cpu": t.cpu,
            "llama_cpp": version_line[:2],
            "cmake": list(CMAKE_OPTIONS),
        }
        (staged / "build.json").write_text(json.dumps(stamp, indent=1))
        if t.directory.exists():
            shutil.rmtree(t.directory)
        os.replace(staged, t.directory)
        failed_log.unlink(missing_ok=True)
    except BuildError as exc:
        if log.is_file():
            shutil.copyfile(log, failed_log)
            raise BuildError(f"{exc}\n(whole log: {failed_log})") from None
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    progress(f"built {t.binary}")
    return t.binary
