"""The operating-system side of a managed server: its command line from the launch template,
a child that dies with the router (PDEATHSIG), signals to its whole process group, and its end
described in words. :mod:`zeta_router.managed.supervisor` runs processes with these."""

from __future__ import annotations

import ctypes
import os
import shlex
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from zeta_router.errors import ConfigError

_PR_SET_PDEATHSIG = 1


def default_log_dir() -> Path:
    return Path(tempfile.gettempdir()) / "zeta-router" / "logs"


def expand(template: str, values: Mapping[str, str]) -> str:
    """Replace ``{name}`` placeholders by plain substitution.

    Not ``str.format``: commands routinely carry JSON or Jinja chat templates whose braces must
    pass through untouched.
    """
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def build_argv(command: str | tuple[str, ...], values: Mapping[str, str]) -> list[str]:
    # A string is split before expansion so a value with spaces (a model path) stays one argument.
    parts = shlex.split(command) if isinstance(command, str) else list(command)
    if not parts:
        raise ConfigError("launch.command: empty command")
    return [expand(p, values) for p in parts]


def make_preexec(parent_pid: int) -> Callable[[], None] | None:
    """Ask the kernel to SIGKILL the child when the router dies, however hard.

    Linux ties PDEATHSIG to the thread that forked, so the child must be spawned from a thread
    that lives as long as the router: the event loop thread does that here.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # The parent may have died between fork and prctl; then nobody would ever signal us.
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still exists (zombies included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe_exit(code: int | None) -> str:
    """A process's end in words that hold nothing from its output (safe to show anywhere)."""
    if code is None:
        return "exited"
    if code == -signal.SIGILL:
        # Deterministic, so a restart dies the same way: name the cause, which is never a bug
        # in the server but a binary built for another CPU (a shared build or wheel cache).
        return "killed by SIGILL (an instruction this CPU lacks: built for another CPU?)"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
