"""Upstream: the HTTP/1.1 client, one attempt, relay, parameters and API translation."""
