"""Pure pieces of the request path: the plan, request validation, model-field rewriting."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
import pytest

from zeta_router.analysis import build_analyzer
from zeta_router.config import Config, Model, parse_config
from zeta_router.errors import InvalidRequest, ModelNotFound
from zeta_router.http.protocol import parse_request, set_model, upstream_model_in
from zeta_router.routing.engine import Planner, decide
from zeta_router.routing.policy import Plan, TaskNotApplicable, plan, task_named

from .conftest import fleet_template


@pytest.fixture(scope="module")
def cfg():  # type: ignore[no-untyped-def]
    t = fleet_template()
    for model in t["models"].values():
        for r in model["replicas"]:
            r["url"] = "http://127.0.0.1:1/v1"
    return parse_config(t)


def test_plan_follows_the_route(cfg) -> None:  # type: ignore[no-untyped-def]
    p = plan(cfg, "code", "chat", pinned=None, prompt_tokens=10, max_tokens=None)
    assert [c.model for c in p.candidates] == ["coder", "brain", "small"]
    assert p.candidates[1].reason == "route code, 2nd choice"
    assert p.skipped == ()


def test_plan_filters_by_context_window_with_max_tokens(cfg) -> None:  # type: ignore[no-untyped-def]
    p = plan(cfg, "reasoning", "chat", pinned=None, prompt_tokens=1500, max_tokens=1000)
    assert [c.model for c in p.candidates] == ["brain", "coder"]
    assert p.skipped == (("small", "context window 2048 < 2500 tokens needed"),)


def test_pinned_model_uses_configured_fallbacks(cfg) -> None:  # type: ignore[no-untyped-def]
    p = plan(cfg, "code", "chat", pinned="brain", prompt_tokens=10, max_tokens=None)
    assert [c.model for c in p.candidates] == ["brain", "coder", "small"]
    assert p.candidates[0].reason == "pinned by request"
    assert p.candidates[1].reason == "configured fallback for brain"


def test_pinned_model_without_fallbacks_uses_rest_of_route(cfg) -> None:  # type: ignore[no-untyped-def]
    p = plan(cfg, "reasoning", "chat", pinned="small", prompt_tokens=10, max_tokens=None)
    assert [c.model for c in p.candidates] == ["small", "brain", "coder"]


def test_pinning_errors(cfg) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelNotFound):
        plan(cfg, "code", "chat", pinned="nope", prompt_tokens=1, max_tokens=None)
    with pytest.raises(InvalidRequest):
        plan(cfg, "code", "chat", pinned="embed", prompt_tokens=1, max_tokens=None)


def test_embeddings_never_reach_chat_models(cfg) -> None:  # type: ignore[no-untyped-def]
    p = plan(cfg, "embeddings", "embeddings", pinned=None, prompt_tokens=5, max_tokens=None)
    assert [c.model for c in p.candidates] == ["embed"]


class _NoScores:
    def reorder(self, p: Plan, complexity: float, models: Mapping[str, Model]) -> Plan:
        return p


def test_a_task_named_for_an_endpoint_that_is_its_own_task_is_refused(cfg: Config) -> None:
    assert task_named("chat", "code") is None
    assert task_named("embeddings", None) is None
    refused = task_named("embeddings", "code")
    assert refused == TaskNotApplicable("embeddings")
    assert task_named("rerank", "simple") == TaskNotApplicable("rerank")
    err = refused.error()
    assert (err.status, err.param) == (400, "x-zeta-task")
    assert err.message == "x-zeta-task does not apply to embeddings"
    # The engine's decision path, which serving and explain share, refuses it before anything.
    planner = Planner(cfg, build_analyzer(cfg.analysis))
    embed = parse_request("embeddings", b'{"input": "hi"}')
    with pytest.raises(InvalidRequest) as raised:
        decide(planner, _NoScores(), embed, "code")
    assert raised.value.param == "x-zeta-task"
    assert decide(planner, _NoScores(), embed, None).plan.preferred == "embed"
    chat = parse_request("chat", b'{"messages": [{"role": "user", "content": "hi"}]}')
    assert decide(planner, _NoScores(), chat, "code").task == "code"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "auto", "messages": [{"role": "user", "content": "hi"}]}',
        b'{"messages": [{"role": "user", "content": "say \\"model\\": \\"x\\""}], "model":"auto"}',
        b'{ "messages": [{"role": "user", "content": "hi"}] }',
        b'{"model":"auto","messages":[{"role":"user","content":"hi"}],"metadata":{"model":"x"}}',
        b'{"model": "a\\u00e9", "messages": [{"role": "user", "content": "hi"}]}',
    ],
)
def test_set_model_keeps_everything_else(raw: bytes) -> None:
    req = parse_request("chat", raw)
    out = set_model(req.raw, req.body, "qwen2.5")
    decoded = orjson.loads(out)
    expected = dict(req.body)
    expected["model"] = "qwen2.5"
    assert decoded == expected


def test_set_model_splices_without_reencoding() -> None:
    raw = b'{"model": "auto",   "messages": [{"role": "user", "content": "x"}],  "n": 1}'
    out = set_model(raw, orjson.loads(raw), "m")
    assert out == raw.replace(b'"auto"', b'"m"')


def test_upstream_model_in_first_event() -> None:
    block = b'data: {"id":"1","model":"qwen","choices":[]}\r\n\r\n'
    assert upstream_model_in(block) == "qwen"
    assert upstream_model_in(b"data: [DONE]\n\n") is None


def test_parse_request_reads_options() -> None:
    req = parse_request(
        "chat",
        b'{"model":"coder","stream":true,"max_completion_tokens":7,'
        b'"messages":[{"role":"system","content":"be brief"},'
        b'{"role":"user","content":[{"type":"text","text":"hello"},'
        b'{"type":"image_url","image_url":{"url":"data:x"}}]}]}',
    )
    assert req.model == "coder"
    assert req.stream is True
    assert req.max_tokens == 7
    assert req.prompt is not None
    assert req.prompt.system == "be brief"
    assert req.prompt.last_user == "hello"


def test_image_only_message_is_not_empty() -> None:
    req = parse_request(
        "chat",
        b'{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}',
    )
    assert req.prompt is not None


def test_token_prompts_count_toward_context() -> None:
    req = parse_request("completions", b'{"prompt": [1, 2, 3, 4]}')
    assert req.input_chars == 16
