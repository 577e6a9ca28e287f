"""Typed, immutable configuration, validated once at the edge.

Everything inside the router works with these frozen objects; nothing downstream re-reads YAML
or digs through dicts. Validation errors name the offending key the way a user wrote it
(``models.brain.replicas[0].url: ...``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from zeta_router.errors import ConfigError

Endpoint = Literal["chat", "completions", "embeddings", "rerank"]
ENDPOINTS: tuple[Endpoint, ...] = ("chat", "completions", "embeddings", "rerank")
BUILTIN_TASKS = ("code", "reasoning", "simple", "retrieval", "embeddings")
#: Endpoints that are their own task: nothing to classify, routed to models serving them.
ENDPOINT_TASKS: tuple[Endpoint, ...] = ("embeddings", "rerank")
#: The agent APIs routed like chat: served by every chat model, natively or translated.
Api = Literal["responses", "messages"]
ApiPath = Literal["native", "translate"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")

PositiveFloat = Annotated[float, Field(gt=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Listen(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class ServerSettings(_Frozen):
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    #: Name of the environment variable holding the admin token for /v1/router/* writes.
    admin_token_env: str | None = None
    #: Log prompt text in the per-request log line (off: prompts are user data).
    log_prompts: bool = False
    access_log: bool = True
    #: On SIGTERM, how long in-flight requests and streams may take to finish before they are cut.
    shutdown_timeout_s: PositiveFloat = 30.0
    #: A client has this long from its first byte (or its connection) to send a request's
    #: headers, then ``body_timeout_s`` for the body: a slowloris cannot hold a connection.
    header_timeout_s: PositiveFloat = 10.0
    body_timeout_s: PositiveFloat = 60.0
    #: Request line plus headers, in bytes and in count (431 beyond either).
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)
    max_headers: int = Field(default=100, ge=8)
    #: Messages in one request, and characters in its largest single content part (413).
    max_messages: int = Field(default=4096, ge=1)
    max_part_chars: int = Field(default=4 * 1024 * 1024, ge=1)


class Timeouts(_Frozen):
    connect_s: PositiveFloat = 2.0
    first_byte_s: PositiveFloat = 60.0
    idle_s: PositiveFloat = 30.0
    total_s: PositiveFloat = 300.0
    #: A non-stream answer's first byte comes when the whole answer is done: on top of
    #: ``first_byte_s`` it may take the request's max tokens times the replica's measured
    #: decode time per token (at least this value), three times over, up to ``generation_s``.
    decode_s_per_token: PositiveFloat = 0.05
    generation_s: PositiveFloat = 240.0


class TimeoutOverride(_Frozen):
    connect_s: PositiveFloat | None = None
    first_byte_s: PositiveFloat | None = None
    idle_s: PositiveFloat | None = None
    total_s: PositiveFloat | None = None
    decode_s_per_token: PositiveFloat | None = None
    generation_s: PositiveFloat | None = None

    def over(self, base: Timeouts) -> Timeouts:
        changes = {k: v for k, v in self.model_dump().items() if v is not None}
        return base.model_copy(update=changes) if changes else base


class RetrySettings(_Frozen):
    #: Attempts per request across all replicas and models, the first one included.
    max_attempts: int = Field(default=4, ge=1, le=20)
    #: Retries may add at most this share of the request rate ...
    budget_ratio: float = Field(default=0.2, ge=0, le=10)
    #: ... plus this many retries per second, so a quiet router can still retry.
    budget_min_per_s: float = Field(default=5.0, ge=0)
    backoff_base_s: float = Field(default=0.05, ge=0)
    backoff_max_s: float = Field(default=1.0, ge=0)


class BreakerSettings(_Frozen):
    consecutive_failures: int = Field(default=5, ge=1)
    failure_rate: float = Field(default=0.5, gt=0, le=1)
    window_s: PositiveFloat = 30.0
    min_samples: int = Field(default=10, ge=1)
    eject_base_s: PositiveFloat = 5.0
    eject_max_s: PositiveFloat = 120.0
    half_open_probes: int = Field(default=1, ge=1)


class HealthSettings(_Frozen):
    enabled: bool = True
    interval_s: PositiveFloat = 5.0
    timeout_s: PositiveFloat = 2.0
    #: Consecutive failed probes before a replica is marked down (one blip is not an outage).
    unhealthy_after: int = Field(default=2, ge=1)
    #: A replica that recovers takes a growing share of traffic over this many seconds.
    slow_start_s: float = Field(default=10.0, ge=0)
    #: Scrape backend /metrics (vLLM, llama.cpp, SGLang) for queue depth.
    scrape_metrics: bool = True
    #: Scraped load older than this counts as saturated.
    stale_after_s: PositiveFloat = 10.0
    #: Seconds between metric scrapes (keep well under stale_after_s).
    scrape_interval_s: PositiveFloat = 2.0


class AffinitySettings(_Frozen):
    """Cache affinity (see routing/affinity.py): chat and completions requests go to the
    replica that probably holds their prompt's prefix, within a bound on its load."""

    enabled: bool = True
    #: The affine replica takes a request only while its load stays within
    #: load_factor x the mean load of the model's usable replicas (this request included).
    load_factor: float = Field(default=1.25, ge=1)
    #: Honour a session the client names (x-zeta-session, prompt_cache_key, user).
    sessions: bool = True
    #: A shared prefix shorter than this is no reason to prefer a replica.
    min_prefix_chars: int = Field(default=256, ge=0)
    #: Long messages are hashed in blocks of this many characters.
    block_chars: int = Field(default=1024, ge=64)
    max_blocks_per_replica: int = Field(default=8192, ge=1)
    max_sessions: int = Field(default=16384, ge=1)
    #: Prefixes routed longer ago than this are assumed evicted.
    ttl_s: PositiveFloat = 600.0
    #: With state.backend redis: how often this instance publishes what it routed to the
    #: others (their affinity is about this much behind).
    share_interval_s: PositiveFloat = 0.1


