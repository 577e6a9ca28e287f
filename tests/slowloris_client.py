"""A slowloris, as its own process (so its work does not compete with the router's for the
test process's GIL): N connections trickling a request head one byte a second, each replaced
once the server closes it. Prints ``ready`` once all are open; on stdin's end, stops and prints
the connections' lifetimes and the first bytes of what the server answered, as JSON.

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
    stop = asyncio.Event()
    opened = 0

    async def one() -> None:
        nonlocal opened
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        opened += 1
        if opened == n:
            print("ready", flush=True)
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
        # Spread over the first second, as independent clients would be: a slowloris that
        # sends all its bytes at the same instant is a burst, not a trickle.
        await asyncio.sleep(i / n)
        while not stop.is_set():
            await one()

    async def watch_stdin() -> None:
        await asyncio.to_thread(sys.stdin.read)
        stop.set()

    await asyncio.gather(watch_stdin(), *(slot(i) for i in range(n)))
    print(orjson.dumps({"lifetimes": lifetimes, "answers": answers}).decode(), flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
