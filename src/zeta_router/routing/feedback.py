"""Scores per (model, task) that outcomes and user ratings move, within fixed bounds.

A score is a multiplier around 1.0. Failed attempts and answers much slower than the model's own
norm pull it down; successes pull it back towards neutral; ratings (``POST /v1/feedback``) move
it either way. Scores decay towards neutral with time, so a model that lost its traffic comes
back on its own instead of starving.

The score only reorders candidates that the static plan already found capable (endpoint, context
window) and, to be promoted, the model must accept the request's complexity
(``max_complexity``): no amount of feedback sends code to an embedding model. A model moves at
most one place: it swaps with the next one in the route when that one's score is higher by at
least ``SWAP_SHARE`` of the score range, so the preferred model can lose its first place and
never more.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from zeta_router.config import FeedbackSettings, Model
from zeta_router.errors import Blame, FailureKind, InvalidRequest, NotFound, Unprocessable
from zeta_router.fleet.outcome import Why
from zeta_router.routing.decision import Decision
from zeta_router.routing.policy import Candidate, Plan

Clock = Callable[[], float]

#: A failed attempt on the model.
ERROR_STEP = 0.05
#: An answer slower than SLOW_RATIO x the model's norm.
SLOW_STEP = 0.02
SLOW_RATIO = 2.0
#: A success moves this share of the way back to neutral.
RECOVER_SHARE = 0.02
#: Per rating point away from 3 (so 5 is +0.2, 1 is -0.2).
RATING_STEP = 0.1
#: How fast the per-model latency norm follows new samples.
NORM_ALPHA = 0.05
MAX_COMMENT_CHARS = 4000
#: Two neighbours in a route swap when the later one's score is higher by at least this share of
#: (max_score - min_score): 0.45 at the default bounds. More than two ratings of 1 (0.4) and
#: less than the whole way from neutral to the floor (0.5), so a model rated down to the floor
#: is clearly past it, and not tied at it, where the first moment of decay would undo the swap.
SWAP_SHARE = 0.45
#: Outcomes that say nothing about the model (the request was bad, or the client left).
_NOT_THE_MODEL = frozenset({FailureKind.CLIENT_ERROR, FailureKind.CANCELLED})


@dataclass(slots=True)
class Score:
    value: float = 1.0
    at: float = 0.0
    errors: int = 0
    slow: int = 0
    successes: int = 0
    ratings: int = 0
    rating_sum: int = 0


@dataclass(frozen=True, slots=True)
class _Served:
    model: str
    task: str


class Feedback:
    def __init__(self, settings: FeedbackSettings, clock: Clock) -> None:
        self.settings = settings
        self._clock = clock
        self._scores: dict[tuple[str, str], Score] = {}
        self._norms: dict[str, float] = {}
        #: Recently served request ids, oldest first, bounded by settings.remember.
        self._served: OrderedDict[str, _Served] = OrderedDict()
        self._rated: dict[str, int] = {}
        self.comments: deque[dict[str, Any]] = deque(maxlen=100)
        #: The other gateway instances' score offsets from neutral, summed (shared fleet state,
        #: its only writer: :meth:`set_remote`): a score is this instance's plus theirs, so the
        #: fleet learns from every instance's outcomes once, not N times apart.
        self._remote: dict[tuple[str, str], float] = {}

    # -- scores -------------------------------------------------------------------------------

    def configure(self, settings: FeedbackSettings) -> None:
        """A reload's settings; the learned scores stay."""
        self.settings = settings

    def _decayed(self, s: Score, now: float) -> float:
        if s.value == 1.0 or s.at == 0.0:
            return s.value
        return 1.0 + (s.value - 1.0) * math.exp(-(now - s.at) / self.settings.decay_s)

    def score(self, model: str, task: str, now: float | None = None) -> float:
        s = self._scores.get((model, task))
        if self._remote:
            return self._with_remote(model, task, s, now)
        if s is None:
            return 1.0
        return self._decayed(s, self._clock() if now is None else now)

    def _with_remote(self, model: str, task: str, s: Score | None, now: float | None) -> float:
        own = 1.0 if s is None else self._decayed(s, self._clock() if now is None else now)
        v = own + self._remote.get((model, task), 0.0)
        return min(self.settings.max_score, max(self.settings.min_score, v))

    def local_offsets(self) -> list[tuple[str, str, float]]:
        """This instance's scores as offsets from neutral, for the other instances."""
        now = self._clock()
        return [(m, t, self._decayed(s, now) - 1.0) for (m, t), s in self._scores.items()]

    def set_remote(self, offsets: dict[tuple[str, str], float]) -> None:
        """The other instances' offsets, summed per (model, task) (shared fleet state)."""
        self._remote = offsets

    def _move(self, model: str, task: str, delta: float, now: float) -> Score:
        key = (model, task)
        s = self._scores.get(key)
        if s is None:
            s = self._scores[key] = Score(at=now)
        v = self._decayed(s, now) + delta
        s.value = min(self.settings.max_score, max(self.settings.min_score, v))
        s.at = now
        return s

    def observe(self, d: Decision) -> None:
        """Account one finished request (called once, after its last byte)."""
        if not self.settings.enabled or not d.task:
            return
        now = self._clock()
        for a in d.attempts:
            if a.blame is Blame.REQUEST:
                continue  # the request's own fault says nothing about the model
            if not a.outcome.ok and a.outcome.label not in _NOT_THE_MODEL:
                self._move(a.model, d.task, -ERROR_STEP, now).errors += 1
        model = d.model
        if model is None or d.status != 200:
            return
        if d.stream_error is not None and d.stream_error.label is not Why.CLIENT_LEFT:
            self._move(model, d.task, -ERROR_STEP, now).errors += 1
        else:
            self._success(model, d.task, d.ttfb_s, now)

    def remember(self, d: Decision) -> None:
        """Keep an answered request's id for ratings. Called as the response is handed over,
        so a client may rate it as soon as it has the x-zeta-request-id header."""
        if d.model is None:
            return
        self._served[d.request_id] = _Served(d.model, d.task)
        if len(self._served) > self.settings.remember:
            old, _ = self._served.popitem(last=False)
            self._rated.pop(old, None)

    def _success(self, model: str, task: str, latency: float | None, now: float) -> None:
        slow = False
        if latency is not None:
            norm = self._norms.get(model)
            if norm is None:
                self._norms[model] = latency
            else:
                slow = latency > SLOW_RATIO * norm
                self._norms[model] = norm + NORM_ALPHA * (latency - norm)
        s = self._scores.get((model, task))
        if slow:
            self._move(model, task, -SLOW_STEP, now).slow += 1
        elif s is not None:
            current = self._decayed(s, now)
            self._move(model, task, (1.0 - current) * RECOVER_SHARE, now).successes += 1

    # -- ratings ------------------------------------------------------------------------------

    def rate(self, request_id: str, rating: int, comment: str | None = None) -> dict[str, Any]:
        served = self._served.get(request_id)
        if served is None:
            raise NotFound(
                f"No recent request with id '{request_id}' (ids are kept for the last "
                f"{self.settings.remember} answered requests)",
                param="request_id",
                code="request_not_found",
            )
        now = self._clock()
        # A second rating of the same answer replaces the first rather than adding to it.
        previous = self._rated.get(request_id)
        delta = (rating - 3) * RATING_STEP
        if previous is not None:
            delta -= (previous - 3) * RATING_STEP
        s = self._move(served.model, served.task, delta, now)
        if previous is None:
            s.ratings += 1
            s.rating_sum += rating
        else:
            s.rating_sum += rating - previous
        self._rated[request_id] = rating
        if comment:
            self.comments.append(
                {
                    "request_id": request_id,
                    "model": served.model,
                    "task": served.task,
                    "rating": rating,
                    "comment": comment,
                }
            )
        return {
            "object": "feedback",
            "request_id": request_id,
            "model": served.model,
            "task": served.task,
            "rating": rating,
            "score": round(s.value, 4),
        }

    def rate_body(self, raw: bytes) -> dict[str, Any]:
        """Validate a ``POST /v1/feedback`` body and record it."""
        try:
            body = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise InvalidRequest("the request body must be a JSON object")
        rid = body.get("request_id")
        if not isinstance(rid, str) or not rid:
            raise InvalidRequest(
                "'request_id' is required: the x-zeta-request-id of the answer", param="request_id"
            )
        rating = body.get("rating")
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise Unprocessable("'rating' must be an integer from 1 to 5", param="rating")
        comment = body.get("comment")
        if comment is not None and (
            not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS
        ):
            raise Unprocessable(
                f"'comment' must be a string of at most {MAX_COMMENT_CHARS} characters",
                param="comment",
            )
        return self.rate(rid, rating, comment)

    # -- use ----------------------------------------------------------------------------------

    def reorder(self, p: Plan, complexity: float, models: Mapping[str, Model]) -> Plan:
        """The plan reordered by this router's scores (see :func:`reorder`)."""
        if p.pinned is not None or len(p.candidates) < 2 or not (self._scores or self._remote):
            return p
        now = self._clock()
        scores = {c.model: self.score(c.model, p.task, now) for c in p.candidates}
        return reorder(p, complexity, models, scores, swap_margin(self.settings))

    def snapshot(self) -> list[dict[str, Any]]:
        now = self._clock()
        # Scores other instances moved show too (their counts stay theirs).
        none = Score()
        return [
            {
                "model": model,
                "task": task,
                "score": round(self.score(model, task, now), 4),
                "errors": s.errors,
                "slow": s.slow,
                "ratings": s.ratings,
                "mean_rating": round(s.rating_sum / s.ratings, 2) if s.ratings else None,
            }
            for (model, task) in sorted(self._scores.keys() | self._remote.keys())
            for s in (self._scores.get((model, task), none),)
        ]


