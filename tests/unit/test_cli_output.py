import json
from datetime import UTC, datetime

import click
import pytest

from storj.cli._output import (
    EXIT_CANCELLED,
    Cancelled,
    CommandError,
    dumps,
    error_message,
    format_time,
    human_size,
    table,
    to_click_exception,
)
from storj.exception import (
    AuthenticationError,
    BridgeResponseError,
    BridgeServerError,
    BridgeTimeoutError,
    BridgeTransportError,
    ConflictError,
    EncryptionKeyError,
    HashMismatchError,
    IntegrityError,
    NotFoundError,
    RateLimitError,
    TransferCancelledError,
)

URL = "http://127.0.0.1:1"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (BridgeTransportError("refused", method="GET", url=URL + "/buckets"),
         "cannot reach the Bridge at http://127.0.0.1:1; check the URL (--url / STORJ_BRIDGE)"
         " and that the Bridge is running"),
        (BridgeTimeoutError("slow"), "the Bridge at http://127.0.0.1:1 did not answer in time"),
        (AuthenticationError("Invalid email or password", status_code=401),
         "the Bridge refused the credentials for me@x.y (Invalid email or password)"),
        (RateLimitError("Too many requests", status_code=429),
         "the Bridge is limiting requests (Too many requests); wait a minute and try again"),
        (NotFoundError("Bucket not found", status_code=404),
         "Bucket not found; check the name or id with `storj ls` / `storj list-buckets`"),
        (ConflictError("Name already used by another bucket", status_code=409),
         "Name already used by another bucket; choose another name or use --force"),
        (BridgeServerError("boom", status_code=500),
         "the Bridge failed (500: boom); try again later"),
        (BridgeResponseError("not JSON"), "http://127.0.0.1:1 did not answer like a Storj Bridge"),
        (IntegrityError("HMAC mismatch"),
         "the download failed verification (HMAC mismatch); nothing was written; try again"),
        (HashMismatchError("bad shard", node_id="ab" * 20), "a storage node failed"),
        (EncryptionKeyError("no key; set STORJ_ENCRYPTION_KEY"),
         "no key; set STORJ_ENCRYPTION_KEY"),
        (FileNotFoundError(2, "No such file", "/tmp/x"),
         "/tmp/x: no such file or directory; check the path"),
        (IsADirectoryError(21, "dir", "/tmp"), "/tmp: is a directory; use -r to copy a directory"),
        (PermissionError(13, "denied", "/root/x"), "/root/x: permission denied"),
        (FileExistsError(17, "exists", "/tmp/y"), "/tmp/y: already exists; use --force"),
    ],
)
def test_error_messages(exc, expected):
    message = error_message(exc, bridge=URL, user="me@x.y")
    assert message.startswith(expected)
    assert "\n" not in message


def test_multiline_messages_become_one_line():
    err = to_click_exception(EncryptionKeyError("line one\nline two\n  three"))
    assert isinstance(err, CommandError) and err.exit_code == 1
    assert err.message == "line one line two three"


def test_cancel_maps_to_130():
    err = to_click_exception(TransferCancelledError("stopped"))
    assert isinstance(err, Cancelled) and err.exit_code == EXIT_CANCELLED == 130
    assert isinstance(err, click.ClickException)


def test_human_size():
    assert [human_size(n) for n in (None, 0, 1023, 1024, 1536, 8 * 1024**2, 3 * 1024**4)] == [
        "-", "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "8.0 MiB", "3.0 TiB"
    ]


def test_table_and_time():
    text = table([("a", 1), ("bbbb", 22)], ("X", "Y"))
    assert text.splitlines() == ["X     Y", "a     1", "bbbb  22"]
    assert format_time(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02 03:04:05"
    assert format_time(None) == "-"


def test_dumps_is_stable_json():
    data = {"b": datetime(2024, 1, 2, tzinfo=UTC), "a": [1]}
    assert json.loads(dumps(data)) == {"a": [1], "b": "2024-01-02T00:00:00Z"}
    assert dumps(data).index('"a"') < dumps(data).index('"b"')
