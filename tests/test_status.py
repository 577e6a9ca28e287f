"""GET /v1/router/status and /dashboard, the config redaction, and the per-request log line."""

from __future__ import annotations

import logging

import httpx
import openai
import orjson
import pytest

from zeta_router.analysis.profile import TaskProfile
from zeta_router.config import parse_config
from zeta_router.errors import FailureKind
from zeta_router.fleet.outcome import SERVED, Reason
from zeta_router.ops.status import REDACTED, redact_config
from zeta_router.ops.telemetry import Telemetry
from zeta_router.routing.decision import Attempt, Decision
from zeta_router.testing import Harness

from .conftest import SECRET

CODE_PROMPT = "Fix this bug:\n```python\ndef add(a, b):\n    return a - b\n```"


def status(h: Harness, **params: str) -> dict:  # type: ignore[type-arg]
    resp = httpx.get(h.url + "/v1/router/status", params=params)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    return resp.json()  # type: ignore[no-any-return]


def test_status_shows_fleet_state_and_recent_decisions(harness: Harness) -> None:
    c = openai.OpenAI(base_url=harness.base_url, api_key="unused", max_retries=0)
    raw = c.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": CODE_PROMPT}]
    )
    rid = raw.headers["x-zeta-request-id"]
    harness.router.fleet.replicas["brain-b"].breaker.force_open(harness.router.clock(), "x", 30)
    s = status(harness)

    assert [m["name"] for m in s["models"]] == ["brain", "coder", "small", "embed"]
    assert s["models"][0]["replicas"] == ["brain-a", "brain-b"]
    replicas = {r["id"]: r for r in s["replicas"]}
    assert set(replicas) == {"brain-a", "brain-b", "coder-0", "small-0", "embed-0"}
    coder = replicas["coder-0"]
    assert coder["model"] == "coder"
    assert coder["url"] == harness.backend("c1").url
    assert coder["health"] == "unknown"
    assert coder["breaker"]["state"] == "closed"
    assert coder["in_flight"] == 0
    assert coder["requests"] >= 1 and coder["latency_ewma_ms"] > 0
    assert replicas["brain-b"]["breaker"]["state"] == "open"
    assert replicas["brain-b"]["available"] is False
    assert replicas["brain-b"]["unavailable_reason"] == "circuit open"
    latest = s["decisions"][0]
    assert latest["request_id"] == rid
    assert (latest["task"], latest["model"], latest["replica"]) == ("code", "coder", "coder-0")
    assert s["routes"]["code"] == ["coder", "brain", "small"]
    assert s["config"]["routes"]["code"] == ["coder", "brain", "small"]


def test_status_lists_fallbacks_and_limits_decisions(harness: Harness) -> None:
    harness.down("c1")
    c = openai.OpenAI(base_url=harness.base_url, api_key="unused", max_retries=0)
    c.chat.completions.create(model="auto", messages=[{"role": "user", "content": CODE_PROMPT}])
    s = status(harness, decisions="1")
    assert len(s["decisions"]) == 1
    fb = s["fallbacks"][0]
    assert fb["model"] == "brain"
    assert fb["fallback"].startswith("coder->brain (coder: connect failed")


def test_status_never_shows_secret_values(harness: Harness) -> None:
    text = httpx.get(harness.url + "/v1/router/status").text
    assert SECRET not in text
    assert "ZETA_TEST_BRAIN_KEY" in text, "the env var's name is useful and not a secret"


def test_redact_config_masks_credentials_everywhere() -> None:
    config = parse_config(
        {
            "server": {"admin_token_env": "ZETA_ADMIN"},
            "models": {
                "m": {
                    "replicas": [
                        {
                            "url": "https://user:hunter2@gpu.example:8443/v1?key=sk-inurl",
                            "api_key_env": "M_KEY",
                            "launch": {
                                "command": ["llama-server", "--api-key", "sk-argv", "--port", "1"],
                                "env": {"HF_TOKEN": "hf_envsecret"},
                            },
                        },
                        {
                            "url": "http://127.0.0.1:9/v1",
                            "launch": {"command": "vllm serve m --api-key=sk-inline --port {port}"},
                        },
                    ]
                }
            },
        }
    )
    out = redact_config(config)
    text = orjson.dumps(out).decode()
    for secret in ("hunter2", "sk-inurl", "sk-argv", "hf_envsecret", "sk-inline"):
        assert secret not in text
    reps = out["models"]["m"]["replicas"]
    assert reps[0]["url"] == "https://gpu.example:8443/v1"
    assert reps[0]["api_key_env"] == "M_KEY"
    assert reps[0]["launch"]["command"] == ["llama-server", "--api-key", REDACTED, "--port", "1"]
    assert reps[0]["launch"]["env"] == {"HF_TOKEN": REDACTED}
    assert reps[1]["launch"]["command"] == f"vllm serve m --api-key={REDACTED} --port {{port}}"
    assert out["server"]["admin_token_env"] == "ZETA_ADMIN"


