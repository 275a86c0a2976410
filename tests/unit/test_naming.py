"""storj.naming (pure, with libstorj vectors), storj.paging (DatePager) and Client's naming
and paging methods against ``responses`` Bridges (2018 capped pages, 2016 unbounded)."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
import responses

from storj import crypto, naming
from storj.exception import BridgeResponseError, NotFoundError
from storj.http import Client
from storj.model import Bucket, File
from storj.paging import DatePager, start_date_param

MNEMONIC = "abandon " * 11 + "about"
# libstorj's mock bridge name for the bucket "test" under the test mnemonic (bridge-protocol §8.3)
LIBSTORJ_TEST_NAME = "g9qacwq2AE1+5nzL/HYyYdY9WoIr+1ueOuVEx6/IzzZKK9sULoKDDdYvhOpavHH2P3xQNw=="
API = "http://bridge.test"
BUCKET_ID = "a" * 24
T0 = datetime(2018, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("STORJ_BRIDGE", "STORJ_ENCRYPTION_KEY", "STORJ_BRIDGE_USER", "STORJ_BRIDGE_PASS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def key():
    return crypto.EncryptionKey(MNEMONIC)


# -- storj.naming -----------------------------------------------------------------------


def test_stored_bucket_name_is_libstorj_vector(key):
    assert naming.stored_bucket_name(key, "test") == LIBSTORJ_TEST_NAME
    assert naming.stored_bucket_name(None, "test") == "test"
    with pytest.raises(ValueError, match="non-empty"):
        naming.stored_bucket_name(key, "")


def test_read_names_three_states(key):
    other = crypto.EncryptionKey(crypto.generate_mnemonic())
    assert naming.read_bucket_name(key, LIBSTORJ_TEST_NAME) == ("test", "decrypted")
    assert naming.read_bucket_name(key, "photos") == ("photos", "plaintext")
    foreign = other.encrypt_bucket_name("secret")
    assert naming.read_bucket_name(key, foreign) == (foreign, "undecryptable")
    assert naming.read_bucket_name(None, LIBSTORJ_TEST_NAME) == (LIBSTORJ_TEST_NAME, "plaintext")
    stored = naming.stored_file_name(key, BUCKET_ID, "dir/a.txt")
    assert naming.read_file_name(key, BUCKET_ID, stored) == ("dir/a.txt", "decrypted")
    # file names are encrypted per bucket: another bucket's key does not open it
    assert naming.read_file_name(key, "b" * 24, stored) == (stored, "undecryptable")


def test_looks_encrypted_and_display_name(key):
    assert naming.looks_encrypted(LIBSTORJ_TEST_NAME)
    for plain in ("photos", "a/b.txt", "QUJD", "", "x" * 79, "my bucket " * 9):
        assert not naming.looks_encrypted(plain)
    assert naming.display_name("photos", "plaintext") == "photos"
    assert naming.display_name("abc", "undecryptable") == "[encrypted] abc"
    assert naming.key_of(None) is None and naming.key_of("") is None
    assert naming.key_of(MNEMONIC) == key and naming.key_of(key) is key


# -- storj.paging -----------------------------------------------------------------------


def entry(ident: str, ms: int | None) -> File:
    return File(id=ident, created=None if ms is None else T0 + timedelta(milliseconds=ms))


def ids(entries):
    return [e.id for e in entries]


def test_start_date_param_is_one_ms_before_the_last_entry():
    pager = DatePager(2)
    assert pager.start_date is None
    assert ids(pager.accept([entry("a", 0), entry("b", 5)])) == ["a", "b"]
    assert pager.start_date == "2018-01-02T03:04:05.682Z" == start_date_param(
        (T0 - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1) + 4
    )


def test_boundary_millisecond_shared_across_pages_is_not_dropped_or_repeated():
    # cap 2; b, c and d share one millisecond; the Bridge returns created > startDate
    pager = DatePager(2)
    out = pager.accept([entry("a", 0), entry("b", 7)])
    out += pager.accept([entry("b", 7), entry("c", 7)])  # asked from 6 ms: c is new
    assert not pager.done and ids(out) == ["a", "b", "c"]
    with pytest.raises(BridgeResponseError, match="more than 2 .* same millisecond"):
        pager.accept([entry("b", 7), entry("c", 7)])  # a full page, no progress: d may hide


def test_boundary_then_later_entries():
    pager = DatePager(3)
    out = pager.accept([entry("a", 0), entry("b", 7), entry("c", 7)])
    out += pager.accept([entry("b", 7), entry("c", 7), entry("d", 7)])
    out += pager.accept([entry("b", 7), entry("c", 7), entry("d", 7)][:2] + [entry("e", 9)])
    out += pager.accept([entry("e", 9)])
    assert pager.done and ids(out) == ["a", "b", "c", "d", "e"]


def test_page_of_one_millisecond_below_the_cap_ends_the_listing():
    pager = DatePager(5)
    assert ids(pager.accept([entry("a", 1), entry("b", 1)])) == ["a", "b"]
    assert pager.accept([entry("a", 1), entry("b", 1)]) == [] and pager.done


def test_bridge_that_ignores_start_date_ends_after_one_repeat():
    everything = [entry("c", 9), entry("a", 1), entry("b", 5)]  # 2016: unsorted, unbounded
    pager = DatePager(2)
    assert ids(pager.accept(everything)) == ["c", "a", "b"]
    assert pager.start_date == start_date_param(
        (T0 - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1) + 8
    )
    assert pager.accept(everything) == [] and pager.done


def test_entries_without_created_end_the_listing():
    pager = DatePager(2)
    assert ids(pager.accept([entry("a", None), entry("b", None), entry("c", None)])) == [
        "a", "b", "c"
    ]
    assert pager.done
    with pytest.raises(RuntimeError):
        pager.accept([])


def test_empty_first_page_and_bad_limit():
    pager = DatePager(1)
    assert pager.accept([]) == [] and pager.done
    with pytest.raises(ValueError):
        DatePager(0)


# -- Client over responses --------------------------------------------------------------


class PagedBridge:
    """A 2018-style ``GET`` listing: sorted by created, capped, ``created > startDate``;
    ``ignore_start_date`` makes it the 2016 Bridge (everything, every time)."""

    def __init__(self, items, cap, *, ignore_start_date=False):
        self.items, self.cap, self.ignore = items, cap, ignore_start_date
        self.starts = []

    def __call__(self, request):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
        start = query.get("startDate", [None])[0]
        self.starts.append(start)
        if self.ignore:
            return 200, {}, json.dumps(self.items)
        after = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
        rows = [i for i in self.items
                if after is None or datetime.fromisoformat(i["created"][:-1] + "+00:00") > after]
        rows.sort(key=lambda i: i["created"])
        return 200, {}, json.dumps(rows[: self.cap])


def stamp(ms: int) -> str:
    return (T0 + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")[:-6] + "Z"


def file_json(n: int, ms: int, name: str) -> dict:
    return {"id": f"{n:024x}", "bucket": BUCKET_ID, "filename": name, "mimetype": "text/plain",
            "frame": "f" * 24, "size": n, "created": stamp(ms)}


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def keyed() -> Client:
    return Client("u@example.com", "pw", API, encryption_key=MNEMONIC)


def test_bucket_create_sends_encrypted_name_and_returns_plain(rsps, key):
    rsps.add("POST", f"{API}/buckets", status=201,
             json={"id": BUCKET_ID, "name": LIBSTORJ_TEST_NAME, "created": stamp(0)})
    bucket = keyed().bucket_create("test")
    assert json.loads(rsps.calls[0].request.body) == {"name": LIBSTORJ_TEST_NAME}
    assert (bucket.name, bucket.stored_name, bucket.decrypted) == (
        "test", LIBSTORJ_TEST_NAME, True)
    assert bucket["name"] == "test"  # dict access shows the plain name too


def test_keyless_client_keeps_plaintext(rsps):
    rsps.add("POST", f"{API}/buckets", status=201, json={"id": BUCKET_ID, "name": "photos"})
    bucket = Client("u@example.com", "pw", API).bucket_create("photos")
    assert json.loads(rsps.calls[0].request.body) == {"name": "photos"}
    assert (bucket.name, bucket.name_state, bucket.decrypted) == ("photos", "plaintext", False)


def test_bucket_list_pages_and_reads_every_name(rsps, key):
    other = crypto.EncryptionKey(crypto.generate_mnemonic())
    names = [key.encrypt_bucket_name(f"b{i}") for i in range(5)]
    names += ["legacy-plain", other.encrypt_bucket_name("theirs")]
    millis = [0, 1, 2, 2, 3, 4, 5]  # two buckets share a millisecond across a page boundary
    items = [{"id": f"{i:024x}", "name": n, "created": stamp(millis[i])}
             for i, n in enumerate(names)]
    bridge = PagedBridge(items, cap=3)
    rsps.add_callback("GET", f"{API}/buckets", callback=bridge)
    client = keyed()
    client.bucket_page_limit = 3
    listing = client.bucket_list()
    assert len(rsps.calls) == 1  # the first page is fetched at the call
    got = list(listing)
    assert [b.id for b in got] == [i["id"] for i in items]
    assert [b.name for b in got[:6]] == ["b0", "b1", "b2", "b3", "b4", "legacy-plain"]
    assert [b.name_state for b in got[4:]] == ["decrypted", "plaintext", "undecryptable"]
    assert got[6].name == got[6].stored_name == names[6]
    assert bridge.starts[0] is None and all(bridge.starts[1:])
    assert client.bucket_list_page() == got[:3]
    assert client.bucket_list_page(stamp(1)) == got[2:5]


def test_bucket_files_all_pages_as_records_with_dict_access(rsps, key):
    items = [file_json(i, 3 if 2 <= i <= 3 else i, key.encrypt_file_name(BUCKET_ID, f"f{i}"))
             for i in range(8)]
    bridge = PagedBridge(items, cap=3)
    rsps.add_callback("GET", f"{API}/buckets/{BUCKET_ID}/files", callback=bridge)
    client = keyed()
    client.file_page_limit = 3
    files = client.bucket_files(BUCKET_ID)
    assert [f["id"] for f in files] == [i["id"] for i in items]
    assert [f["filename"] for f in files] == [f"f{i}" for i in range(8)]
    assert all(isinstance(f, File) and f.decrypted for f in files)
    assert [f.filename for f in client.iter_bucket_files(BUCKET_ID)] == [
        f"f{i}" for i in range(8)]
    assert len(client.bucket_files_page(BUCKET_ID)) == 3


def test_full_page_of_one_millisecond_raises(rsps):
    items = [file_json(i, 0, f"n{i}") for i in range(4)]
    rsps.add_callback("GET", f"{API}/buckets/{BUCKET_ID}/files", callback=PagedBridge(items, 3))
    client = Client("u@example.com", "pw", API)
    client.file_page_limit = 3
    with pytest.raises(BridgeResponseError, match="same millisecond"):
        client.bucket_files(BUCKET_ID)


def test_2016_bridge_that_ignores_start_date(rsps):
    items = [file_json(i, (7 * i) % 5, f"n{i}") for i in range(6)]  # unsorted, unbounded
    items.append({k: v for k, v in file_json(9, 0, "old").items() if k != "created"})
    rsps.add_callback("GET", f"{API}/buckets/{BUCKET_ID}/files",
                      callback=PagedBridge(items, 10**9, ignore_start_date=True))
    files = Client("u@example.com", "pw", API).bucket_files(BUCKET_ID)
    assert sorted(f.filename for f in files) == sorted(i["filename"] for i in items)
    assert len(rsps.calls) == 1  # an entry without `created`: nothing to page by
    rsps.add_callback("GET", f"{API}/buckets", callback=PagedBridge(
        [{"id": f"{i:024x}", "name": f"b{i}", "created": stamp(5 - i)} for i in range(3)],
        10**9, ignore_start_date=True))
    assert [b.name for b in Client("u@example.com", "pw", API).bucket_list()] == [
        "b0", "b1", "b2"]


def test_bucket_id_by_name_encrypted_then_plain_route_then_listing(rsps, key):
    client = keyed()
    route = f"{API}/bucket-ids/"
    rsps.add("GET", route + urllib.parse.quote(LIBSTORJ_TEST_NAME, safe=""), json={"id": "1" * 24})
    assert client.bucket_id_by_name("test") == "1" * 24
    rsps.add("GET", route + urllib.parse.quote(key.encrypt_bucket_name("old"), safe=""),
             status=404, json={"error": "Bucket not found"})
    rsps.add("GET", route + "old", json={"id": "2" * 24})
    assert client.bucket_id_by_name("old") == "2" * 24  # made by storj 0.3.x (plaintext)
    # a 2016 Bridge: no /bucket-ids route; found by listing and comparing plain names
    rsps.add("GET", route + urllib.parse.quote(key.encrypt_bucket_name("x"), safe=""),
             status=404, body="Cannot GET", content_type="text/html")
    rsps.add("GET", f"{API}/buckets", json=[
        {"id": "3" * 24, "name": key.encrypt_bucket_name("x")}])
    assert client.bucket_id_by_name("x") == "3" * 24
    with pytest.raises(NotFoundError, match="no bucket named 'nope'"):
        client.find_bucket("nope", lookup=False)


def test_missing_name_on_a_2018_bridge_needs_no_listing(rsps, key):
    client = keyed()
    for stored in (key.encrypt_bucket_name("nope"), "nope"):
        rsps.add("GET", f"{API}/bucket-ids/{urllib.parse.quote(stored, safe='')}",
                 status=404, json={"error": "Bucket not found"})
    with pytest.raises(NotFoundError, match="no bucket named 'nope'"):
        client.bucket_id_by_name("nope")  # no GET /buckets: the route answered
    assert len(rsps.calls) == 2
    for stored in (key.encrypt_file_name(BUCKET_ID, "f"), "f"):
        rsps.add("GET", f"{API}/buckets/{BUCKET_ID}/file-ids/{urllib.parse.quote(stored, safe='')}",
                 status=404, json={"error": "File not found"})
    with pytest.raises(NotFoundError, match="no file named 'f'"):
        client.file_id_by_name(BUCKET_ID, "f")
    assert len(rsps.calls) == 4


def test_file_id_by_name_encrypts_and_find_file(rsps, key):
    client = keyed()
    stored = key.encrypt_file_name(BUCKET_ID, "a b.txt")
    rsps.add("GET", f"{API}/buckets/{BUCKET_ID}/file-ids/{urllib.parse.quote(stored, safe='')}",
             json={"id": "4" * 24})
    rsps.add("GET", f"{API}/buckets/{BUCKET_ID}/files/{'4' * 24}/info",
             json=file_json(4, 0, stored) | {"id": "4" * 24})
    found = client.find_file(BUCKET_ID, "a b.txt")
    assert (found.id, found.filename, found.stored_name) == ("4" * 24, "a b.txt", stored)


def test_record_name_fields_default():
    assert (Bucket().stored_name, Bucket().name_state, Bucket().decrypted) == (None, None, False)
    assert (File().stored_name, File().decrypted) == (None, False)
