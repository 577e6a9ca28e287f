"""One leak search for the secret tests: everything the router said, searched for secrets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import httpx


class Seen:
    """Every answer's status, headers and body, kept for :meth:`leaks`."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self.secrets = tuple(secrets)
        self.texts: list[str] = []

    def add(self, r: httpx.Response) -> httpx.Response:
        self.texts.append(f"{r.status_code} {list(r.headers.multi_items())}\n{r.text}")
        return r

    def leaks(self, extra: Iterable[str] = ()) -> list[tuple[str, str]]:
        """Each secret found, with the text around it (answers first, then ``extra``)."""
        return [
            (secret, text[max(0, text.find(secret) - 200) : text.find(secret) + 50])
            for text in [*self.texts, *extra]
            for secret in self.secrets
            if secret in text
        ]