def test_redact_config_hides_an_unparseable_url_in_a_launch_command() -> None:
    config = parse_config(
        {
            "models": {
                "m": {
                    "replicas": [
                        {
                            "url": "http://127.0.0.1:9/v1",
                            "launch": {"command": ["srv", "--upstream", "http://u:pw@[bad/x"]},
                        }
                    ]
                }
            }
        }
    )
    out = redact_config(config)  # must not raise: the status page would answer 500
    command = out["models"]["m"]["replicas"][0]["launch"]["command"]
    assert "pw" not in orjson.dumps(command).decode()
    assert command[:2] == ["srv", "--upstream"]


def test_dashboard_is_a_self_contained_page(harness: Harness) -> None:
    resp = httpx.get(harness.url + "/dashboard")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    page = resp.text
    assert "/v1/router/status" in page
    # No external scripts, styles or fonts: it must work air-gapped.
    assert 'src="http' not in page and 'href="http' not in page


# -- the per-request log line -------------------------------------------------------------------


BUSY = Reason(FailureKind.UNAVAILABLE, "503 unavailable: HTTP 503")


def _decision(prompt: str | None = None) -> Decision:
    d = Decision("zr-abc-1", "chat", 0.0, stream=False)
    d.profile = TaskProfile("code", 0.4, 0.91, 20, "heuristic", ())
    d.task, d.preferred, d.model, d.replica, d.status = "code", "coder", "brain", "brain-a", 200
    d.attempts = [
        Attempt("coder", "coder-0", BUSY, 0.01),
        Attempt("brain", "brain-a", SERVED, 0.12),
    ]
    d.passed_over = [("coder", BUSY)]
    d.ttfb_s, d.duration_s, d.tokens = 0.12, 0.5, 42
    d.prompt = prompt
    return d


def test_one_json_log_line_per_request(caplog: pytest.LogCaptureFixture) -> None:
    t = Telemetry()
    caplog.set_level(logging.INFO, logger="zeta_router.access")
    t.record(_decision(prompt="my private question"))
    t.record(_decision())
    t.flush()
    lines = [r.getMessage() for r in caplog.records if r.name == "zeta_router.access"]
    assert len(lines) == 2
    rec = orjson.loads(lines[0])
    assert rec["id"] == "zr-abc-1"
    assert (rec["task"], rec["confidence"], rec["model"], rec["replica"]) == (
        "code",
        0.91,
        "brain",
        "brain-a",
    )
    assert rec["attempts"] == 2
    assert (rec["fallback_from"], rec["fallback_reason"]) == ("coder", "503 unavailable")
    assert (rec["status"], rec["latency_ms"], rec["ttfb_ms"], rec["tokens"]) == (
        200,
        500.0,
        120.0,
        42,
    )
    assert "prompt" not in rec and "private" not in lines[0]


def test_prompt_is_logged_only_when_enabled(caplog: pytest.LogCaptureFixture) -> None:
    t = Telemetry(log_prompts=True)
    caplog.set_level(logging.INFO, logger="zeta_router.access")
    t.record(_decision(prompt="my private question"))
    t.flush()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "zeta_router.access"]
    assert orjson.loads(line)["prompt"] == "my private question"


def test_batched_log_lines_match_the_logging_module() -> None:
    """A plain StreamHandler gets the batch as one write: the same text, line for line, as
    logging would write record by record, filters and levels still applied."""
    import io

    batched, single = io.StringIO(), io.StringIO()
    fmt = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    logger = logging.getLogger("zeta_router.access")
    handlers = [logging.StreamHandler(batched), logging.StreamHandler(single)]
    for h in handlers:
        h.setFormatter(fmt)
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        logger.addHandler(handlers[0])
        t = Telemetry()
        t.record(_decision())
        t.record(_decision())
        t.flush()
        logger.removeHandler(handlers[0])
        logger.addHandler(handlers[1])
        for line in batched.getvalue().splitlines():
            logger.info(line.split(": ", 1)[1])
    finally:
        for h in handlers:
            logger.removeHandler(h)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
    assert batched.getvalue() == single.getvalue()
    assert len(batched.getvalue().splitlines()) == 2


def test_router_keeps_prompt_text_only_when_configured(harness: Harness) -> None:
    c = openai.OpenAI(base_url=harness.base_url, api_key="unused", max_retries=0)
    c.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hello there"}])
    harness.router.telemetry.flush()
    assert harness.router.telemetry.recent[-1].prompt is None


def test_status_and_metrics_show_load_and_feedback_scores(harness: Harness) -> None:
    c = openai.OpenAI(base_url=harness.base_url, api_key="unused", max_retries=0)
    raw = c.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": CODE_PROMPT}]
    )
    rid = raw.headers["x-zeta-request-id"]
    resp = httpx.post(harness.base_url + "/feedback", json={"request_id": rid, "rating": 5})
    assert resp.status_code == 200, resp.text
    s = status(harness)
    coder = next(m for m in s["models"] if m["name"] == "coder")
    assert (coder["queued"], coder["shed"], coder["saturated"]) == (0, 0, False)
    rated = [x for x in s["scores"] if (x["model"], x["task"]) == ("coder", "code")]
    assert rated and rated[0]["ratings"] >= 1
    metrics = httpx.get(harness.url + "/metrics").text
    assert 'zeta_admission_queue_depth{model="coder"} 0.0' in metrics
    assert 'zeta_feedback_score{model="coder",task="code"}' in metrics
