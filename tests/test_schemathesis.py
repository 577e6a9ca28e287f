"""The router's own OpenAPI description (``GET /openapi.json``) against a live router:
schemathesis generates valid and invalid requests for every operation it describes, sends
them over a real socket, and checks that none is answered with a 500 (503 and 504 are the
router's declared answers to no capacity and to a client's own deadline) and that every
answer's status is one the description declares. Also: the description covers every route the app
serves, so it cannot fall behind.

Bounded (``max_examples`` per operation and mode, derandomized) to stay within seconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest
import requests
import schemathesis.openapi
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import status_code_conformance

from tests.conftest import BACKENDS, fleet_template
from zeta_router.http import server
from zeta_router.testing import Harness

KEY = "sk-schemathesis-key"
RUN = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def gw() -> Iterator[Harness]:
    t = fleet_template()
    t["models"]["ranker"] = {"endpoints": ["rerank"], "replicas": [{"url": "fake:e1"}]}
    # With a client key (sent with every case) and its limits: the whole request path runs.
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    t["auth"] = {
        "keys": [
            {"name": "st", "key_sha256": digest, "rpm": 10**6, "tpm": 10**9, "max_parallel": 64}
        ]
    }
    h = Harness(BACKENDS, t)
    yield h
    h.close()


def test_description_covers_every_route(gw: Harness) -> None:
    doc = httpx.get(gw.url + "/openapi.json").json()
    described = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops}
    served = {(p, m) for p, hs in gw.app._routes.items() for m in hs}
    served |= {(p, "POST") for p in server._INFERENCE}
    assert served - {("/models", "GET")} <= described, served - described


def test_no_operation_answers_5xx(gw: Harness) -> None:
    doc = httpx.get(gw.url + "/openapi.json").json()
    schema = schemathesis.openapi.from_dict(doc)
    schema.config.update(base_url=gw.url)
    headers = {"authorization": f"Bearer {KEY}"}
    failures: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            op = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @RUN
                @given(case=op.as_strategy(mode))
                def run(case: Case) -> None:
                    # Bodies of the agent and chat APIs would stream forever at random; the
                    # stream field is exercised, the fake backend's answer is short anyway.
                    resp = case.call(session=session, headers=headers, timeout=15)
                    # 503 (no capacity) and 504 (the client's own x-zeta-timeout-ms passed)
                    # are answers the description declares; a 500 is a bug, any other 5xx too.
                    if resp.status_code >= 500 and resp.status_code not in (503, 504):
                        failures.append(
                            f"{case.method} {case.path}: {resp.status_code} "
                            f"{resp.text[:300]} <- {case.body!r:.300}"
                        )
                    case.validate_response(resp, checks=[status_code_conformance])

                try:
                    run()
                except Unsatisfiable:
                    # Nothing to make invalid (a GET without parameters): no negative cases.
                    assert mode is GenerationMode.NEGATIVE, op.label
    assert not failures, failures
