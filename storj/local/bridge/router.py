"""A small regex router with Express's matching rules.

Paths match case-insensitively and tolerate one trailing slash (``/buckets/x/files/``
matches ``/buckets/:id/files``); parameters keep the case they were sent with and are
percent-decoded after matching, so an escaped ``/`` (``%2F``) inside a bucket name stays
inside its parameter. A parameter must decode to UTF-8 text (percent-escaped or raw
bytes alike); anything else raises ``UnicodeDecodeError`` (the app answers 400).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

__all__ = ["Route", "Router"]

_PARAM = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Route:
    """One route: ``method``, the Express-style ``pattern`` and its handler."""

    method: str
    pattern: str
    handler: Callable[..., Any]
    summary: str
    regex: re.Pattern[str]


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``/buckets/:id`` → a case-insensitive regex with named groups and an optional
    trailing slash."""
    parts: list[str] = []
    last = 0
    for match in _PARAM.finditer(pattern):
        parts.append(re.escape(pattern[last : match.start()]))
        parts.append(f"(?P<{match.group(1)}>[^/]+)")
        last = match.end()
    parts.append(re.escape(pattern[last:]))
    body = "".join(parts).rstrip("/")
    return re.compile(f"^{body}/?$", re.IGNORECASE)


def _decode(raw: str) -> str:
    """A path parameter (latin-1 text of the bytes sent) percent-decoded as UTF-8."""
    try:
        sent = raw.encode("latin-1")
    except UnicodeEncodeError:  # not from a request line: already text
        sent = raw.encode("utf-8", errors="surrogatepass")
    return unquote_to_bytes(sent).decode("utf-8")


class Router:
    """Routes in registration order; the first match wins."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, summary: str = "") -> Callable[[Any], Any]:
        """Decorator registering ``handler(ctx, **params)`` for ``method pattern``."""

        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            self.routes.append(
                Route(method.upper(), pattern, handler, summary, compile_pattern(pattern))
            )
            return handler

        return register

    def match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        """Find the route for ``method`` and the raw (still percent-encoded) path, given
        as the request's bytes decoded as latin-1.

        :raises UnicodeDecodeError: a parameter is not UTF-8 once percent-decoded.
        """
        method = method.upper()
        lookup = "GET" if method == "HEAD" else method
        for route in self.routes:
            if route.method != lookup:
                continue
            found = route.regex.match(raw_path)
            if found:
                params = {k: _decode(v) for k, v in found.groupdict().items()}
                return route, params
        return None

    def describe(self) -> dict[str, dict[str, dict[str, str]]]:
        """Swagger-style ``paths``: ``{"/buckets/{id}": {"get": {"summary": ...}}}``."""
        paths: dict[str, dict[str, dict[str, str]]] = {}
        for route in self.routes:
            swagger_path = _PARAM.sub(lambda m: "{" + m.group(1) + "}", route.pattern)
            paths.setdefault(swagger_path, {})[route.method.lower()] = {"summary": route.summary}
        return paths
