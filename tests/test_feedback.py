"""Per-(model, task) scores: outcomes and ratings move them within bounds, they decay back, they
reorder a route by at most what the bounds allow and never past the capability filter; and the
POST /v1/feedback endpoint's contract (404 unknown id, 422 bad rating, 400 bad body)."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import orjson
import pytest
import yaml

from zeta_router import cli
from zeta_router.config import Config, FeedbackSettings, parse_config
from zeta_router.errors import FailureKind, InvalidRequest, NotFound, Unprocessable
from zeta_router.fleet.outcome import SERVED, Reason
from zeta_router.routing.decision import Attempt, Decision
from zeta_router.routing.feedback import Feedback
from zeta_router.routing.policy import plan
from zeta_router.testing import Harness
from zeta_router.testing.clock import ManualClock


def served(
    fb: Feedback, rid: str, model: str, task: str, ttfb: float = 0.1, fails: tuple[str, ...] = ()
) -> Decision:
    d = Decision(rid, "chat", 0.0)
    d.task, d.model, d.replica, d.status, d.ttfb_s = task, model, f"{model}-0", 200, ttfb
    busy = Reason(FailureKind.UNAVAILABLE, "503 unavailable")
    d.attempts = [Attempt(m, f"{m}-0", busy, 0.01) for m in fails]
    d.attempts.append(Attempt(model, f"{model}-0", SERVED, ttfb))
    fb.remember(d)
    fb.observe(d)
    return d


def feedback(**settings: float) -> tuple[Feedback, ManualClock]:
    clock = ManualClock()
    return Feedback(FeedbackSettings(**settings), clock), clock  # type: ignore[arg-type]


def test_ratings_move_the_score_within_bounds() -> None:
    fb, _ = feedback()
    for i in range(50):
        served(fb, f"g{i}", "coder", "code")
        fb.rate(f"g{i}", 5)
    assert fb.score("coder", "code") == pytest.approx(1.5)
    for i in range(50):
        served(fb, f"b{i}", "brain", "code")
        fb.rate(f"b{i}", 1)
    assert fb.score("brain", "code") == pytest.approx(0.5)
    assert fb.score("brain", "reasoning") == 1.0  # per task
    row = next(r for r in fb.snapshot() if r["model"] == "brain")
    assert (row["ratings"], row["mean_rating"]) == (50, 1.0)


def test_rerating_replaces_the_previous_rating() -> None:
    fb, _ = feedback()
    served(fb, "r1", "coder", "code")
    fb.rate("r1", 5)
    out = fb.rate("r1", 3)
    assert out["score"] == pytest.approx(1.0)
    assert fb.snapshot()[0]["ratings"] == 1


def test_errors_and_slow_answers_lower_successes_recover() -> None:
    fb, _ = feedback()
    served(fb, "1", "coder", "code", ttfb=0.1, fails=("brain", "brain"))
    assert fb.score("brain", "code") == pytest.approx(0.9)
    assert fb.score("coder", "code") == 1.0
    served(fb, "2", "coder", "code", ttfb=0.5)  # 5x the norm of 0.1
    slow = fb.score("coder", "code")
    assert slow == pytest.approx(0.98)
    served(fb, "3", "coder", "code", ttfb=0.1)
    assert slow < fb.score("coder", "code") < 1.0


def test_client_errors_do_not_count_against_the_model() -> None:
    fb, _ = feedback()
    d = Decision("x", "chat", 0.0)
    d.task, d.status = "code", 400
    d.attempts = [Attempt("coder", "coder-0", Reason(FailureKind.CLIENT_ERROR, "4xx: bad"), 0.01)]
    fb.observe(d)
    assert fb.score("coder", "code") == 1.0


def test_scores_decay_back_to_neutral() -> None:
    fb, clock = feedback(decay_s=100.0)
    served(fb, "1", "brain", "code")
    fb.rate("1", 1)
    assert fb.score("brain", "code") == pytest.approx(0.8)
    clock.now += 100.0
    assert fb.score("brain", "code") == pytest.approx(1 - 0.2 / 2.718281828, rel=1e-3)
    clock.now += 10_000.0
    assert fb.score("brain", "code") == pytest.approx(1.0, abs=1e-6)


def test_forgets_old_request_ids() -> None:
    fb, _ = feedback(remember=2)
    for rid in ("a", "b", "c"):
        served(fb, rid, "coder", "code")
    with pytest.raises(NotFound):
        fb.rate("a", 4)
    fb.rate("c", 4)


def cfg() -> Config:
    return parse_config(
        {
            "models": {
                "brain": {"replicas": [{"url": "http://b:1/v1"}]},
                "coder": {"max_complexity": 0.6, "replicas": [{"url": "http://c:1/v1"}]},
                "small": {"replicas": [{"url": "http://s:1/v1"}]},
                "embed": {"endpoints": ["embeddings"], "replicas": [{"url": "http://e:1/v1"}]},
            },
            "routes": {"code": ["brain", "coder", "small"]},
        }
    )


def code_plan(config: Config, pinned: str | None = None):  # type: ignore[no-untyped-def]
    return plan(config, "code", "chat", pinned=pinned, prompt_tokens=10, max_tokens=None)


def rate_many(fb: Feedback, model: str, task: str, rating: int, n: int = 20) -> None:
    for i in range(n):
        served(fb, f"{model}-{rating}-{i}", model, task)
        fb.rate(f"{model}-{rating}-{i}", rating)


def test_strong_feedback_swaps_the_first_two_candidates_and_says_why() -> None:
    config = cfg()
    fb, _ = feedback()
    rate_many(fb, "brain", "code", 1)
    rate_many(fb, "coder", "code", 5)
    p = fb.reorder(code_plan(config), 0.5, config.models)
    assert [c.model for c in p.candidates] == ["coder", "brain", "small"]
    assert p.candidates[0].reason == ("route code, 2nd choice; feedback score 1.50 over brain 0.50")


def test_feedback_never_promotes_past_max_complexity_or_the_capability_filter() -> None:
    config = cfg()
    fb, _ = feedback()
    rate_many(fb, "brain", "code", 1)
    rate_many(fb, "coder", "code", 5)
    rate_many(fb, "embed", "code", 5)  # however it got there, embed cannot serve chat
    p = fb.reorder(code_plan(config), 0.9, config.models)  # above coder's 0.6
    assert [c.model for c in p.candidates] == ["brain", "coder", "small"]


def test_bounds_keep_the_preferred_model_within_one_place() -> None:
    config = cfg()
    fb, _ = feedback()
    rate_many(fb, "brain", "code", 1)
    rate_many(fb, "coder", "code", 1)
    rate_many(fb, "small", "code", 5)
    p = fb.reorder(code_plan(config), 0.5, config.models)
    # small (3rd) overtakes coder but not brain: the worst score still leaves brain 2nd at most.
    assert [c.model for c in p.candidates][:2] == ["brain", "small"]


def two_model_config() -> Config:
    return parse_config(
        {
            "models": {
                "a": {"replicas": [{"url": "http://a:1/v1"}]},
                "b": {"replicas": [{"url": "http://b:1/v1"}]},
            },
            "routes": {"simple": ["a", "b"]},
        }
    )


def simple_order(fb: Feedback, config: Config) -> list[str]:
    p = plan(config, "simple", "chat", pinned=None, prompt_tokens=10, max_tokens=None)
    return [c.model for c in fb.reorder(p, 0.2, config.models).candidates]


def test_three_bad_ratings_move_the_preferred_model_to_second_place_at_default_bounds() -> None:
    config = two_model_config()
    fb, clock = feedback()
    served(fb, "r1", "a", "simple")
    served(fb, "r2", "a", "simple")
    served(fb, "r3", "a", "simple")
    fb.rate("r1", 1)
    fb.rate("r2", 1)
    # Two ratings of 1 (score 0.6) are not enough ...
    assert simple_order(fb, config) == ["a", "b"]
    fb.rate("r3", 1)
    # ... the third takes a to the floor, 0.5, and b (neutral) takes its place.
    assert fb.score("a", "simple") == pytest.approx(0.5)
    assert simple_order(fb, config) == ["b", "a"]
    # It stays second while its score is more than the margin (0.45) below b's ...
    clock.now += 60
    assert simple_order(fb, config) == ["b", "a"]
    # ... and comes back as the score decays towards neutral (past 0.55 after about 63 s).
    clock.now += 10
    assert simple_order(fb, config) == ["a", "b"]


def test_three_good_ratings_promote_the_second_model() -> None:
    config = two_model_config()
    fb, _ = feedback()
    for i in range(3):
        served(fb, f"g{i}", "b", "simple")
        fb.rate(f"g{i}", 5)
    assert simple_order(fb, config) == ["b", "a"]


def test_pinned_plans_keep_their_order() -> None:
    config = cfg()
    fb, _ = feedback()
    rate_many(fb, "brain", "code", 1)
    rate_many(fb, "coder", "code", 5)
    p = code_plan(config, pinned="brain")
    assert fb.reorder(p, 0.5, config.models) is p


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"request_id": "x", "rating": 0}', Unprocessable),
        (b'{"request_id": "x", "rating": 6}', Unprocessable),
        (b'{"request_id": "x", "rating": "5"}', Unprocessable),
        (b'{"request_id": "x", "rating": true}', Unprocessable),
        (b'{"request_id": "x"}', Unprocessable),
        (b'{"request_id": "x", "rating": 3, "comment": 5}', Unprocessable),
        (b'{"rating": 3}', InvalidRequest),
        (b"[1, 2]", InvalidRequest),
        (b"{not json", InvalidRequest),
        (b'{"request_id": "x", "rating": 3}', NotFound),
    ],
)
def test_body_validation(body: bytes, error: type[Exception]) -> None:
    fb, _ = feedback()
    with pytest.raises(error):
        fb.rate_body(body)


def test_feedback_endpoint_end_to_end(harness: Harness) -> None:
    with httpx.Client(base_url=harness.base_url, timeout=10) as c:
        r = c.post(
            "/chat/completions",
            json={"model": "coder", "messages": [{"role": "user", "content": "hi"}]},
        )
        rid = r.headers["x-zeta-request-id"]
        ok = c.post("/feedback", json={"request_id": rid, "rating": 1, "comment": "wrong"})
        assert ok.status_code == 200
        body = ok.json()
        assert (body["model"], body["rating"]) == ("coder", 1)
        assert body["score"] < 1.0

        missing = c.post("/feedback", json={"request_id": "zr-nope-1", "rating": 3})
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "request_not_found"

        bad = c.post("/feedback", json={"request_id": rid, "rating": 9})
        assert bad.status_code == 422
        err = bad.json()["error"]
        assert (err["type"], err["param"]) == ("invalid_request_error", "rating")

        report = c.get("/feedback").json()
        assert any(
            s["model"] == "coder" and s["ratings"] >= 1 and s["score"] < 1.0
            for s in report["scores"]
        )
        assert {m["model"] for m in report["models"]} >= {"brain", "coder"}
        assert report["comments"][-1]["comment"] == "wrong"


def test_explain_shows_live_scores_and_applies_them(
    harness: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Runs last in this module: the ratings below stay on the shared harness router.
    with httpx.Client(base_url=harness.base_url, timeout=10) as c:
        for model, rating in (("brain", 1), ("coder", 5)):
            for _ in range(6):
                r = c.post(
                    "/chat/completions",
                    headers={"x-zeta-task": "reasoning"},
                    json={"model": model, "messages": [{"role": "user", "content": "why?"}]},
                )
                rid = r.headers["x-zeta-request-id"]
                assert c.post("/feedback", json={"request_id": rid, "rating": rating}).is_success
    cfg = tmp_path / "router.yaml"
    cfg.write_text(yaml.safe_dump(harness.config.model_dump(mode="json", exclude_none=True)))
    prompt = "Think step by step: why does ice float on water? Explain the reasoning."
    assert cli.main(["explain", "-c", str(cfg), "--json", "--url", harness.url, prompt]) == 0
    out = orjson.loads(capsys.readouterr().out)
    if out["route_task"] != "reasoning":
        pytest.skip(f"the analyzer routed the prompt to {out['route_task']}")
    assert [c["model"] for c in out["candidates"]][:2] == ["coder", "brain"]
    assert "feedback score 1.50 over brain 0.50" in out["candidates"][0]["reason"]
    live = {s["model"]: s["score"] for s in out["live"]["scores"] if s["task"] == "reasoning"}
    # At the bounds, give or take the decay since the ratings (a real clock).
    assert live["brain"] == pytest.approx(0.5, abs=0.01)
    assert live["coder"] == pytest.approx(1.5, abs=0.01)


def test_three_bad_ratings_reroute_over_the_real_gateway() -> None:
    """The same through the gateway: the openai SDK, real sockets, default feedback bounds."""
    h = Harness(
        ["fa", "fb"],
        {
            "health": {"enabled": False},
            "analysis": {"analyzer": "heuristic"},
            "models": {
                "a": {"replicas": [{"url": "fake:fa"}]},
                "b": {"replicas": [{"url": "fake:fb"}]},
            },
            "routes": {"simple": ["a", "b"]},
        },
    )
    try:
        client = openai.OpenAI(base_url=h.base_url, api_key="x", max_retries=0, timeout=10)

        def ask() -> tuple[str, str]:
            raw = client.chat.completions.with_raw_response.create(
                model="auto",
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={"x-zeta-task": "simple"},
            )
            return raw.headers["x-zeta-model"], raw.headers["x-zeta-request-id"]

        answers = [ask() for _ in range(3)]
        assert {m for m, _ in answers} == {"a"}
        for _, rid in answers:
            r = httpx.post(h.base_url + "/feedback", json={"request_id": rid, "rating": 1})
            assert r.status_code == 200
        model, _ = ask()
        assert model == "b"
        scores = httpx.get(h.base_url + "/feedback").json()["scores"]
        # At the floor, give or take the decay of the last few milliseconds.
        assert [s["score"] for s in scores if s["model"] == "a"] == [pytest.approx(0.5, abs=0.01)]
    finally:
        h.close()
