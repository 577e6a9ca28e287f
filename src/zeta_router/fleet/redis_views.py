"""How the Redis fleet state's background view is written and read: each instance's estimates
of a replica and its feedback offsets, encoded for the SYNC script, and merged on the way back
(the freshest estimate wins; feedback offsets add up). Pure functions: state in, state out."""

from __future__ import annotations

import orjson

from zeta_router.fleet.outcome import SharedLatency
from zeta_router.fleet.resp import Reply
from zeta_router.fleet.state import ReplicaState, ScrapedLoad


def summed_offsets(blobs: list[Reply]) -> dict[tuple[str, str], float]:
    """The other instances' feedback offsets, summed per (model, task)."""
    out: dict[tuple[str, str], float] = {}
    for blob in blobs:
        if not isinstance(blob, bytes):
            continue
        try:
            rows = orjson.loads(blob)
            for model, task, offset in rows:
                key = (str(model), str(task))
                out[key] = out.get(key, 0.0) + float(offset)
        except (orjson.JSONDecodeError, TypeError, ValueError):
            continue  # an instance of another version: skipped, not fatal
    return out


def seen_elsewhere(reason: str) -> str:
    return f"{reason} (another gateway instance)" if reason else "ejected by another instance"


def estimates(r: ReplicaState, now: float, wall: float) -> str:
    """This instance's view of ``r`` for the others: "latency,at,decode,waiting,running,kv,
    scraped_at" (times in epoch ms; empty when there is nothing of our own to say)."""
    at = r.latency.sampled_at
    s = r.scraped
    if at <= 0.0 and s is None:
        return ""
    lat_at = int((wall - (now - at)) * 1000) if at > 0.0 else 0
    fields = [f"{r.latency.value:.6f}", str(lat_at), f"{r.decode_s_per_token:.6f}"]
    if s is not None:
        kv = "" if s.kv_usage is None else f"{s.kv_usage:.4f}"
        scraped_at = int((wall - (now - s.at)) * 1000)
        fields += [f"{s.waiting:g}", f"{s.running:g}", kv, str(scraped_at)]
    return ",".join(fields)


def merge_estimates(r: ReplicaState, raw: bytes, now: float, wall: float) -> None:
    """Adopt another instance's estimates where they are fresher than ours."""
    try:
        parts = raw.decode().split(",")
        lat, lat_at, decode = float(parts[0]), int(parts[1]), float(parts[2])
        if lat_at > 0:
            r.record(SharedLatency(lat, now + (lat_at / 1000.0 - wall)))
        if decode > 0 and r.decode_s_per_token == 0.0:
            r.decode_s_per_token = decode
        if len(parts) == 7:
            at = now + (int(parts[6]) / 1000.0 - wall)
            if r.scraped is None or r.scraped.at < at:
                kv = float(parts[5]) if parts[5] else None
                r.scraped = ScrapedLoad(float(parts[3]), float(parts[4]), kv, at)
    except (ValueError, IndexError, UnicodeDecodeError):
        return  # an instance of another version: its estimates are skipped, not fatal
