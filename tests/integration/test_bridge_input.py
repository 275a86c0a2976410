"""Client mistakes in values the local Bridge stores: integers beyond what SQLite holds,
strings that are not Unicode text, blank names and control characters, non-JSON number
tokens, URLs that are not UTF-8. Each one is a 400 with a message that says what is
accepted, never a 500 (before these checks each of them reached SQLite and came back as
``Internal error``).

One small network (the Bridge and one farmer) serves the whole module, so that
``PUT /frames/:id`` really contracts a farmer and reports name a known shard.
"""

from __future__ import annotations

import json
import time

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from storj import keys
from storj.local import LocalNetwork
from tests.data import CHALLENGES_HEX, TREE_2017
from tests.data import SHARD_HASH as HELLO_HASH  # bridge-protocol.md §7.3
from tests.integration.test_bridge_api import Http

pytestmark = pytest.mark.integration

INT_MAX = 2**63 - 1
TOO_BIG = [2**63, 2**64, 10**30]
TOO_SMALL = [-(2**63) - 1, -(10**30)]
JSON = {"Content-Type": "application/json"}


def shard(index: int = 0) -> dict:
    return {"index": index, "size": 13, "hash": HELLO_HASH, "challenges": CHALLENGES_HEX,
            "tree": TREE_2017}


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    network = LocalNetwork(tmp_path_factory.mktemp("bridge-input"), 1,
                           mirror_redundancy=0).start()
    yield network
    health = requests.get(network.bridge_url + "/health", timeout=5)
    assert (health.status_code, health.text) == (200, "OK")
    network.stop()


@pytest.fixture(scope="module")
def user(network):
    email, password = network.create_user("input@example.com")
    return Http(network.bridge_url, email, password)


@pytest.fixture(scope="module")
def stored(user):
    """A bucket, a frame holding the Appendix A shard (contracted with the farmer, so
    the shard is known to the Bridge) and a file entry of that frame."""
    bucket = user.post("/buckets", json={"name": "input-bucket"}).json()
    frame = user.post("/frames", json={}).json()
    added = user.put(f"/frames/{frame['id']}", json=shard())
    assert added.status_code == 200, added.text
    entry = user.post(f"/buckets/{bucket['id']}/files",
                      json={"frame": frame["id"], "filename": "hello.txt"})
    assert entry.status_code == 200, entry.text
    return {"bucket": bucket["id"], "frame": frame["id"], "file": entry.json()["id"]}


def error_of(response: requests.Response) -> str:
    assert response.status_code == 400, (response.status_code, response.text)
    return response.json()["error"]


# ----------------------------------------------------------------------------- integers


@pytest.mark.parametrize("value", TOO_BIG)
def test_frame_index_beyond_the_store_is_400_with_the_range(user, stored, value):
    answer = user.put(f"/frames/{stored['frame']}", json=shard(value))
    assert error_of(answer) == f"Invalid index: expected an integer from 0 to {INT_MAX}"


def test_frame_index_at_the_top_of_the_range_is_stored(user):
    frame = user.post("/frames", json={}).json()
    assert user.put(f"/frames/{frame['id']}", json=shard(INT_MAX)).status_code == 200
    assert user.get(f"/frames/{frame['id']}").status_code == 200


@pytest.mark.parametrize("field", ["exchangeStart", "exchangeEnd"])
@pytest.mark.parametrize("value", TOO_BIG + TOO_SMALL)
def test_report_times_beyond_the_store_are_400_with_the_range(network, stored, field, value):
    report = {
        "dataHash": HELLO_HASH,
        "reporterId": "client",
        "exchangeStart": 1,
        "exchangeEnd": 2,
        "exchangeResultCode": 1000,
        "exchangeResultMessage": "SHARD_UPLOADED",
        field: value,
    }
    answer = Http(network.bridge_url).post("/reports/exchanges", json=report)
    assert error_of(answer) == (
        f"Invalid {field}: expected an integer from {-(2**63)} to {INT_MAX}"
    )


