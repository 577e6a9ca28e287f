from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zeta_router.config import load_config, parse_config
from zeta_router.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def minimal(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"models": {"m": {"replicas": [{"url": "http://127.0.0.1:9001/v1"}]}}}
    doc.update(extra)
    return doc


def error_of(doc: Any) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config(doc, "router.yaml")
    return str(exc.value)


def test_the_reference_config_is_valid() -> None:
    cfg = load_config(ROOT / "examples" / "router.yaml")
    assert list(cfg.models) == ["brain", "coder", "embed"]
    assert cfg.models["brain"].replicas[0].upstream_model == "qwen2.5-14b-instruct"
    assert cfg.route_for("code") == ("coder", "brain")
    assert cfg.fallbacks["brain"] == ("coder",)
    assert cfg.server.max_body_bytes == 10 * 1024 * 1024


def test_errors_name_the_key() -> None:
    doc = minimal()
    doc["models"]["m"]["replicas"][0]["url"] = "ftp://x"
    assert "models.m.replicas[0].url: must be an http:// or https:// URL" in error_of(doc)


def test_unknown_keys_are_rejected() -> None:
    assert "models.m.replcas" in error_of({"models": {"m": {"replcas": []}}})
    assert "listen.prot" in error_of(minimal(listen={"prot": 1}))


def test_routes_must_name_known_models() -> None:
    assert "routes.code[1]: no model named 'ghost'" in error_of(
        minimal(routes={"code": ["m", "ghost"]})
    )
    assert "fallbacks.ghost: no model named 'ghost'" in error_of(
        minimal(fallbacks={"ghost": ["m"]})
    )


def test_replica_ids_must_be_unique() -> None:
    doc = minimal()
    doc["models"]["m"]["replicas"] = [
        {"url": "http://a:1", "id": "x"},
        {"url": "http://b:1", "id": "x"},
    ]
    assert "models.m.replicas[1].id: 'x' is already used" in error_of(doc)


def test_model_names_are_restricted() -> None:
    assert "'auto' is not a usable model name" in error_of(
        {"models": {"auto": {"replicas": [{"url": "http://a:1"}]}}}
    )


def test_no_models_is_an_error() -> None:
    assert "models" in error_of({})
    assert "top level must be a mapping" in error_of([1, 2])


def test_default_route_is_every_capable_model() -> None:
    cfg = parse_config(
        {
            "models": {
                "a": {"replicas": [{"url": "http://a:1"}]},
                "e": {"endpoints": ["embeddings"], "replicas": [{"url": "http://e:1"}]},
            }
        }
    )
    assert cfg.route_for("reasoning") == ("a",)
    assert cfg.route_for("embeddings") == ("e",)


def test_timeouts_are_overridable_per_model() -> None:
    doc = minimal(timeouts={"first_byte_s": 10})
    doc["models"]["m"]["timeouts"] = {"first_byte_s": 99}
    cfg = parse_config(doc)
    t = cfg.timeouts_for("m")
    assert t.first_byte_s == 99
    assert t.connect_s == cfg.timeouts.connect_s


def test_custom_tasks_become_routable() -> None:
    cfg = parse_config(
        minimal(
            analysis={"tasks": {"legal": {"examples": ["review this contract clause"]}}},
            routes={"legal": ["m"]},
        )
    )
    assert "legal" in cfg.tasks
    assert cfg.route_for("legal") == ("m",)


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text("models: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")


def test_deeply_nested_file_is_a_config_error(tmp_path: Path) -> None:
    p = tmp_path / "deep.yaml"
    p.write_text("models: " + "[" * 20000 + "]" * 20000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(p)
