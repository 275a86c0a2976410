"""One retry policy for a transfer's Bridge requests (issue 14).

A Bridge behind a fault proxy answers 503 to one route; the test counts how often that
route is asked for during one ``upload_file`` or ``download_file`` call. The number is
the documented one (``docs/transfers.rst``, "Retries of Bridge requests"): the
client's ``1 + retries`` attempts, 4 by default, and not that times an engine layer.
The policy's backoff is set to zero, so no test waits for it.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from storj._retry import never_sent
from storj.exception import BridgeServerError
from storj.http import Client, RetryPolicy
from storj.local import LocalNetwork
from storj.local.faults import FaultProxy, Status
from storj.transfer import TransferConfig, download_file, upload_file

MNEMONIC = "abandon " * 11 + "about"
#: One data shard, no parity: one contract negotiation per upload.
SIZE = 40_000

UPLOAD_ROUTES = {
    "POST /frames": ("POST", r"^/frames$"),
    "PUT /frames/:id": ("PUT", r"^/frames/[0-9a-f]+$"),
    "POST /buckets/:id/files": ("POST", r"^/buckets/[0-9a-f]+/files$"),
}
DOWNLOAD_ROUTES = {
    "GET .../info": ("GET", r"^/buckets/[0-9a-f]+/files/[0-9a-f]+/info$"),
    "GET pointers": ("GET", r"^/buckets/[0-9a-f]+/files/[0-9a-f]+\?"),
}


class Rig:
    def __init__(self, root: Path) -> None:
        self.network = LocalNetwork(root / "net", 2, mirror_redundancy=0).start()
        self.email, self.password = self.network.create_user()
        direct = Client(self.email, self.password, api_url=self.network.bridge_url,
                        encryption_key=MNEMONIC)
        self.bucket = direct.bucket_create("retries").id
        self.data = random.Random(14).randbytes(SIZE)
        self.source = root / "source.bin"
        self.source.write_bytes(self.data)
        self.config = TransferConfig(tmp_dir=root, timeout=5.0)
        self.stored = upload_file(direct, self.bucket, self.source, name="stored.bin",
                                  config=self.config)
        direct.close()
        self.out = root / "out.bin"
        self.counter = 0

    def name(self) -> str:
        self.counter += 1
        return f"file-{self.counter}.bin"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    rig = Rig(tmp_path_factory.mktemp("retries"))
    try:
        yield rig
    finally:
        rig.network.stop()


@pytest.fixture
def proxied(rig: Rig) -> Iterator[tuple[FaultProxy, Client]]:
    with FaultProxy(rig.network.bridge_url, seed=14) as proxy:
        client = Client(rig.email, rig.password, api_url=proxy.url, encryption_key=MNEMONIC)
        # The default number of retries, without the waits between them.
        client.retry_policy = dataclasses.replace(client.retry_policy, backoff_factor=0.0)
        try:
            yield proxy, client
        finally:
            client.close()
            if rig.out.exists():
                rig.out.unlink()


def test_the_documented_number_of_attempts_is_the_policys():
    assert RetryPolicy().attempts == 4
    assert Client("a@example.com", "x", api_url="http://127.0.0.1:9/").retry_policy.attempts == 4
    assert RetryPolicy(total=0).attempts == 1


@pytest.mark.parametrize("route", list(UPLOAD_ROUTES))
def test_upload_asks_a_failing_bridge_the_documented_number_of_times(rig, proxied, route):
    proxy, client = proxied
    method, path = UPLOAD_ROUTES[route]
    proxy.faults.add(Status(503), path=path, methods=[method])
    with pytest.raises(BridgeServerError):
        upload_file(client, rig.bucket, rig.source, name=rig.name(), config=rig.config)
    assert sum(proxy.faults.injected.values()) == client.retry_policy.attempts == 4


@pytest.mark.parametrize("route", list(DOWNLOAD_ROUTES))
def test_download_asks_a_failing_bridge_the_documented_number_of_times(rig, proxied, route):
    proxy, client = proxied
    method, path = DOWNLOAD_ROUTES[route]
    proxy.faults.add(Status(503), path=path, methods=[method])
    with pytest.raises(BridgeServerError):
        download_file(client, rig.bucket, rig.stored.id, rig.out, config=rig.config)
    assert sum(proxy.faults.injected.values()) == client.retry_policy.attempts == 4
    assert not rig.out.exists()


@pytest.mark.parametrize("route", list(UPLOAD_ROUTES))
def test_upload_survives_transient_503s(rig, proxied, route):
    proxy, client = proxied
    method, path = UPLOAD_ROUTES[route]
    proxy.faults.add(Status(503), path=path, methods=[method], times=3)
    entry = upload_file(client, rig.bucket, rig.source, name=rig.name(), config=rig.config)
    assert sum(proxy.faults.injected.values()) == 3
    proxy.faults.clear()
    download_file(client, rig.bucket, entry.id, rig.out, config=rig.config)
    assert rig.out.read_bytes() == rig.data


@pytest.mark.parametrize("route", list(DOWNLOAD_ROUTES))
def test_download_survives_transient_503s(rig, proxied, route):
    proxy, client = proxied
    method, path = DOWNLOAD_ROUTES[route]
    proxy.faults.add(Status(503), path=path, methods=[method], times=3)
    download_file(client, rig.bucket, rig.stored.id, rig.out, config=rig.config)
    assert sum(proxy.faults.injected.values()) == 3
    assert rig.out.read_bytes() == rig.data


@pytest.mark.parametrize("route", ["POST /frames", "POST /buckets/:id/files"])
def test_bridge_attempts_sets_the_count_for_one_transfer(rig, proxied, route):
    proxy, client = proxied
    method, path = UPLOAD_ROUTES[route]
    proxy.faults.add(Status(503), path=path, methods=[method])
    config = dataclasses.replace(rig.config, bridge_attempts=2)
    with pytest.raises(BridgeServerError):
        upload_file(client, rig.bucket, rig.source, name=rig.name(), config=config)
    assert sum(proxy.faults.injected.values()) == 2
    assert client.retry_policy.total == 3  # the caller's client is left as it was
    proxy.faults.clear()
    client.bucket_list()  # and its session still works


def test_retries_can_be_turned_off(rig, proxied):
    proxy, client = proxied
    client.retry_policy = RetryPolicy(total=0)
    method, path = DOWNLOAD_ROUTES["GET .../info"]
    proxy.faults.add(Status(503), path=path, methods=[method])
    with pytest.raises(BridgeServerError):
        download_file(client, rig.bucket, rig.stored.id, rig.out, config=rig.config)
    assert sum(proxy.faults.injected.values()) == 1


def test_never_sent_tells_connect_failures_from_later_ones():
    assert never_sent(requests.exceptions.ConnectTimeout("connect"))
    assert not never_sent(requests.exceptions.ReadTimeout("read"))
    assert not never_sent(requests.exceptions.ConnectionError("reset by peer"))
    assert not never_sent(None)
