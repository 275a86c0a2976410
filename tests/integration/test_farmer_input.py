"""Client mistakes in the values a local farmer's control RPC stores or acts on: strings
that are not Unicode text, non-JSON number tokens, integers beyond their range. Each one
is answered in the control RPC's documented error shape (400 ``{"id": null, "error":
{"message"}}`` for an unreadable message, 200 ``{"id", "error"}`` for bad params),
never a 500, and the farmer keeps serving.
"""

from __future__ import annotations

import pytest
import requests

from storj.local.farmer import FarmerConfig, FarmerNode
from tests.data import SHARD_HASH as HELLO_HASH

pytestmark = pytest.mark.integration

SECRET = "input-control-secret"
EXPECTED = "Expected {id, method, params} as JSON"


@pytest.fixture(scope="module")
def farmer(tmp_path_factory):
    node = FarmerNode(FarmerConfig(data_dir=tmp_path_factory.mktemp("farmer-input"),
                                   control_secret=SECRET)).start()
    yield node
    # still serving, and nothing half-stored
    answer = requests.get(f"{node.url}/shards/{HELLO_HASH}", timeout=5)
    assert answer.status_code == 401
    node.stop()


def call(farmer: FarmerNode, raw: bytes) -> requests.Response:
    return requests.post(farmer.url + "/", data=raw, timeout=5, headers={
        "x-storj-control-secret": SECRET, "Content-Type": "application/json"})


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id": 1, "method": "CONSIGN", "params": {"data_hash": "' + HELLO_HASH.encode()
        + b'", "data_size": 13, "contact": {"nodeID": "\\ud800"}}}',
        b'{"id": "\\udfff", "method": "CONSIGN", "params": {}}',
        b'{"id": 1, "method": "\\ud800", "params": {}}',
    ],
)
def test_lone_surrogates_in_a_control_message_are_400(farmer, raw):
    answer = call(farmer, raw)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"].startswith(
        EXPECTED + ": a string holds an unpaired surrogate escape")


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_json_numbers_in_a_control_message_are_400(farmer, token):
    raw = b'{"id": ' + token + b', "method": "RETRIEVE", "params": {"data_hash": "x"}}'
    answer = call(farmer, raw)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"id": None, "error": {"message": answer.json()["error"]["message"]}}
    assert answer.json()["error"]["message"].startswith(EXPECTED + ": ")


@pytest.mark.parametrize("port", [0, -1, 65536, 2**63, 2**64, True, 1.5, "4000"])
def test_mirror_source_port_out_of_range_is_an_error(farmer, port):
    params = {"data_hash": HELLO_HASH, "data_size": 13, "audit_tree": [], "token": "t",
              "farmer": {"address": "127.0.0.1", "port": port, "nodeID": "0" * 40}}
    answer = requests.post(farmer.url + "/", json={"id": 9, "method": "MIRROR", "params": params},
                           headers={"x-storj-control-secret": SECRET}, timeout=5)
    assert answer.status_code == 200
    assert answer.json() == {"id": 9, "error": {
        "message": "Invalid farmer: expected a contact with address and port (1 to 65535)"}}


@pytest.mark.parametrize("size", [2**63, 2**64, 10**30, -(2**63) - 1])
def test_data_size_beyond_the_store_is_an_error(farmer, size):
    params = {"data_hash": HELLO_HASH, "data_size": size, "audit_tree": []}
    answer = requests.post(farmer.url + "/", json={"id": 3, "method": "CONSIGN", "params": params},
                           headers={"x-storj-control-secret": SECRET}, timeout=5)
    assert answer.status_code == 200
    assert "error" in answer.json() and "result" not in answer.json()
