"""Requests the HTTP parser itself rejects never reach the app; they still get a 400 with an
OpenAI-style JSON error body (not uvicorn's plain text), and the connection is closed after it,
as uvicorn does. Raw bytes over a real socket to a real gateway, since an HTTP client would
refuse to send most of these."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import orjson
import pytest

from zeta_router.testing import Harness

TIMEOUT_S = 10.0

BAD_REQUESTS = {
    "unknown method": b"FOO /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n",
    "garbage request line": b"hello there, gateway\r\n\r\n",
    "binary request line": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    "invalid header line": b"GET /v1/models HTTP/1.1\r\nHost: x\r\nNo Colon Here\r\n\r\n",
    "bad content-length": (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n{}"
    ),
}

CHAT = orjson.dumps({"model": "small", "messages": [{"role": "user", "content": "hi"}]})
VALID_CHAT = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(CHAT), CHAT)
)


async def read_response(
    reader: asyncio.StreamReader,
) -> tuple[int, dict[str, str], bytes]:
    """One response (Content-Length or chunked body); headers lower-cased."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)
    status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(status_line.split()[1])
    if "content-length" in headers:
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), TIMEOUT_S)
        return status, headers, body
    assert headers["transfer-encoding"] == "chunked"
    body = b""
    while True:
        size = int((await asyncio.wait_for(reader.readuntil(b"\r\n"), TIMEOUT_S)).strip(), 16)
        chunk = await asyncio.wait_for(reader.readexactly(size + 2), TIMEOUT_S)
        if size == 0:
            return status, headers, body
        body += chunk[:-2]


def assert_json_400(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 400, body
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    err = orjson.loads(body)["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == "invalid_request_error"
    assert err["param"] is None
    assert err["code"] == "invalid_request"
    assert isinstance(err["message"], str)
    assert err["message"]


async def assert_closed(reader: asyncio.StreamReader) -> None:
    assert await asyncio.wait_for(reader.read(), TIMEOUT_S) == b""


class RawConnection:
    """A raw TCP connection to the gateway, for bytes no HTTP client would send."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def ask(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send ``raw`` and read one answer."""
        self.writer.write(raw)
        await self.writer.drain()
        return await read_response(self.reader)

    async def assert_closed(self) -> None:
        await assert_closed(self.reader)


@contextlib.asynccontextmanager
async def raw_connection(port: int) -> AsyncIterator[RawConnection]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield RawConnection(reader, writer)
    finally:
        writer.close()
        await writer.wait_closed()


async def valid_chat_works(port: int) -> None:
    async with raw_connection(port) as conn:
        status, headers, body = await conn.ask(VALID_CHAT)
    assert status == 200, body
    assert headers["content-type"].startswith("application/json")
    assert orjson.loads(body)["choices"]


@pytest.mark.parametrize("raw", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
async def test_parser_rejects_get_a_json_400_and_close(harness: Harness, raw: bytes) -> None:
    async with raw_connection(harness.port) as conn:
        assert_json_400(*await conn.ask(raw))
        await conn.assert_closed()
    # The server is unharmed: a valid request on a fresh connection is served.
    await valid_chat_works(harness.port)


async def test_bad_request_on_a_keep_alive_connection_closes_it(harness: Harness) -> None:
    async with raw_connection(harness.port) as conn:
        status, headers, _ = await conn.ask(VALID_CHAT)
        assert status == 200
        assert headers.get("connection", "keep-alive") != "close"
        assert_json_400(*await conn.ask(BAD_REQUESTS["unknown method"]))
        await conn.assert_closed()
    await valid_chat_works(harness.port)
