"""Per-request context handed to route handlers, and the JSON response helpers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

from werkzeug.exceptions import ClientDisconnected
from werkzeug.wrappers import Request, Response

from storj.local._http import InvalidJSON, parse_json_body
from storj.local.bridge.errors import BadRequest, PayloadTooLarge

if TYPE_CHECKING:
    from storj.local.bridge.app import Services
    from storj.local.bridge.store import Row

__all__ = ["RequestContext", "json_response", "no_content"]


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON answer (``application/json; charset=utf-8``), as Express's ``res.send``."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(
        text.encode("utf-8"), status=status, content_type="application/json; charset=utf-8"
    )


def no_content() -> Response:
    """204 with an empty body (every successful ``DELETE``)."""
    return Response(b"", status=204)


def _latin1_bytes(value: str) -> bytes:
    # WSGI servers hand the request line over as latin-1 decoded bytes.
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def raw_path_of(environ: dict[str, Any]) -> bytes:
    """The request path as sent (still percent-encoded), without the query string."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        data = _latin1_bytes(raw)
        if b"://" in data.split(b"?", 1)[0]:
            rest = data.split(b"://", 1)[1]
            data = b"/" + rest.split(b"/", 1)[1] if b"/" in rest else b"/"
        return data.split(b"?", 1)[0] or b"/"
    path = _latin1_bytes(environ.get("PATH_INFO", "") or "/")
    return quote(path, safe="/:@!$&'()*+,;=-._~").encode("ascii")


def _read_up_to(stream: Any, size: int) -> bytes:
    """Read until ``size`` bytes or end of stream."""
    parts: list[bytes] = []
    remaining = size
    try:
        while remaining > 0:
            chunk = stream.read(min(remaining, 65536))
            if not chunk:
                break
            parts.append(chunk)
            remaining -= len(chunk)
    except (OSError, ValueError, ClientDisconnected):
        raise BadRequest("The request body was not completely received") from None
    return b"".join(parts)


class RequestContext:
    """What a handler needs: the services, the raw request pieces and the parsed body.

    ``raw_path_bytes`` and ``raw_query_bytes`` are exactly what the client sent (the ECDSA signature
    covers them); ``body()`` is read once, bounded by ``max_body_bytes``.
    """

    def __init__(self, services: Services, environ: dict[str, Any]) -> None:
        self.services = services
        self.environ = environ
        self.request = Request(environ)
        self.method: str = environ.get("REQUEST_METHOD", "GET").upper()
        self.raw_path_bytes = raw_path_of(environ)
        self.raw_path = self.raw_path_bytes.decode("latin-1")
        self.raw_query_bytes = _latin1_bytes(environ.get("QUERY_STRING", "") or "")
        self.user: Row | None = None
        self.pubkey: str | None = None
        self._body: bytes | None = None
        self._json: Any = None
        self._query: dict[str, str] | None = None

    # -- request pieces -----------------------------------------------------------

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    def body(self) -> bytes:
        """The raw body, read once (413 when larger than ``max_body_bytes``).

        A ``Content-Length`` body is read exactly; a chunked body (the server marks it
        ``wsgi.input_terminated``) is read up to the limit; anything else is empty.
        """
        if self._body is None:
            limit = self.services.config.max_body_bytes
            length = self.request.content_length
            stream = self.environ.get("wsgi.input")
            if stream is None or (length is None and not self.environ.get("wsgi.input_terminated")):
                self._body = b""
            elif length is not None:
                if length > limit:
                    raise PayloadTooLarge(f"Request body is larger than {limit} bytes")
                data = _read_up_to(stream, length)
                if len(data) != length:
                    raise BadRequest("The request body was not completely received")
                self._body = data
            else:
                data = _read_up_to(stream, limit + 1)
                if len(data) > limit:
                    raise PayloadTooLarge(f"Request body is larger than {limit} bytes")
                self._body = data
        return self._body

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body is ``{}``; anything else → 400.

        Strict JSON (:func:`storj.local._http.parse_json_body`): ``NaN``/``Infinity``,
        numbers beyond a float and strings that are not Unicode text (lone surrogate
        escapes such as ``"\\ud800"``) are refused here, for every route, so no route
        can pass them on to the store or into an answer.
        """
        if self._json is None:
            data = self.body()
            if not data.strip():
                self._json = {}
            else:
                try:
                    value = parse_json_body(data)
                except InvalidJSON as exc:
                    detail = f": {exc.detail}" if exc.detail else ""
                    raise BadRequest("Request body is not valid JSON" + detail) from None
                if not isinstance(value, dict):
                    raise BadRequest("Request body must be a JSON object")
                self._json = value
        return self._json

    @property
    def query(self) -> dict[str, str]:
        """Query parameters (the last value wins), decoded from the raw query string.

        :raises BadRequest: the query string, raw or percent-decoded, is not UTF-8 text.
        """
        if self._query is None:
            try:
                text = self.raw_query_bytes.decode("utf-8")
                pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
            except UnicodeDecodeError:
                raise BadRequest("Malformed URL: query parameters must be UTF-8") from None
            self._query = dict(pairs)
        return self._query

    def signed_payload(self) -> bytes:
        """What an ECDSA signature covers after the path: raw body or raw query string."""
        if self.method in ("POST", "PUT", "PATCH"):
            return self.body()
        if self.method in ("GET", "DELETE", "OPTIONS"):
            return self.raw_query_bytes
        return b""

    def now_ms(self) -> int:
        return self.services.now_ms()
