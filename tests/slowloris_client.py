"""A slowloris, as its own process (so its work does not compete with the router's for the
test process's GIL): N connections trickling a request head one byte a second, each replaced
once the server closes it. Driven by lines on stdin, so the test can measure the same server
with and without it, turn by turn:

- ``go``: open the N connections; prints ``ready`` once the server has closed (and this client
  replaced) every one of them once, that is once the attack is in its steady state;
- ``pause``: closes them all; prints ``paused``;
- end of input: stops and prints the lifetimes of the connections the server closed and the
  first bytes of what it answered, as JSON.

    python tests/slowloris_client.py PORT N
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

import orjson

HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


async def main(port: int, n: int) -> None:
    lifetimes: list[float] = []
    answers: list[str] = []
    replaced = 0
    # Set on pause as well as the cancel: asyncio.wait_for of Python 3.11 can swallow a
    # cancellation that comes as its timeout fires.
    stop = asyncio.Event()

    async def one() -> None:
        """One connection, until the server closes it."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.monotonic()
        got = b""
        try:
            for byte in HEAD:
                writer.write(bytes([byte]))
                try:
                    got = await asyncio.wait_for(reader.read(4096), 1.0)
                except TimeoutError:
                    if stop.is_set():
                        return
                    continue
                break  # an answer, or EOF: the server is done with this connection
            lifetimes.append(time.monotonic() - start)
            answers.append(got[:600].decode("latin-1"))
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def slot(i: int) -> None:
        nonlocal replaced
        # Spread over the first second, as independent clients would be: a slowloris that
        # sends all its bytes at the same instant is a burst, not a trickle.
        await asyncio.sleep(i / n)
        await one()
        replaced += 1
        if replaced == n:
            print("ready", flush=True)
        while not stop.is_set():
            await one()

    slots: list[asyncio.Task[None]] = []

    async def pause() -> None:
        stop.set()
        for t in slots:
            t.cancel()
        await asyncio.gather(*slots, return_exceptions=True)
        slots.clear()

    while True:
        line = (await asyncio.to_thread(sys.stdin.readline)).strip()
        if line == "go":
            replaced = 0
            stop.clear()
            slots.extend(asyncio.create_task(slot(i)) for i in range(n))
        elif line == "pause":
            await pause()
            print("paused", flush=True)
        elif not line:
            await pause()
            break
    print(orjson.dumps({"lifetimes": lifetimes, "answers": answers}).decode(), flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
