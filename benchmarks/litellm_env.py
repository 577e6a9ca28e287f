"""LiteLLM's proxy as a benchmark peer, in its own virtual environment outside the repo.

    from benchmarks.litellm_env import ensure_venv, start_proxy
    proxy = start_proxy({"brain": ["http://127.0.0.1:9001/v1"]}, fallbacks={}, retries=2)
    ... POST proxy.url + "/v1/chat/completions" with headers=proxy.headers ...
    proxy.stop()

The venv lives in ``$ZETA_LITELLM_VENV`` or ``~/.cache/zeta-router/litellm-venv`` and is
created (``pip install litellm[proxy]==LITELLM_VERSION``) on first use. The proxy gets an
equivalent config to the gateway's: the same backends as OpenAI-compatible deployments, the
same retry count and fallbacks, no database, no callbacks, telemetry off, and a random master
key per start (the proxy refuses to run without one; send ``proxy.headers``).
Run ``python benchmarks/litellm_env.py`` to just build the venv.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

try:  # as part of the benchmarks package, or as a script next to _common.py
    from . import _common as common
except ImportError:  # pragma: no cover
    import _common as common  # type: ignore[no-redef]

#: The release the product brief measured (1.107.0 was a compromised release: do not use it).
LITELLM_VERSION = "1.108.7"
VENV = Path(
    os.environ.get("ZETA_LITELLM_VENV", Path.home() / ".cache/zeta-router/litellm-venv")
).expanduser()

#: Keep the proxy off the network and quiet: a local cost map, no telemetry, no schema updates.
PROXY_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_LOG": "ERROR",
    "DISABLE_SCHEMA_UPDATE": "true",
    "NO_DOCS": "True",
    "NO_REDOC": "True",
}


def _bin(name: str) -> Path:
    return VENV / "bin" / name


def ensure_venv(version: str = LITELLM_VERSION, quiet: bool = True) -> Path:
    """The venv's ``litellm`` executable, installing the venv first when needed."""
    exe = _bin("litellm")
    marker = VENV / f".zeta-litellm-{version}"
    if exe.exists() and marker.exists():
        return exe
    VENV.parent.mkdir(parents=True, exist_ok=True)
    if not _bin("python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(_bin("python")), "-m", "pip", "install", "--disable-pip-version-check"]
    if quiet:
        pip.append("-q")
    print(f"installing litellm[proxy]=={version} into {VENV} (once)", file=sys.stderr)
    subprocess.run([*pip, f"litellm[proxy]=={version}"], check=True, timeout=1800)
    marker.write_text(version)
    return exe


def proxy_config(
    models: dict[str, list[str]], fallbacks: dict[str, list[str]], retries: int
) -> str:
    """LiteLLM proxy YAML (JSON is valid YAML): one deployment per backend URL."""
    model_list = [
        {
            "model_name": name,
            "litellm_params": {
                "model": f"openai/{name}",
                "api_base": url,
                "api_key": "none",
            },
        }
        for name, urls in models.items()
        for url in urls
    ]
    router: dict[str, object] = {"num_retries": retries, "routing_strategy": "simple-shuffle"}
    if fallbacks:
        router["fallbacks"] = [{k: v} for k, v in fallbacks.items()]
    doc = {
        "model_list": model_list,
        "router_settings": router,
        "litellm_settings": {
            "num_retries": retries,
            "telemetry": False,
            "drop_params": True,
            "set_verbose": False,
            "json_logs": False,
        },
        "general_settings": {"disable_spend_logs": True},
    }
    return json.dumps(doc, indent=2)


@dataclass
class Proxy:
    url: str
    port: int
    proc: common.Proc
    config_path: Path
    #: The proxy refuses to start without a master key; clients send it as a bearer token.
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def ready_s(self) -> float | None:
        return self.proc.ready_s

    def stop(self) -> None:
        self.proc.stop()


def start_proxy(
    models: dict[str, list[str]],
    fallbacks: dict[str, list[str]] | None = None,
    retries: int = 3,
    port: int | None = None,
    *,
    log_dir: Path | None = None,
    ready_timeout_s: float = 180.0,
) -> Proxy:
    """Start ``litellm --config`` on ``port`` (a free one by default) and wait until it serves."""
    exe = ensure_venv()
    port = port or common.free_port()
    workdir = Path(tempfile.mkdtemp(prefix="zeta-litellm-"))
    cfg = workdir / "litellm.yaml"
    cfg.write_text(proxy_config(models, fallbacks or {}, retries))
    key = "sk-bench-" + secrets.token_hex(16)
    proc = common.start(
        "litellm",
        [str(exe), "--config", str(cfg), "--host", common.HOST, "--port", str(port)],
        log_dir=log_dir or workdir,
        env={**PROXY_ENV, "LITELLM_MASTER_KEY": key},
        cwd=workdir,
    )
    url = f"http://{common.HOST}:{port}"
    proc.wait_ready(url + "/health/liveliness", ready_timeout_s)
    return Proxy(url, port, proc, cfg, key)


if __name__ == "__main__":
    print(ensure_venv(quiet=False))
