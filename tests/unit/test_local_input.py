"""The pure input checks shared by the local Bridge and the farmers: request framing
(``storj.local._http.framing_problem``), strict JSON bodies (``parse_json_body``), the
integer and name validators of the Bridge, and path parameter decoding."""

from __future__ import annotations

import io
import json
from http.client import parse_headers

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storj.local._http import MAX_CONTENT_LENGTH, InvalidJSON, framing_problem, parse_json_body
from storj.local.bridge.errors import BadRequest
from storj.local.bridge.router import Router
from storj.local.bridge.util import INT_MAX, INT_MIN, is_int, is_json_int
from storj.local.bridge.validate import check_int, check_name


def problem(head: bytes, version: str = "HTTP/1.1", target: str = "/x"):
    """``framing_problem`` of the header block ``head`` (lines ending in CRLF)."""
    stream = io.BytesIO(head + b"\r\n")
    lines = head.split(b"\r\n")
    return framing_problem(version, target, parse_headers(stream),
                           [line + b"\r\n" for line in lines if line])


# ----------------------------------------------------------------------------- framing


@pytest.mark.parametrize(
    "head",
    [
        b"Host: x",
        b"Host: x\r\nContent-Length: 0",
        b"Host: x\r\nContent-Length: 00012",
        b"Host: x\r\nContent-Length:  7 ",
        b"Host: x\r\nTransfer-Encoding: chunked",
        b"Host: x\r\nTransfer-Encoding: Chunked",
        b"Host: x\r\nTransfer-Encoding: chunked,",
        b"Host: x\r\nX-Tab: a\tb",
        b"Host: x\r\nContent-Length: " + str(MAX_CONTENT_LENGTH).encode(),
    ],
)
def test_sound_request_heads(head):
    assert problem(head) is None


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"Content-Length: 2\r\nTransfer-Encoding: chunked, identity",
         (400, "A request must not have both Content-Length and Transfer-Encoding")),
        (b"Transfer-Encoding: identity", (400, "Transfer-Encoding must end with chunked")),
        (b"Transfer-Encoding: gzip, chunked",
         (400, "Unsupported Transfer-Encoding: only chunked is accepted")),
        (b"Transfer-Encoding: chunked;x=1",
         (400, "Transfer-Encoding must end with chunked")),
        (b"Content-Length: 1\r\nContent-Length: 1", (400, "Content-Length must be sent once")),
        (b"Content-Length: 1, 2",
         (400, "Invalid Content-Length: expected a decimal number of bytes")),
        (b"Content-Length: " + str(MAX_CONTENT_LENGTH + 1).encode(),
         (413, "Content-Length is larger than this server accepts")),
        (b"Content-Length: 0000000000000000000000001", None),
        (b"X-A: 1\r\n b", (400, "Obsolete line folding is not accepted: send each header "
                                "on one line")),
        (b"X-A: 1\rX-B: 2", (400, "Malformed header line: send each header as 'Name: value' "
                                  "on one line")),
        (b"X-A: a\x00", (400, "Header values must not contain NUL characters")),
    ],
)
def test_request_heads_with_a_problem(head, expected):
    assert problem(head) == expected


def test_transfer_encoding_needs_http_1_1():
    head = b"Transfer-Encoding: chunked"
    assert problem(head, "HTTP/1.0") == (
        400, "Transfer-Encoding is not allowed in an HTTP/1.0 request")
    assert problem(head, "HTTP/0.9") is not None
    assert problem(head, "HTTP/1.1") is None


@pytest.mark.parametrize("target", ["/caf\u00c3\u00a9", "/a b", "/a\x00", "/\x7f"])
def test_request_targets_must_be_printable_ascii(target):
    assert problem(b"Host: x", target=target) == (
        400, "Malformed request target: percent-encode bytes that are not printable ASCII")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=6))
def test_framing_problem_never_raises(lines):
    """Any header block http.server accepts gets an answer, never an exception."""
    head = b"\r\n".join(lines)
    try:
        headers = parse_headers(io.BytesIO(head + b"\r\n\r\n"))
    except Exception:  # http.server answers these itself (431)
        return
    result = framing_problem("HTTP/1.1", "/", headers, [line + b"\r\n" for line in lines])
    assert result is None or result[0] in (400, 413)


