"""Edge-case building blocks shared by the server fuzzers (not a test module).

* raw JSON fragments (bytes, spliced into bodies as they are) for integer extremes,
  non-JSON number tokens, Unicode edge cases written as JSON escapes or as raw
  (sometimes invalid) UTF-8, and values of every JSON type;
* percent-encoded path and query pieces, valid and not;
* request framings (``Content-Length``, chunked, both, odd ``Transfer-Encoding``
  values, duplicate or malformed lengths, no length at all, huge header blocks) and
  content types;
* :func:`send_raw`: one request byte for byte on a fresh socket, the answer parsed.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

#: Socket timeout of every fuzz request: a server that hangs fails the example.
TIMEOUT = 10.0

INT_TOKENS = [
    b"0", b"-0", b"1", b"-1",
    b"2147483647", b"2147483648", b"2147483649", b"-2147483648", b"-2147483649",
    b"9007199254740991", b"9007199254740992", b"9007199254740993", b"-9007199254740993",
    b"9223372036854775807", b"9223372036854775808", b"9223372036854775809",
    b"-9223372036854775808", b"-9223372036854775809",
    b"18446744073709551615", b"18446744073709551616",
    b"1" + b"0" * 40, b"-" + b"9" * 400, b"1" + b"0" * 5000,
]
FLOAT_TOKENS = [
    b"1e308", b"-1e308", b"1e309", b"-1e309", b"5e-324", b"0.0", b"-0.0", b"1.5", b"1E2",
    b"NaN", b"Infinity", b"-Infinity", b"1" + b"0" * 400 + b".5",
]
TEXT_TOKENS = [
    b'"\\ud800"', b'"\\udfff"', b'"a\\udc00b"', b'"\\udfff\\ud800"', b'"x\\ud83d"',
    b'"\\ud83d\\ude00"', '"\U0001f600\U00010348"'.encode(),
    b'"\\u0000"', b'"a\\u0000b"', b'"\\u0001\\u001f\\u007f"',
    '"\u202eevil.exe"'.encode(), '"\u200f\u200e"'.encode(),  # RTL override, RLM/LRM
    '"e\u0301\u0301\u0301"'.encode(), '"\u0301"'.encode(),  # combining characters
    b'"\\ufffe"', b'"\\uffff"', '"\ufdd0"'.encode(), '"\ufeff"'.encode(),  # non-characters, BOM
    b'""', b'" "', b'"\\t"', b'"\\n\\r"', '"\u3000\u00a0"'.encode(),
    b'"\xff\xfe"', b'"\xed\xa0\x80"', b'"\xc0\xaf"', b'"\xe2\x82"',  # invalid UTF-8 bytes
    b'"' + b"x" * 300 + b'"', b'"' + b"\\u00e9" * 300 + b'"',
    b'"PUSH"', b'"PULL"', b'"0"', b'"-1"', b'"9223372036854775808"', b'"1e400"',
]
TYPE_TOKENS = [
    b"null", b"true", b"false", b"{}", b"[]", b'{"a": 1}', b"[1, 2]", b"[null]", b"[[[]]]",
    b'[""]', b'{"type": "\\ud800", "value": 1e999}', b"[" * 50 + b"]" * 50,
]


#: One of each kind, for sweeps that try every field with every kind of edge value.
SWEEP_TOKENS = [
    b"-1", b"2147483648", b"9007199254740993", b"9223372036854775807",
    b"9223372036854775808", b"-9223372036854775809", b"18446744073709551616",
    b"1" + b"0" * 5000, b"1e309", b"NaN", b"Infinity",
    b'"\\ud800"', b'"a\\u0000b"', '"\u202eevil"'.encode(), '"e\u0301"'.encode(),
    b'"\\ufffe"', '"\U0001f600"'.encode(), b'" "', b'"\xff\xfe"',
    b"null", b"true", b"{}", b"[]", b'"1"',
]
#: Query values and path segments of each kind, percent-encoded.
SWEEP_QUERY = ["9223372036854775808", "-9223372036854775809", "%ED%A0%80"]
SWEEP_PATH = ["%ff", "%ED%A0%80", "%00", "%E2%80%AE", "%EF%BF%BE", "a" * 300]


def _text_token(text: str) -> bytes:
    """Any text, lone surrogates included, as a JSON string of escapes."""
    return json.dumps(text).encode("ascii")


#: One JSON value, as the bytes that go into a body.
fragment = st.one_of(
    st.sampled_from(INT_TOKENS + FLOAT_TOKENS + TEXT_TOKENS + TYPE_TOKENS),
    st.integers(-(2**70), 2**70).map(lambda n: str(n).encode()),
    st.text(max_size=12).map(_text_token),
)
#: A JSON value, or a list of them (for fields that take lists).
value = st.one_of(
    fragment,
    st.lists(fragment, max_size=3).map(lambda items: b"[" + b",".join(items) + b"]"),
)


def object_bytes(fields: dict[bytes, bytes]) -> bytes:
    """``{key: value, …}`` from raw key and value fragments."""
    return b"{" + b",".join(k + b":" + v for k, v in fields.items()) + b"}"


Plan = tuple[int, list[tuple[str | int, bytes]], bytes]


@st.composite
def body_plan(draw, keys: list[str]) -> Plan:
    """How to spoil a valid body (see :func:`build_body`): a shape, some fields (a name
    from ``keys``, or the number of one of the template's fields) given edge-case
    values, and a nasty extra key. Template fields are chosen twice as often, so that
    the edge values reach the checks behind the valid ones."""
    shape = draw(st.integers(0, 19))
    if shape == 0:
        return shape, [], draw(fragment)  # not an object at all
    if shape == 1:
        return shape, [], draw(st.binary(max_size=60))  # not even JSON
    names = draw(st.lists(st.one_of(st.integers(0, 7), st.integers(0, 7),
                                    st.sampled_from(keys)), min_size=1, max_size=3))
    fields = [(name, draw(st.one_of(st.sampled_from(SWEEP_TOKENS), value))) for name in names]
    key = draw(st.sampled_from([b'"\\ud800"', b'"\\u0000"', b'""', b'"\xff"']))
    return shape, fields, key


def build_body(template: dict, plan: Plan, frozen: frozenset[str] = frozenset()) -> bytes:
    """``template`` (valid values) spoiled as ``plan`` says; ``frozen`` fields keep
    their valid value."""
    shape, fields, extra = plan
    if shape in (0, 1):
        return extra
    body = {json.dumps(k).encode(): json.dumps(v).encode() for k, v in template.items()}
    own = sorted(set(template) - frozen) or ["unknown"]
    for name, token in fields:
        field = own[name % len(own)] if isinstance(name, int) else name
        if field not in frozen:
            body[json.dumps(field).encode()] = token
    if shape == 2:
        body[extra] = b"1"
    return object_bytes(body)


#: Percent-encoded path segments: valid text of every kind, and bytes that are not UTF-8.
PATH_PIECES = [
    "%ff", "%fe%ff", "%ED%A0%80", "%ED%BF%BF", "%C0%AF", "%E2%82", "%00", "a%00b",
    "%E2%80%AE", "%E2%80%8F", "e%CC%81", "%CC%81", "%EF%BF%BE", "%EF%BF%BF", "%EF%BB%BF",
    "%F0%9F%98%80", "%F4%8F%BF%BF", "%20", "%09", "%0A", "..", "%2e%2e", "%2F", "a" * 300,
    "9223372036854775808", "-1", "0",
]
path_piece = st.one_of(
    st.sampled_from(PATH_PIECES),
    st.text(max_size=10).map(
        lambda t: quote_from_bytes(t.encode("utf-8", "surrogatepass"), safe="")),
    st.binary(max_size=6).map(lambda b: quote_from_bytes(b, safe="")),
)
#: Query values, percent-encoded: integer extremes as text and the path pieces.
query_value = st.one_of(
    st.sampled_from([t.decode() for t in INT_TOKENS[:-1] + FLOAT_TOKENS]),
    path_piece,
)


# ----------------------------------------------------------------------------- framing

#: How a body is framed: each builds the framing headers and the bytes on the wire.
FRAMINGS = [
    "length", "length", "length", "chunked", "Chunked", "none",
    "length+chunked", "chunked+length", "te:chunked, identity", "te:identity", "te:gzip",
    "te:gzip, chunked", "te:chunked, chunked", "te:", "te:x-custom",
    "length-twice-same", "length-twice-different", "length:-1", "length:abc",
    "length:+1", "length:1, 1", "length:huge", "length:short", "length:long",
]
#: Framings that leave the body readable one way.
CLEAN_FRAMINGS = ("length", "chunked", "Chunked", "none", "length:short", "length:long")
#: Mostly clean framings, so that most examples reach the application.
framing = st.one_of(st.sampled_from(CLEAN_FRAMINGS[:3]), st.sampled_from(CLEAN_FRAMINGS[:3]),
                    st.sampled_from(FRAMINGS))
CONTENT_TYPES = [
    "application/json", "application/json", "application/json; charset=utf-8",
    None, "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/json; charset=latin-1", "\x01\x02",
    "application/octet-stream", "*/*",
]
#: Extra header blocks: none, harmless, huge (a long line, very many lines), odd.
EXTRA_HEADERS = [
    [], [], [], [], [], [], [], [], [], [],
    [(b"X-Padding", b"p" * 8000)],
    [(b"X-Padding", b"p" * 70_000)],  # over http.server's line limit: 431
    [(b"X-H%d" % i, b"%d" % i) for i in range(120)],  # over its header count: 431
    [(b"X-Long-Name-" + b"n" * 200, b"v")],
    [(b"Expect", b"100-continue")],
    [(b"Connection", b"keep-alive")],
    [(b"X-Latin1", "caf\u00e9".encode("latin-1"))],
]


def chunked(body: bytes) -> bytes:
    out = b""
    for i in range(0, len(body), 7):
        piece = body[i : i + 7]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def frame_body(framing: str, body: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """``(framing headers, bytes sent after the head)`` for ``framing``."""
    length = str(len(body)).encode()
    if framing == "length":
        return [(b"Content-Length", length)], body
    if framing in ("chunked", "Chunked"):
        return [(b"Transfer-Encoding", framing.encode())], chunked(body)
    if framing == "none":
        return [], body
    if framing == "length+chunked":
        return [(b"Content-Length", length), (b"Transfer-Encoding", b"chunked")], chunked(body)
    if framing == "chunked+length":
        return [(b"Transfer-Encoding", b"chunked"), (b"Content-Length", length)], body
    if framing.startswith("te:"):
        return [(b"Transfer-Encoding", framing[3:].encode())], body
    if framing == "length-twice-same":
        return [(b"Content-Length", length), (b"Content-Length", length)], body
    if framing == "length-twice-different":
        return [(b"Content-Length", length), (b"Content-Length", length + b"0")], body
    if framing == "length:huge":
        return [(b"Content-Length", b"99999999999999999999")], body
    if framing == "length:short":
        return [(b"Content-Length", str(max(0, len(body) - 1)).encode())], body
    if framing == "length:long":  # more is announced than sent: the client half-closes
        return [(b"Content-Length", str(len(body) + 5).encode())], body
    return [(b"Content-Length", framing.split(":", 1)[1].encode())], body


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return out


def send_raw(port: int, method: str, target: str, headers: list[tuple[bytes, bytes]],
             payload: bytes) -> Answer | None:
    """Send one request exactly as given (then half-close), read the answer until the
    server closes. ``None`` when the server closed without answering (allowed only for
    garbage); a hang raises ``socket.timeout`` after :data:`TIMEOUT`."""
    head = f"{method} {target} HTTP/1.1\r\n".encode("latin-1")
    head += b"".join(name + b": " + val + b"\r\n" for name, val in headers) + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        try:
            sock.sendall(head + payload)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server answered and closed before taking everything
            pass
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    while data.startswith(b"HTTP/1.1 1"):  # interim answers (100 Continue)
        data = data.partition(b"\r\n\r\n")[2]
    if not data:
        return None
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1."), lines[0]
    parsed = {}
    for line in lines[1:]:
        name, _, val = line.partition(":")
        parsed[name.strip().lower()] = val.strip()
    if parsed.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return Answer(int(lines[0].split()[1]), parsed, body)