class BalancerSettings(_Frozen):
    strategy: str = "p2c-ewma"
    #: Decay of the peak-EWMA latency estimate.
    ewma_decay_s: PositiveFloat = 10.0
    #: p2c-ewma leaves out a replica whose latency estimate is more than this many times the
    #: best usable replica's while any other has room (0: never).
    outlier_ratio: float = Field(default=5.0, ge=0)
    affinity: AffinitySettings = AffinitySettings()


class AdmissionSettings(_Frozen):
    #: Requests that may wait per model when every replica is at max_concurrency.
    queue_size: int = Field(default=256, ge=0)
    #: Seconds of waiting that lift a request by one priority level, so nothing starves.
    ageing_s: PositiveFloat = 5.0
    #: Default overall deadline when the client gives no x-zeta-timeout-ms.
    default_deadline_s: PositiveFloat | None = None
    #: Send a request to the next capable model of its route when the preferred one is
    #: saturated (and the model's max_complexity allows the task); off: always wait.
    spill: bool = True
    #: Scraped KV-cache use at or above this counts as saturated.
    kv_cache_full: float = Field(default=0.95, gt=0, le=1)


class FeedbackSettings(_Frozen):
    enabled: bool = True
    #: Bounds of the per-(model, task) score multiplier.
    min_score: float = Field(default=0.5, gt=0, le=1)
    max_score: float = Field(default=1.5, ge=1, le=4)
    #: Time constant with which scores return to neutral (1.0).
    decay_s: PositiveFloat = 600.0
    #: Answered request ids kept for POST /v1/feedback.
    remember: int = Field(default=10000, ge=1)


class HedgeSettings(_Frozen):
    enabled: bool = False
    #: Fire the hedge once the first byte is later than this quantile of the replica's TTFB.
    quantile: float = Field(default=0.95, gt=0, lt=1)
    min_delay_s: float = Field(default=0.05, ge=0)


class ResponsesSettings(_Frozen):
    """The in-memory store behind the Responses API's ``previous_response_id``."""

    #: Responses kept (0: none; previous_response_id is then refused with a 400).
    store_size: int = Field(default=1000, ge=0)
    #: Total JSON size of the conversations kept.
    store_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    store_ttl_s: PositiveFloat = 3600.0


