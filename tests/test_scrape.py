"""Backend metric scraping: the Prometheus parser, each server's names, the scraper's round
against a fake getter and a real fake backend, and what stale figures mean."""

from __future__ import annotations

import pytest

from zeta_router.config import parse_config
from zeta_router.errors import FailureKind, UpstreamError
from zeta_router.fleet.scrape import (
    RECHECK_S,
    Scraper,
    load_from_samples,
    load_from_slots,
    metrics_url,
    parse_metrics,
    slots_url,
)
from zeta_router.fleet.state import Fleet, ScrapedLoad
from zeta_router.routing.admission import replica_saturation, saturation
from zeta_router.testing import FakeBackend
from zeta_router.testing.clock import ManualClock
from zeta_router.upstream.http_transport import HttpTransport

VLLM_PAGE = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="qwen 14b",engine="0"} 3.0
vllm:num_requests_running{model_name="qwen 14b",engine="1"} 2.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="qwen 14b",engine="0"} 4.0
vllm:num_requests_waiting{model_name="qwen 14b",engine="1"} NaN
vllm:kv_cache_usage_perc{model_name="qwen 14b",engine="0"} 0.5
vllm:kv_cache_usage_perc{model_name="qwen 14b",engine="1"} 0.75
vllm:prompt_tokens_total{model_name="qwen 14b"} 12345.0
process_cpu_seconds_total 1.5e3
"""


def test_parser_sums_counts_keeps_highest_usage_and_skips_nan() -> None:
    s = parse_metrics(VLLM_PAGE)
    assert s == {
        "vllm:num_requests_running": 5.0,
        "vllm:num_requests_waiting": 4.0,
        "vllm:kv_cache_usage_perc": 0.75,
    }


def test_parser_reads_unlabelled_lines_timestamps_and_ignores_garbage() -> None:
    text = (
        "llamacpp:requests_processing 2 1700000000000\n"
        "llamacpp:requests_deferred 7\n"
        'llamacpp:requests_deferred{x="}"} nope\n'
        "garbage line without value\n"
        "\n"
    )
    assert parse_metrics(text) == {
        "llamacpp:requests_processing": 2.0,
        "llamacpp:requests_deferred": 7.0,
    }


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        (
            {
                "vllm:num_requests_waiting": 4,
                "vllm:num_requests_running": 5,
                "vllm:kv_cache_usage_perc": 0.3,
            },
            ScrapedLoad(4, 5, 0.3, 9.0),
        ),
        (  # vLLM before the v1 engine named it gpu_cache_usage_perc
            {"vllm:num_requests_waiting": 0, "vllm:gpu_cache_usage_perc": 0.97},
            ScrapedLoad(0, 0, 0.97, 9.0),
        ),
        (
            {"llamacpp:requests_deferred": 2, "llamacpp:requests_processing": 1},
            ScrapedLoad(2, 1, None, 9.0),
        ),
        (
            {"sglang:num_queue_reqs": 3, "sglang:num_running_reqs": 8, "sglang:token_usage": 0.4},
            ScrapedLoad(3, 8, 0.4, 9.0),
        ),
    ],
)
def test_each_servers_names_map_to_one_load(
    samples: dict[str, float], expected: ScrapedLoad
) -> None:
    assert load_from_samples(samples, 9.0) == expected


def test_unknown_metrics_give_no_load() -> None:
    assert load_from_samples({"process_cpu_seconds_total": 3.0}, 9.0) is None


def test_llamacpp_slots() -> None:
    body = b'[{"id":0,"is_processing":true},{"id":1,"is_processing":false},{"id":2,"state":1}]'
    assert load_from_slots(body, 5.0) == ScrapedLoad(0.0, 2.0, 2 / 3, 5.0)
    assert load_from_slots(b"not json", 5.0) is None
    assert load_from_slots(b"[]", 5.0) is None


def test_urls_are_at_the_server_root() -> None:
    assert metrics_url("http://h:8000/v1") == "http://h:8000/metrics"
    assert metrics_url("http://h:8000") == "http://h:8000/metrics"
    assert slots_url("http://h:8080/v1") == "http://h:8080/slots"


Answer = tuple[int, bytes] | UpstreamError


def make(
    answers: dict[str, Answer], health: str = "auto"
) -> tuple[Scraper, Fleet, ManualClock, list[str]]:
    cfg = parse_config(
        {
            "models": {
                "m": {
                    "health": health,
                    "replicas": [
                        {"url": "http://a:1/v1", "id": "a"},
                        {"url": "http://b:1/v1", "id": "b"},
                    ],
                }
            }
        }
    )
    fleet = Fleet(cfg)
    clock = ManualClock(100.0)
    asked: list[str] = []

    async def get(url: str, timeout_s: float) -> tuple[int, bytes]:
        asked.append(url)
        a = answers.get(url, (404, b"not found"))
        if isinstance(a, UpstreamError):
            raise a
        return a

    return Scraper(cfg, fleet, get, clock=clock), fleet, clock, asked


async def test_scrape_once_sets_load_and_failures_leave_it_to_go_stale() -> None:
    page = b"vllm:num_requests_waiting 2\nvllm:num_requests_running 3\n"
    answers: dict[str, Answer] = {
        "http://a:1/metrics": (200, page),
        "http://b:1/metrics": (200, page),
    }
    scraper, fleet, clock, _ = make(answers)
    await scraper.scrape_once()
    a = fleet.replicas["a"]
    assert a.scraped == ScrapedLoad(2.0, 3.0, None, 100.0)
    answers["http://a:1/metrics"] = UpstreamError(FailureKind.CONNECT_TIMEOUT)
    clock.now = 115.0
    await scraper.scrape_once()
    assert a.scraped is not None and a.scraped.at == 100.0  # kept, now 15 s old
    assert fleet.replicas["b"].scraped is not None and fleet.replicas["b"].scraped.at == 115.0
    # Older than stale_after_s (10 s): saturated, whatever it said.
    assert str(replica_saturation(a, clock.now, 10.0, 0.95)) == "load metrics stale"


async def test_server_without_metrics_uses_slots_or_is_left_alone() -> None:
    answers: dict[str, Answer] = {
        "http://a:1/metrics": (501, b"metrics not enabled"),
        "http://a:1/slots": (200, b'[{"is_processing":true},{"is_processing":true}]'),
        "http://b:1/metrics": (404, b"404 page not found"),
    }
    scraper, fleet, clock, asked = make(answers)
    await scraper.scrape_once()
    assert fleet.replicas["a"].scraped == ScrapedLoad(0.0, 2.0, 1.0, 100.0)
    assert fleet.replicas["b"].scraped is None
    asked.clear()
    await scraper.scrape_once()
    # a goes straight to /slots now; b is not asked again for a while.
    assert asked == ["http://a:1/slots"]
    clock.now += RECHECK_S + 1
    asked.clear()
    await scraper.scrape_once()
    assert sorted(asked) == ["http://a:1/slots", "http://b:1/metrics", "http://b:1/slots"]


async def test_ollama_models_are_not_scraped() -> None:
    scraper, _, _, asked = make({}, health="ollama")
    await scraper.scrape_once()
    assert asked == []
    assert scraper.rounds == 1


def test_saturation_needs_every_replica_saturated() -> None:
    cfg = parse_config(
        {
            "models": {
                "m": {
                    "replicas": [
                        {"url": "http://a:1/v1", "max_concurrency": 2},
                        {"url": "http://b:1/v1"},
                    ]
                }
            }
        }
    )
    a, b = Fleet(cfg).models["m"].replicas
    a.in_flight = 2
    assert str(replica_saturation(a, 0.0, 10.0, 0.95)) == "2/2 in flight"
    assert saturation([a, b], 0.0, 10.0, 0.95) is None
    b.scraped = ScrapedLoad(waiting=3.0, at=0.0)
    assert str(saturation([a, b], 0.0, 10.0, 0.95)) == "2/2 in flight"
    assert str(replica_saturation(b, 0.0, 10.0, 0.95)) == "3 queued in the backend"
    b.scraped = ScrapedLoad(waiting=0.0, kv_usage=0.99, at=0.0)
    assert str(replica_saturation(b, 0.0, 10.0, 0.95)) == "KV cache 99% full"


@pytest.mark.parametrize("flavor", ["vllm", "llamacpp", "sglang"])
async def test_scrapes_a_real_fake_backend(flavor: str) -> None:
    backend = await FakeBackend("fb", flavor=flavor).start()  # type: ignore[arg-type]
    up = HttpTransport(ManualClock(100.0))
    try:
        cfg = parse_config({"models": {"m": {"replicas": [{"url": backend.url, "id": "x"}]}}})
        fleet = Fleet(cfg)
        backend.running, backend.waiting = 3, 5
        await Scraper(cfg, fleet, up.get, clock=ManualClock(7.0)).scrape_once()
        s = fleet.replicas["x"].scraped
        assert s is not None
        assert (s.waiting, s.running, s.at) == (5.0, 3.0, 7.0)
    finally:
        await up.close()
        await backend.stop()


async def test_ollama_flavor_404_leaves_router_counters() -> None:
    backend = await FakeBackend("ol", flavor="ollama").start()
    up = HttpTransport(ManualClock(100.0))
    try:
        cfg = parse_config({"models": {"m": {"replicas": [{"url": backend.url, "id": "x"}]}}})
        fleet = Fleet(cfg)
        await Scraper(cfg, fleet, up.get, clock=ManualClock(100.0)).scrape_once()
        assert fleet.replicas["x"].scraped is None
    finally:
        await up.close()
        await backend.stop()


@pytest.mark.parametrize("enabled", [True, False])
async def test_router_starts_and_stops_the_scraper(enabled: bool) -> None:
    from zeta_router.router import Router

    cfg = parse_config(
        {
            "health": {"enabled": False, "scrape_metrics": enabled},
            "models": {"m": {"replicas": [{"url": "http://127.0.0.1:9/v1"}]}},
        }
    )
    router = Router(cfg)
    await router.start()
    assert router.scraper.running is enabled
    await router.close()
    assert not router.scraper.running
