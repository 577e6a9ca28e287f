"""The HTTP surface: the ASGI app, request parsing for each API, response and error shapes."""