class StateSettings(_Frozen):
    """Where the fleet view lives: in this process (``memory``), or in Redis, shared by every
    instance with the same ``url`` and ``key_prefix`` (see the README, "Deploying several
    instances")."""

    backend: Literal["memory", "redis"] = "memory"
    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = Field(default="zeta:", min_length=1, max_length=64)
    #: A request waits at most this long for Redis (its one exact check) before it goes on
    #: on local state; Redis is then left alone for ``retry_s``.
    timeout_ms: float = Field(default=30.0, gt=0, le=1000)
    retry_s: PositiveFloat = 1.0
    #: How often the local view of the shared state is refreshed (one round trip each).
    sync_interval_s: float = Field(default=0.25, gt=0, le=10)
    #: An instance that stops refreshing its entries (it died) has its in-flight counts
    #: expire after this long.
    instance_ttl_s: float = Field(default=5.0, ge=1, le=600)
    #: How long one instance holds the right to probe a half-open replica.
    probe_lease_s: PositiveFloat = 10.0

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if urlsplit(v).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return v


class TaskDefinition(_Frozen):
    """A custom task for the semantic analyzer: a name plus example prompts."""

    description: str = ""
    examples: tuple[str, ...] = ()


class AnalysisSettings(_Frozen):
    analyzer: str = "auto"
    #: Task used when the analyzer's confidence is below ``min_confidence``.
    default_task: str = "simple"
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    cache_size: int = Field(default=4096, ge=0)
    cache_ttl_s: PositiveFloat = 300.0
    tasks: Mapping[str, TaskDefinition] = Field(default_factory=dict)