# ----------------------------------------------------------------------------- JSON


@pytest.mark.parametrize(
    "raw",
    [b'{"a": "\\ud83d\\ude00"}', b'{"a": "\\u0000"}', b'["\\ufffe", 1e308, -0.0, 123]',
     b'{"k": {"deep": ["x", {"y": null}]}}', "\"\u00e9\"".encode()],
)
def test_strict_json_accepts_json_text(raw):
    assert parse_json_body(raw) == json.loads(raw)


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b'{"a": "\\ud800"}', "unpaired surrogate"),
        (b'{"\\udfff": 1}', "unpaired surrogate"),
        (b'[[[["\\udc00x"]]]]', "unpaired surrogate"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b'[Infinity]', "Infinity is not a JSON number"),
        (b'[-Infinity]', "-Infinity is not a JSON number"),
        (b'[1e400]', "too large"),
    ],
)
def test_strict_json_refuses_what_cannot_be_stored_or_sent_back(raw, detail):
    with pytest.raises(InvalidJSON) as caught:
        parse_json_body(raw)
    assert detail in str(caught.value.detail)


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff", b"\xef\xbb\xbf{}", b"[" * 100_000,
                                 b'"\xed\xa0\x80"'])
def test_strict_json_refuses_what_is_not_json(raw):
    with pytest.raises(InvalidJSON) as caught:
        parse_json_body(raw)
    assert caught.value.detail is None


# ----------------------------------------------------------------------------- integers


@pytest.mark.parametrize("value", [0, 1, -1, INT_MAX, INT_MIN])
def test_is_int_accepts_what_the_store_holds(value):
    assert is_int(value) and is_json_int(value)


@pytest.mark.parametrize("value", [INT_MAX + 1, INT_MIN - 1, 10**30, True, 1.0, "1", None])
def test_is_int_refuses_what_the_store_cannot_hold(value):
    assert not is_int(value)


def test_check_int_says_the_accepted_range():
    assert check_int(5, "n", 0, 10) == 5
    for value, message in [
        (11, "Invalid n: expected an integer from 0 to 10"),
        (2**64, "Invalid n: expected an integer from 0 to 10"),
        (-(2**64), "Invalid n: expected an integer from 0 to 10"),
        (-1, "legacy"),
        ("1", "legacy"),
        (True, "legacy"),
        (1.0, "legacy"),
    ]:
        with pytest.raises(BadRequest) as caught:
            check_int(value, "n", 0, 10, message="legacy")
        assert caught.value.message == message, value
    with pytest.raises(BadRequest) as caught:
        check_int(2**63, "n", maximum=2**70)  # bounds are clamped to the store's
    assert caught.value.message == f"Invalid n: expected an integer from {INT_MIN} to {INT_MAX}"


@pytest.mark.parametrize(
    ("name", "message"),
    [(" ", "Invalid name: must not be blank"), ("\u2003", "Invalid name: must not be blank"),
     ("a\x00", "Invalid name: must not contain control characters (such as NUL)"),
     ("a\x1fb", "Invalid name: must not contain control characters (such as NUL)")],
)
def test_check_name(name, message):
    with pytest.raises(BadRequest) as caught:
        check_name(name, "name")
    assert caught.value.message == message


# ----------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("caf%C3%A9", "caf\u00e9"), ("caf\u00c3\u00a9", "caf\u00e9"), ("a%2Fb", "a/b"),
     ("%F0%9F%98%80", "\U0001f600")],
)
def test_path_parameters_decode_as_utf8(raw, expected):
    router = Router()
    router.add("GET", "/b/:name")(lambda ctx, name: name)
    found = router.match("GET", "/b/" + raw)
    assert found is not None and found[1] == {"name": expected}


@pytest.mark.parametrize("raw", ["%FF", "%ED%A0%80", "%C3", "caf\u00e9"])
def test_path_parameters_that_are_not_utf8_raise(raw):
    router = Router()
    router.add("GET", "/b/:name")(lambda ctx, name: name)
    with pytest.raises(UnicodeDecodeError):
        router.match("GET", "/b/" + raw)
