"""Conversations for the cache-affinity tests: each document is its own long system prompt, and a
conversation's turns grow from it, so every turn shares a prefix with the previous one."""

from __future__ import annotations


def document(n: int) -> str:
    return " ".join(f"fact{n}-{i} is part of document {n}." for i in range(60))


def turns(doc: str, upto: int) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": doc}]
    for t in range(upto):
        msgs.append({"role": "user", "content": f"What does fact {t} say?"})
        if t < upto - 1:
            msgs.append({"role": "assistant", "content": f"Fact {t} says something."})
    return msgs