def swap_margin(settings: FeedbackSettings) -> float:
    """How much higher a model's score must be than its predecessor's to take its place."""
    return SWAP_SHARE * (settings.max_score - settings.min_score)


def reorder(
    p: Plan,
    complexity: float,
    models: Mapping[str, Model],
    scores: Mapping[str, float],
    margin: float,
) -> Plan:
    """The plan with neighbours swapped where the later one's score beats the earlier one's by
    at least ``margin``. Pairs are taken from the front and do not overlap, so no model moves
    more than one place. Pinned plans keep their order; a model whose max_complexity is below
    the request's may fall back but is never promoted."""
    cands = p.candidates
    if p.pinned is not None or len(cands) < 2:
        return p
    out = list(cands)
    swapped = False
    i = 0
    while i + 1 < len(out):
        ahead, behind = out[i], out[i + 1]
        gain = scores.get(behind.model, 1.0) - scores.get(ahead.model, 1.0)
        if gain >= margin and models[behind.model].max_complexity >= complexity:
            promoted = Candidate(
                behind.model,
                f"{behind.reason}; feedback score {scores.get(behind.model, 1.0):.2f} over "
                f"{ahead.model} {scores.get(ahead.model, 1.0):.2f}",
            )
            out[i], out[i + 1] = promoted, ahead
            swapped = True
            i += 2
        else:
            i += 1
    if not swapped:
        return p
    return Plan(p.task, tuple(out), p.skipped, p.pinned)