@pytest.mark.parametrize("value", TOO_BIG + TOO_SMALL + ["1.5", "x", "1_0", "\u0663"])
def test_contacts_page_and_port_beyond_the_store_are_400(network, value):
    anon = Http(network.bridge_url)
    page = anon.get("/contacts", params={"page": value})
    assert error_of(page).startswith("Invalid page: expected an integer from 1 to ")
    port = anon.get("/contacts", params={"port": value})
    assert error_of(port) == "Invalid port: expected an integer from 0 to 65535"


def test_the_last_contacts_page_is_an_empty_list(network):
    last = (INT_MAX // 30) + 1
    anon = Http(network.bridge_url)
    assert anon.get("/contacts", params={"page": last}).json() == []
    assert error_of(anon.get("/contacts", params={"page": last + 1})) == (
        f"Invalid page: expected an integer from 1 to {last}"
    )


@pytest.mark.parametrize("name", ["skip", "limit"])
@pytest.mark.parametrize("value", TOO_BIG)
def test_pointer_skip_and_limit_beyond_the_store_are_400(user, stored, name, value):
    answer = user.get(f"/buckets/{stored['bucket']}/files/{stored['file']}",
                      params={name: value})
    assert error_of(answer) == f"Invalid {name}: expected an integer from 0 to {INT_MAX}"


def signed_contact(url: str, body: dict) -> requests.Response:
    """``POST /contacts`` signed as a farmer (§2.7) with ``body`` as given."""
    private = ec.generate_private_key(ec.SECP256K1())
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time() * 1000))
    full_url = url + "/contacts"
    headers = {
        "Content-Type": "application/json",
        "x-node-id": keys.node_id(private),
        "x-node-pubkey": keys.public_key_hex(private),
        "x-node-timestamp": timestamp,
        "x-node-signature": keys.sign(private, b"POST" + full_url.encode()
                                      + timestamp.encode() + raw),
    }
    with requests.Session() as session:
        session.trust_env = False
        return session.post(full_url, data=raw, headers=headers, timeout=10)


@pytest.mark.parametrize("value", TOO_BIG)
def test_farmer_space_available_beyond_the_store_is_400(network, value):
    body = {"address": "127.0.0.1", "port": 4000, "spaceAvailable": value}
    answer = signed_contact(network.bridge_url, body)
    assert error_of(answer) == f"Invalid spaceAvailable: expected an integer from 0 to {INT_MAX}"


# ----------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "\\ud800"}',
        b'{"name": "\\udfff"}',
        b'{"name": "a\\udc00b"}',
        b'{"name": "\\udfff\\ud800"}',  # a pair in the wrong order is two lone halves
        b'{"name": "ok", "\\ud800": 1}',  # keys are strings too
        b'{"name": "ok", "pubkeys": [], "x": ["\\ud83d"]}',
    ],
)
def test_lone_surrogates_in_a_body_are_400(user, raw):
    answer = user.post("/buckets", data=raw, headers=JSON)
    assert error_of(answer).startswith("Request body is not valid JSON: a string holds an "
                                       "unpaired surrogate escape")


@pytest.mark.parametrize(
    ("method", "path", "raw"),
    [
        ("PATCH", "/users/input@example.com", b'{"redirect": "\\ud800"}'),
        ("POST", "/activations", b'{"email": "\\ud800"}'),
        ("POST", "/users", b'{"email": "a\\ud800@example.com", "password": "' + b"0" * 64
         + b'"}'),
    ],
)
def test_lone_surrogates_are_400_on_routes_without_authentication(network, method, path, raw):
    answer = Http(network.bridge_url).request(method, path, data=raw, headers=JSON)
    assert error_of(answer).startswith("Request body is not valid JSON")