class Launch(_Frozen):
    """How the router starts a managed model server for a replica."""

    command: str | tuple[str, ...]
    env: Mapping[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    ready_path: str = "/health"
    start_timeout_s: PositiveFloat = 180.0
    #: Port the server listens on; ``{port}`` in the command expands to it. Taken from the
    #: replica URL when absent.
    port: int | None = Field(default=None, ge=1, le=65535)
    host: str = "127.0.0.1"
    restart_backoff_s: PositiveFloat = 1.0
    restart_backoff_max_s: PositiveFloat = 30.0
    #: Restarts in a row after failed starts (a run that served at least
    #: ``restart_backoff_max_s`` resets the count) before the supervisor gives up and leaves
    #: the replica ``failed``; None restarts forever.
    max_restarts: int | None = Field(default=10, ge=0)
    log_dir: str | None = None


HealthKind = Literal["auto", "llamacpp", "vllm", "ollama", "sglang", "openai", "none"]

#: Which agent APIs a backend kind serves itself (relayed as they are); every other pair is
#: translated to and from chat completions. ``auto`` and ``none`` say nothing about the
#: backend, so they translate, which every chat server understands.
NATIVE_APIS: Mapping[HealthKind, frozenset[Api]] = {
    "llamacpp": frozenset({"responses", "messages"}),
    "vllm": frozenset({"responses"}),
}


class Replica(_Frozen):
    url: str
    id: str | None = None
    upstream_model: str | None = None
    api_key_env: str | None = None
    max_concurrency: int | None = Field(default=None, ge=1)
    weight: float = Field(default=1.0, gt=0)
    launch: Launch | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        _ = parts.port  # raises ValueError when the port is not a number in 0-65535
        return v.rstrip("/")


class Model(_Frozen):
    endpoints: tuple[Endpoint, ...] = ("chat", "completions")
    context_window: int | None = Field(default=None, ge=1)
    replicas: tuple[Replica, ...] = Field(min_length=1)
    #: Highest task complexity this model should take when a request spills over to it.
    max_complexity: float = Field(default=1.0, ge=0, le=1)
    timeouts: TimeoutOverride = TimeoutOverride()
    health: HealthKind = "auto"
    #: Per agent API, ``native`` (relay /v1/responses or /v1/messages as is) or ``translate``
    #: (to and from chat completions); unset ones follow NATIVE_APIS for the ``health`` kind.
    apis: Mapping[Api, ApiPath] = Field(default_factory=dict)
    description: str = ""
    #: The largest ``max_tokens`` a request to this model may ask for (400 above it).
    max_tokens: int | None = Field(default=None, ge=1)

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, v: tuple[Endpoint, ...]) -> tuple[Endpoint, ...]:
        if not v:
            raise ValueError("a model needs at least one endpoint")
        return tuple(dict.fromkeys(v))

    @model_validator(mode="after")
    def _apis_need_chat(self) -> Model:
        if self.apis and "chat" not in self.endpoints:
            raise ValueError(
                "apis: the agent APIs are served by chat models; add chat to endpoints"
            )
        return self

    def native(self, api: Api) -> bool:
        """Whether this model's backend is sent ``api`` requests as they are."""
        path = self.apis.get(api)
        if path is None:
            return api in NATIVE_APIS.get(self.health, frozenset())
        return path == "native"


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _KeyMaterial(_Frozen):
    """Where a key's secret comes from: its SHA-256 (hex), or an environment variable read
    when the config is loaded. The digest is all that is kept; it is never dumped."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
    key_sha256: str | None = None
    key_env: str | None = None
    _digest: bytes = PrivateAttr(default=b"")

    @model_validator(mode="after")
    def _material(self) -> _KeyMaterial:
        if (self.key_sha256 is None) == (self.key_env is None):
            raise ValueError(f"key {self.name!r}: give exactly one of key_sha256 and key_env")
        if self.key_sha256 is not None:
            if not _SHA256.match(self.key_sha256.lower()):
                raise ValueError(f"key {self.name!r}: key_sha256 must be 64 hex digits")
            self._digest = bytes.fromhex(self.key_sha256)
        else:
            assert self.key_env is not None
            value = os.environ.get(self.key_env)
            if not value:
                raise ValueError(f"key {self.name!r}: the variable {self.key_env} is not set")
            self._digest = hashlib.sha256(value.encode()).digest()
        return self

    @property
    def digest(self) -> bytes:
        return self._digest


class ClientKey(_KeyMaterial):
    """One client of the gateway: which models it may use and how much."""

    #: Models this key may ask for by name; ``auto`` routes among them. Empty: every model.
    models: tuple[str, ...] = ()
    rpm: int | None = Field(default=None, ge=1)
    #: Tokens per minute: each request is charged its prompt estimate plus its max tokens,
    #: then what the upstream reports it used.
    tpm: int | None = Field(default=None, ge=1)
    max_parallel: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)


class AdminKey(_KeyMaterial):
    """A key for reload, status, history and the dashboard's data; never for inference."""


