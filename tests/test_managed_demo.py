"""The demo's pure parts and the local fleet config: fast, no model servers needed."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from rich.console import Console

from zeta_router import localfleet
from zeta_router.config import BUILTIN_TASKS, parse_config
from zeta_router.demo import Job, Result, _pct, fitting, load_jobs, summary_tables
from zeta_router.fleet.outcome import Sent
from zeta_router.fleet.state import Fleet
from zeta_router.localfleet import LocalModels, fleet_config, free_ports, llama_command
from zeta_router.managed.supervisor import Supervisor


def test_workload_covers_every_task_with_streams_and_embeddings() -> None:
    jobs = load_jobs(max_tokens=7)
    assert {j.expect for j in jobs} == set(BUILTIN_TASKS)
    assert any(j.stream for j in jobs)
    assert all(bool(j.input) == (j.expect == "embeddings") for j in jobs)
    assert all(j.max_tokens == 7 for j in jobs)


def test_chaos_kills_only_while_every_request_there_still_awaits_its_first_byte() -> None:
    # A stream committed to the replica (first event relayed) would break in front of its
    # client; one still waiting is retried or falls back.
    cfg = parse_config({"models": {"m": {"replicas": [{"url": "http://127.0.0.1:9/v1"}]}}})
    rs = Fleet(cfg).models["m"].replicas[0]
    assert not fitting(rs, any_request=False) and fitting(rs, any_request=True)
    rs.record(Sent(1.0))
    first = rs.begin_wait(1.0)
    assert fitting(rs, any_request=False)
    rs.record(Sent(1.1))
    rs.begin_wait(1.1)
    rs.end_wait(first)  # its first event is in: an answer under way
    assert not fitting(rs, any_request=False) and not fitting(rs, any_request=True)


def test_percentiles_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert _pct(values, 0.5) in (50.0, 51.0)
    assert _pct(values, 0.99) == 99.0
    assert _pct([3.0], 0.9) == 3.0


def test_summary_counts_failures_fallbacks_and_retries() -> None:
    job = Job(expect="code", prompt="x")
    results = [
        Result(1, job, 200, "code", "small", "small-0", attempts=1, latency_s=0.1),
        Result(2, job, 200, "code", "small", "small-1", attempts=2, latency_s=0.3),
        Result(
            3,
            job,
            200,
            "reasoning",
            "small",
            "small-1",
            fallback="gemma->small (x)",
            attempts=1,
            latency_s=0.2,
        ),
        Result(4, job, 503, "simple", error="HTTP 503: no capacity", latency_s=0.01),
    ]
    console = Console(record=True, width=200)
    for t in summary_tables(results, {"small-0": 1, "gemma-0": 0}):
        console.print(t)
    text = console.export_text()
    assert "failed (target 0)" in text and "│ 1 " in text.split("failed (target 0)")[1][:20]
    assert "small-0:1" in text and "gemma-0" not in text
    assert "small-0:1, small-1:2" in text
    retried = text.split("retried (attempts > 1)")[1].splitlines()[0]
    assert "1" in retried
    fallback = text.split("served by a fallback model")[1].splitlines()[0]
    assert "1" in fallback


def test_fleet_config_has_two_chat_models_an_embedder_and_every_route(tmp_path: Path) -> None:
    models = LocalModels(smollm2=tmp_path / "s.gguf", gemma=tmp_path / "g.gguf")
    cfg = fleet_config(models, log_dir=str(tmp_path))
    assert set(cfg.models) == {"small", "gemma", "embed"}
    assert len(cfg.models["small"].replicas) == 2
    assert set(cfg.routes) == set(BUILTIN_TASKS)
    assert cfg.route_for("embeddings") == ("embed",)
    ports = {r.launch.port for m in cfg.models.values() for r in m.replicas if r.launch}
    assert len(ports) == 4 and cfg.listen.port not in ports
    sup = Supervisor.from_config(cfg)
    assert sorted(sup.replicas) == ["embed-0", "gemma-0", "small-0", "small-1"]
    argv = sup["gemma-0"].argv()
    assert argv[:4] == [sys.executable, "-m", "zeta_router.localfleet", "serve-python"]
    assert argv[argv.index("--chat_format") + 1] == "gemma"
    assert argv[argv.index("--port") + 1] == str(sup["gemma-0"].port)
    embed = sup["embed-0"].argv()
    assert "--pooling" in embed and embed[embed.index("--embedding") + 1] == "true"


def test_llama_command_quotes_nothing_and_keeps_paths_whole() -> None:
    cmd = llama_command(Path("/m/my model.gguf"), "a", pooling="mean")
    assert "/m/my model.gguf" in cmd and "{port}" in cmd and "{host}" in cmd


def test_free_ports_are_distinct() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5


def test_gemma_is_assembled_once_then_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def assemble(path: Path, overwrite: bool = False) -> Path:
        calls.append(path)
        path.write_bytes(b"GGUF" + b"\0" * 64)
        return path

    fake = types.ModuleType("fake_gemma_chunks")
    fake.assemble = assemble  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_gemma_chunks", fake)
    first = localfleet.ensure_gemma(tmp_path, package="fake_gemma_chunks")
    second = localfleet.ensure_gemma(tmp_path, package="fake_gemma_chunks")
    assert first == second == tmp_path / localfleet.GEMMA_FILE
    assert len(calls) == 1
    assert not list(tmp_path.glob(".*.partial"))
    # A changed file (size or mtime) is not trusted: assembled again.
    first.write_bytes(b"torn")
    localfleet.ensure_gemma(tmp_path, package="fake_gemma_chunks")
    assert len(calls) == 2


def test_missing_packages_name_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(localfleet.LocalModelError, match=r"zeta-router\[local\]"):
        localfleet.ensure_gemma(tmp_path, package="zeta_no_such_package")
    with pytest.raises(localfleet.LocalModelError, match=r"zeta-router\[local\]"):
        localfleet._package_dir("zeta_no_such_package")


def test_demo_options_parse_for_the_cli() -> None:
    import argparse

    from zeta_router.demo import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--requests", "5", "--no-kill", "--serve", "--max-tokens", "8"])
    assert (args.requests, args.kill, args.serve, args.max_tokens) == (5, False, True, 8)
    assert parser.parse_args([]).kill is True


@pytest.mark.parametrize("native", [False, True])
def test_no_demo_server_repacks_weights(tmp_path: Path, native: bool) -> None:
    """Repacking into AMX buffers segfaults llama.cpp on virtualised Sapphire Rapids: every
    server of the demo fleet, on either backend, must start with it off."""
    models = LocalModels(smollm2=tmp_path / "s.gguf", gemma=tmp_path / "g.gguf")
    binary = tmp_path / "llama-server" if native else None
    sup = Supervisor.from_config(fleet_config(models, llama_server=binary))
    for rid in sup.replicas:
        argv = sup[rid].argv()
        if native:
            assert argv[0] == str(binary) and "--no-repack" in argv
            assert sup[rid].launch.ready_path == "/health"
        else:
            assert argv[1:4] == ["-m", "zeta_router.localfleet", "serve-python"]
