"""The admission queue: priority order, FIFO within a level, ageing, shedding with 429 and
Retry-After, deadlines, cancellation. Driven with a hand-moved clock; tasks only yield to the
event loop to reach their wait, nothing sleeps."""

from __future__ import annotations

import asyncio

import pytest

from zeta_router.config import AdmissionSettings
from zeta_router.errors import Overloaded
from zeta_router.http.protocol import PRIORITIES
from zeta_router.routing.admission import Admission
from zeta_router.testing.clock import ManualClock

LOW, NORMAL, HIGH, URGENT = (PRIORITIES[k] for k in ("low", "normal", "high", "urgent"))
FAR = 1e9


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def admission(**settings: float) -> tuple[Admission, ManualClock]:
    clock = ManualClock()
    return Admission(AdmissionSettings(**settings), clock), clock  # type: ignore[arg-type]


async def drain(
    adm: Admission, model: str, names: list[str], tasks: list[asyncio.Task[str]]
) -> list[str]:
    served: list[str] = []
    for _ in names:
        adm.release(model)
        await settle()
        served.extend(t.result() for t in tasks if t.done() and t.result() not in served)
    return served


def waiter(adm: Admission, name: str, priority: int, deadline: float = FAR) -> asyncio.Task[str]:
    async def run() -> str:
        await adm.wait("m", priority, deadline, 0.01, 1)
        return name

    return asyncio.get_running_loop().create_task(run())


async def test_priority_order_then_fifo() -> None:
    adm, clock = admission()
    order = [("low", LOW), ("n1", NORMAL), ("urgent", URGENT), ("n2", NORMAL), ("high", HIGH)]
    tasks = []
    for name, prio in order:
        tasks.append(waiter(adm, name, prio))
        clock.now += 0.01
        await settle()
    assert adm.waiting("m") == 5 and adm.pending == 5
    served = await drain(adm, "m", [n for n, _ in order], tasks)
    assert served == ["urgent", "high", "n1", "n2", "low"]
    assert adm.pending == 0 and not adm.busy("m")
    assert adm.admitted_after_wait["m"] == 5


@pytest.mark.parametrize(("gap", "first"), [(6.0, "old-low"), (4.0, "new-normal")])
async def test_ageing_lifts_one_level_per_ageing_s(gap: float, first: str) -> None:
    adm, clock = admission(ageing_s=5.0)
    tasks = [waiter(adm, "old-low", LOW)]
    await settle()
    clock.now += gap
    tasks.append(waiter(adm, "new-normal", NORMAL))
    await settle()
    served = await drain(adm, "m", ["a", "b"], tasks)
    assert served[0] == first


async def test_low_priority_is_not_starved_by_a_stream_of_normal_requests() -> None:
    adm, clock = admission(ageing_s=5.0)
    low = waiter(adm, "low", LOW)
    await settle()
    served: list[str] = []
    for i in range(20):
        clock.now += 1.0
        t = waiter(adm, f"n{i}", NORMAL)
        await settle()
        adm.release("m")
        await settle()
        if low.done():
            served.append("low")
            break
        served.append("normal")
        t.cancel()
    # One level (5 s of ageing) plus the head start of the queued normal requests.
    assert served[-1] == "low" and len(served) <= 7


async def test_full_queue_refuses_with_429_and_retry_after() -> None:
    adm, _ = admission(queue_size=2)
    tasks = [waiter(adm, "a", NORMAL), waiter(adm, "b", NORMAL)]
    await settle()
    with pytest.raises(Overloaded) as info:
        await adm.wait("m", NORMAL, FAR, 0.5, 1)
    err = info.value
    assert err.status == 429
    assert "queue is full" in err.message
    assert err.headers() == [(b"retry-after", b"2")]  # 3 x 0.5 s, rounded up
    assert adm.shed["m"] == 1
    for t in tasks:
        t.cancel()
    await settle()
    assert adm.pending == 0