def test_lone_surrogates_are_400_in_every_stored_field(user, stored):
    bucket, frame = stored["bucket"], stored["frame"]
    for method, path, raw in [
        ("PATCH", f"/buckets/{bucket}", b'{"encryptionKey": "\\ud800"}'),
        ("POST", f"/buckets/{bucket}/files",
         b'{"frame": "' + frame.encode() + b'", "filename": "\\ud800"}'),
        ("POST", "/keys", b'{"key": "02' + b"1" * 64 + b'", "label": "\\ud800"}'),
    ]:
        answer = user.request(method, path, data=raw, headers=JSON)
        assert error_of(answer).startswith("Request body is not valid JSON"), path


def test_surrogate_pairs_are_text(user):
    answer = user.post("/buckets", data=b'{"name": "\\ud83d\\ude00 smile"}', headers=JSON)
    assert answer.status_code == 201
    assert answer.json()["name"] == "\U0001f600 smile"


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999"])
def test_non_json_numbers_are_400(user, stored, token):
    answer = user.put(f"/frames/{stored['frame']}",
                      data=b'{"index": ' + token + b', "size": 13}', headers=JSON)
    assert error_of(answer).startswith("Request body is not valid JSON: ")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (" ", "Invalid name: must not be blank"),
        ("\t \u3000", "Invalid name: must not be blank"),
        ("a\x00b", "Invalid name: must not contain control characters (such as NUL)"),
        ("line\nbreak", "Invalid name: must not contain control characters (such as NUL)"),
        ("del\x7f", "Invalid name: must not contain control characters (such as NUL)"),
    ],
)
def test_blank_names_and_control_characters_are_400(user, stored, name, message):
    assert error_of(user.post("/buckets", json={"name": name})) == message
    frame = user.post("/frames", json={}).json()
    entry = user.post(f"/buckets/{stored['bucket']}/files",
                      json={"frame": frame["id"], "filename": name})
    assert error_of(entry) == message.replace("name", "filename", 1)


@pytest.mark.parametrize(
    "name", ["\u202eevil.exe", "e\u0301", "\ufffe", "\U0001f4a9", "\u00a0x", "x" * 260]
)
def test_unusual_but_valid_names_are_kept(user, name):
    answer = user.post("/buckets", json={"name": name})
    assert answer.status_code == 201, answer.text
    assert answer.json()["name"] == name
    assert user.delete(f"/buckets/{answer.json()['id']}").status_code == 204


@pytest.mark.parametrize("query", ["address=%ff", "address=%ED%A0%80", "x=%c3", "%ff=1"])
def test_query_strings_that_are_not_utf8_are_400(network, query):
    answer = Http(network.bridge_url).get("/contacts?" + query)
    assert error_of(answer) == "Malformed URL: query parameters must be UTF-8"


@pytest.mark.parametrize("segment", ["%ff", "%ED%A0%80", "%c3%28"])
def test_path_parameters_that_are_not_utf8_are_400(user, segment):
    answer = user.get("/bucket-ids/" + segment)
    assert error_of(answer) == "Malformed URL: parameters must be UTF-8"


@pytest.mark.parametrize("path", ["/contacts", "/reports/exchanges"])
def test_farmer_timestamp_with_non_ascii_digits_is_401(network, path):
    """``"\\xb2"`` (superscript two) passes ``str.isdigit`` but not ``int``: it was a 500."""
    import http.client

    body = json.dumps({
        "dataHash": "ab" * 20, "reporterId": "x", "farmerId": "ab" * 20, "exchangeStart": 1,
        "exchangeEnd": 2, "exchangeResultCode": 1000, "exchangeResultMessage": "SHARD_UPLOADED",
    }).encode()
    host, port = network.bridge_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(body)))
        for name, value in (
            ("x-node-id", "ab" * 20),
            ("x-node-pubkey", "02" + "ab" * 32),
            ("x-node-timestamp", b"17\xb2"),
            ("x-node-signature", "30"),
        ):
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        assert response.status == 401
        assert json.loads(response.read()) == {
            "error": "Invalid x-node-timestamp: expected epoch milliseconds"
        }
    finally:
        conn.close()
