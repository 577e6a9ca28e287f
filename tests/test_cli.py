"""The command line, run as a user would: real subprocesses and a real fake fleet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from zeta_router import cli
from zeta_router.analysis.profile import Prompt, TaskProfile
from zeta_router.testing import Harness

ROOT = Path(__file__).resolve().parents[1]


def zr(
    *args: str, stdin: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "zeta_router", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_classify_streams_json_lines() -> None:
    lines = [
        {
            "id": 1,
            "prompt": "```python\ndef f(x):\n    return x[0]\n```\n"
            "IndexError: list index out of range, why?",
        },
        {"id": "b", "messages": [{"role": "user", "content": "hi there!"}]},
        {"id": 3, "prompt": 42},
    ]
    stdin = b"".join(orjson.dumps(x) + b"\n" for x in lines) + b"not json\n"
    out = zr("classify", "--analyzer", "heuristic", stdin=stdin)
    assert out.returncode == 0, out.stderr.decode()
    rows = [orjson.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 4
    assert rows[0]["id"] == 1 and rows[0]["task"] == "code"
    assert rows[1]["id"] == "b" and rows[1]["task"] == "simple"
    for row in rows[:2]:
        assert set(row) == {"id", "task", "complexity", "confidence"}
        assert 0 <= row["confidence"] <= 1 and 0 <= row["complexity"] <= 1
    assert "error" in rows[2] and "error" in rows[3]


def test_explain_says_why() -> None:
    out = zr("explain", "--analyzer", "heuristic", "Write a Python function that parses ISO dates")
    assert out.returncode == 0, out.stderr.decode()
    text = out.stdout.decode()
    assert "task        code" in text
    assert "1. coder" in text and "2. brain" in text
    js = zr("explain", "--json", "--endpoint", "embeddings", "some text")
    data = orjson.loads(js.stdout)
    assert data["task"] == "embeddings"
    assert [c["model"] for c in data["candidates"]] == ["embed"]


def test_explain_pinned_unknown_model_fails_cleanly() -> None:
    out = zr("explain", "--model", "nope", "hello")
    assert out.returncode == 2
    assert b"does not exist" in out.stderr
    assert b"Traceback" not in out.stderr


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "r.yaml"
    cfg.write_text(yaml.safe_dump({"models": {"m": {"replicas": [{"url": "nope"}]}}}))
    out = zr("check", "--config", str(cfg))
    assert out.returncode == 2
    assert b"models.m.replicas[0].url" in out.stderr
    assert b"Traceback" not in out.stderr


def test_check_probes_every_replica(harness: Harness, tmp_path: Path) -> None:
    cfg = tmp_path / "r.yaml"
    doc = {
        "models": {
            "up": {"replicas": [{"url": harness.backend("c1").url}]},
            "down": {"replicas": [{"url": "http://127.0.0.1:9/v1"}]},
        }
    }
    cfg.write_text(yaml.safe_dump(doc))
    out = zr("check", "--config", str(cfg))
    text = out.stdout.decode()
    assert out.returncode == 1
    assert "1/2 replicas answered" in text
    assert "connect failed" in text


class _Poet:
    """An analyzer that finds a task no route exists for."""

    name = "poet"

    def analyze(self, prompt: Prompt) -> TaskProfile:
        return TaskProfile("poetry", 0.4, 0.9, 12, "poet", ("rhymes",))


def test_explain_takes_the_engines_decision_path_including_no_route_for_the_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import zeta_router.analysis

    cfg = tmp_path / "r.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "models": {
                    "small": {"replicas": [{"url": "http://127.0.0.1:9/v1"}]},
                    "brain": {"replicas": [{"url": "http://127.0.0.1:9/v1"}]},
                },
                "routes": {"simple": ["small", "brain"]},
            }
        )
    )
    monkeypatch.setattr(zeta_router.analysis, "build_analyzer", lambda settings: _Poet())
    assert cli.main(["explain", "-c", str(cfg), "--json", "a sonnet please"]) == 0
    data = orjson.loads(capsys.readouterr().out)
    # The router's own branch: an unknown task takes the default route, and says so.
    assert (data["task"], data["route_task"]) == ("poetry", "simple")
    assert [c["model"] for c in data["candidates"]] == ["small", "brain"]
    assert cli.main(["explain", "-c", str(cfg), "a sonnet please"]) == 0
    assert "no route for poetry, default route" in capsys.readouterr().out