async def test_higher_priority_newcomer_displaces_the_lowest_waiter() -> None:
    adm, _ = admission(queue_size=2)
    low = waiter(adm, "low", LOW)
    normal = waiter(adm, "normal", NORMAL)
    await settle()
    urgent = waiter(adm, "urgent", URGENT)
    await settle()
    assert low.done()
    with pytest.raises(Overloaded, match="higher-priority request took its place"):
        low.result()
    served = await drain(adm, "m", ["u", "n"], [normal, urgent])
    assert served == ["urgent", "normal"]


async def test_deadline_that_cannot_be_met_is_refused_at_once() -> None:
    adm, clock = admission()
    tasks = [waiter(adm, f"w{i}", NORMAL) for i in range(4)]
    await settle()
    # Four ahead at 0.5 s each on one slot: about 2.5 s, but only 1 s is left.
    with pytest.raises(Overloaded, match="would pass the deadline") as info:
        await adm.wait("m", NORMAL, clock.now + 1.0, 0.5, 1)
    assert info.value.retry_after_s == pytest.approx(2.5)
    # With four slots the same wait fits.
    t = asyncio.get_running_loop().create_task(adm.wait("m", NORMAL, clock.now + 1.0, 0.5, 4))
    await settle()
    assert not t.done()
    for x in [*tasks, t]:
        x.cancel()
    await settle()


async def test_expired_waiters_get_429_not_silence() -> None:
    adm, clock = admission()
    short = waiter(adm, "short", NORMAL, deadline=clock.now + 2.0)
    long = waiter(adm, "long", NORMAL, deadline=clock.now + 60.0)
    await settle()
    clock.now += 3.0
    assert adm.expire(clock.now) == 1
    await settle()
    with pytest.raises(Overloaded, match="deadline passed while it waited"):
        short.result()
    assert not long.done()
    adm.release("m")
    await settle()
    assert long.result() == "long"


async def test_deadline_timer_fires_on_the_event_loop() -> None:
    adm, clock = admission()
    with pytest.raises(Overloaded, match="deadline passed while it waited"):
        await adm.wait("m", NORMAL, clock.now + 0.01, 0.0, 1)
    assert adm.pending == 0 and adm.waiting("m") == 0


async def test_woken_waiter_cancelled_before_running_passes_its_slot_on() -> None:
    adm, _ = admission()
    first = waiter(adm, "first", HIGH)
    second = waiter(adm, "second", NORMAL)
    await settle()
    adm.release("m")  # wakes first ...
    first.cancel()  # ... whose client leaves before it runs
    await settle()
    assert first.cancelled()
    assert second.result() == "second"
    assert adm.pending == 0 and not adm.busy("m")


async def test_release_without_waiters_is_a_no_op() -> None:
    adm, _ = admission()
    adm.release("m")
    assert adm.pending == 0 and not adm.busy("m")
    assert adm.snapshot() == []


async def test_a_requeued_waiter_keeps_its_rank() -> None:
    adm, clock = admission()
    first_queued = clock.now
    clock.now += 1.0
    other = waiter(adm, "other", NORMAL)
    await settle()

    async def requeued() -> str:
        await adm.wait("m", NORMAL, FAR, 0.01, 1, since=first_queued)
        return "requeued"

    back = asyncio.get_running_loop().create_task(requeued())
    await settle()
    served = await drain(adm, "m", ["a", "b"], [other, back])
    assert served == ["requeued", "other"]


async def test_waiters_look_again_after_recheck_s_without_a_wake_up() -> None:
    clock = ManualClock()
    adm = Admission(AdmissionSettings(), clock, recheck_s=0.01)
    waited = await adm.wait("m", NORMAL, clock.now + 60.0, 0.01, 1)
    # Returned without being woken (the caller checks the replicas again), nothing left behind.
    assert waited == 0.0
    assert adm.pending == 0 and not adm.busy("m") and adm.admitted_after_wait["m"] == 0
