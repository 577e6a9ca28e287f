"""llama-cpp-python's server (through the AMX-safe launcher) whose process dies with SIGSEGV on
every completion, as a server hitting a native crash does. For the crash-loop tests.

    python tests/llama_crash_server.py <llama_cpp.server arguments>
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import llama_cpp

from zeta_router.localfleet import main


def crash(*_args: Any, **_kwargs: Any) -> Any:
    os.kill(os.getpid(), signal.SIGSEGV)


llama_cpp.Llama.create_chat_completion = crash  # type: ignore[method-assign]
llama_cpp.Llama.create_completion = crash  # type: ignore[method-assign]

if __name__ == "__main__":
    raise SystemExit(main(["serve-python", *sys.argv[1:]]))