class Auth(_Frozen):
    keys: tuple[ClientKey, ...] = ()
    admin_keys: tuple[AdminKey, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Auth:
        names: set[str] = set()
        digests: set[bytes] = set()
        for k in (*self.keys, *self.admin_keys):
            if k.name in names:
                raise ValueError(f"key {k.name!r}: the name is used twice")
            if k.digest in digests:
                raise ValueError(f"key {k.name!r}: the same secret as another key")
            names.add(k.name)
            digests.add(k.digest)
        return self


class Config(_Frozen):
    listen: Listen = Listen()
    server: ServerSettings = ServerSettings()
    timeouts: Timeouts = Timeouts()
    retry: RetrySettings = RetrySettings()
    breaker: BreakerSettings = BreakerSettings()
    health: HealthSettings = HealthSettings()
    balancer: BalancerSettings = BalancerSettings()
    admission: AdmissionSettings = AdmissionSettings()
    hedge: HedgeSettings = HedgeSettings()
    feedback: FeedbackSettings = FeedbackSettings()
    analysis: AnalysisSettings = AnalysisSettings()
    responses: ResponsesSettings = ResponsesSettings()
    state: StateSettings = StateSettings()
    models: Mapping[str, Model] = Field(min_length=1)
    routes: Mapping[str, tuple[str, ...]] = Field(default_factory=dict)
    fallbacks: Mapping[str, tuple[str, ...]] = Field(default_factory=dict)
    auth: Auth = Auth()

    @field_validator("models")
    @classmethod
    def _model_names(cls, v: Mapping[str, Model]) -> Mapping[str, Model]:
        for name in v:
            if name == "auto" or not _NAME.match(name):
                raise ValueError(f"{name!r} is not a usable model name")
        return v

    @model_validator(mode="after")
    def _references(self) -> Config:
        known = set(self.models)
        for section in ("routes", "fallbacks"):
            table: Mapping[str, tuple[str, ...]] = getattr(self, section)
            for key, names in table.items():
                if section == "fallbacks" and key not in known:
                    raise ValueError(f"{section}.{key}: no model named {key!r}")
                for i, name in enumerate(names):
                    if name not in known:
                        raise ValueError(f"{section}.{key}[{i}]: no model named {name!r}")
        seen: dict[str, str] = {}
        for name, model in self.models.items():
            for i, rep in enumerate(model.replicas):
                rid = replica_id(name, i, rep)
                if rid in seen:
                    raise ValueError(
                        f"models.{name}.replicas[{i}].id: {rid!r} is already used by {seen[rid]}"
                    )
                seen[rid] = f"models.{name}.replicas[{i}]"
        for i, client in enumerate(self.auth.keys):
            for j, name in enumerate(client.models):
                if name not in known:
                    raise ValueError(
                        f"auth.keys[{i}].models[{j}]: key {client.name!r} names no model {name!r}"
                    )
        if self.analysis.default_task not in self.tasks:
            raise ValueError(
                f"analysis.default_task: {self.analysis.default_task!r} is not a known task"
            )
        return self

    @functools.cached_property
    def tasks(self) -> tuple[str, ...]:
        # Cached: asked on every request, and the config is frozen.
        rerank = ("rerank",) if any("rerank" in m.endpoints for m in self.models.values()) else ()
        extra = [t for t in (*rerank, *self.analysis.tasks, *self.routes) if t not in BUILTIN_TASKS]
        return (*BUILTIN_TASKS, *dict.fromkeys(extra))

    def route_for(self, task: str) -> tuple[str, ...]:
        """The models for a task, in order; every capable model when no route is given."""
        if task in self.routes:
            return self.routes[task]
        endpoint: Endpoint = "embeddings" if task == "embeddings" else "chat"
        if task == "rerank":
            endpoint = "rerank"
        return tuple(n for n, m in self.models.items() if endpoint in m.endpoints)

    def timeouts_for(self, model: str) -> Timeouts:
        return _merged_timeouts(self.models[model].timeouts, self.timeouts)


@functools.lru_cache(maxsize=256)
def _merged_timeouts(override: TimeoutOverride, base: Timeouts) -> Timeouts:
    # Asked once per upstream attempt; the merge (model_dump + copy) cost more than the rest
    # of the routing decision. Both models are frozen, hence hashable and safe to memoise.
    return override.over(base)


def replica_id(model: str, index: int, replica: Replica) -> str:
    return replica.id or f"{model}-{index}"


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "tagged-union")) or part in ("str", "tuple[str, ...]"):
            continue
        else:
            out += f".{part}" if out else part
    return out


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Validate a decoded YAML/JSON document; errors name the key the user wrote."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False, include_input=False):
            where = _format_loc(tuple(err["loc"]))
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"{where}: {msg}" if where else msg)
        raise ConfigError(f"{source}: invalid config\n  " + "\n  ".join(lines)) from None


def yaml_error(exc: yaml.YAMLError) -> str:
    """A YAML error with its position but without the quoted source line, which may hold a
    replica URL's password (the message goes to logs and the reload endpoint's answer)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        return f"{exc.problem or exc.context or 'syntax error'}{where}"
    return str(exc)


def load_config(path: str | os.PathLike[str]) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config ({exc.strerror})") from None
    return parse_config(read_yaml(text, str(p)), str(p))


def read_yaml(text: str | bytes, source: str) -> Any:
    """Decode a YAML (or JSON) document; every failure is a ConfigError naming ``source``."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML or JSON: {yaml_error(exc)}") from None
    except RecursionError:  # PyYAML recurses once per nesting level
        raise ConfigError(f"{source}: not valid YAML or JSON: nested too deeply") from None
