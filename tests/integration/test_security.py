"""Security regression tests against the whole local network (Bridge, farmers, client, CLI).

Signature replay, nonce reuse after a restart, token reuse (bucket ``x-token`` and farmer
transfer tokens), another user's access to every kind of resource, path traversal
(farmer paths, stored names that climb out of a download directory), oversized bodies,
slow ("slowloris") requests, file permissions of every file holding a secret, and no
secret in any log record at DEBUG level.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import stat
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from storj import api, configuration, keys, model
from storj.exception import (
    AuthenticationError,
    BadRequestError,
    BridgeError,
    ConflictError,
    NotFoundError,
)
from storj.http import Client
from storj.local import LocalNetwork
from storj.local.farmer import CONTROL_SECRET_HEADER
from storj.transfer import TransferConfig, download_file, upload_file

pytestmark = pytest.mark.integration

MNEMONIC = "abandon " * 11 + "about"
DENIED = (NotFoundError, AuthenticationError, BadRequestError)



def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


class Party:
    """A user with a client, an ECDSA key, a bucket, a frame and one stored file."""

    def __init__(self, network: LocalNetwork, tmp: Path, label: str) -> None:
        self.email, self.password = network.create_user(f"{label}@example.com")
        self.url = network.bridge_url
        self.client = Client(self.email, self.password, api_url=self.url,
                             encryption_key=MNEMONIC)
        self.private, public = keys.generate_new_key_pair()
        self.private_hex = keys.private_key_hex(self.private)
        self.pubkey = keys.public_key_hex(public)
        self.client.key_register(self.pubkey)
        self.bucket = self.client.bucket_create(f"{label}-bucket").id
        self.data = random.Random(label).randbytes(4000)
        source = tmp / f"{label}.bin"
        source.write_bytes(self.data)
        self.file = upload_file(self.client, self.bucket, source, name=f"{label}.bin",
                                config=TransferConfig(tmp_dir=tmp))
        self.frame = self.client.frame_create().id
        self.basic = {"Authorization": api.basic_auth_header(
            self.email, api.hash_password(self.password))}

    def signed(self, method: str, path: str, body: dict | None = None, query: str = "",
               *, nonce: str | None = None) -> requests.PreparedRequest:
        """An ECDSA-signed request (§2.2), prepared but not sent."""
        nonce = nonce or api.new_nonce()
        data = None
        if method in ("POST", "PUT", "PATCH"):
            data = json.dumps({**(body or {}), "__nonce": nonce}).encode()
            payload = data
        else:
            query = f"{query}&__nonce={nonce}" if query else f"__nonce={nonce}"
            payload = query.encode()
        signature = keys.sign(self.private_hex, api.signing_string(method, path, payload))
        headers = {"x-pubkey": self.pubkey, "x-signature": signature,
                   "Content-Type": "application/json"}
        url = self.url + path + (f"?{query}" if query else "")
        return requests.Request(method, url, data=data, headers=headers).prepare()

    def still_intact(self, tmp: Path) -> None:
        """The bucket, file and key are there and the file downloads byte-identical."""
        assert self.client.bucket_get(self.bucket).id == self.bucket
        target = tmp / f"check-{self.email}.bin"
        download_file(self.client, self.bucket, self.file.id, target,
                      config=TransferConfig(tmp_dir=tmp))
        assert target.read_bytes() == self.data
        target.unlink()
        assert self.pubkey in self.client.key_list()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("security")
    network = LocalNetwork(root / "net", 3, mirror_redundancy=0).start()
    try:
        alice = Party(network, root, "alice")
        bob = Party(network, root, "bob")
        yield network, alice, bob, root
    finally:
        network.stop()


# ------------------------------------------------------------------ replay and tokens


def test_signed_request_replayed_is_refused(world):
    network, alice, _, _ = world
    with _session() as http:
        request = alice.signed("GET", "/buckets")
        first = http.send(request, timeout=10)
        assert first.status_code == 200 and alice.bucket in first.text
        replay = http.send(request, timeout=10)
        assert (replay.status_code, replay.json()) == (401, {"error": "Invalid nonce supplied"})
        # the same signature moved to another path or with another body fails too
        moved = alice.signed("GET", "/frames")
        moved.url = alice.url + "/keys?" + moved.url.split("?", 1)[1]
        assert http.send(moved, timeout=10).status_code == 401
        tampered = alice.signed("POST", "/buckets", {"name": "x"})
        tampered.body = tampered.body.replace(b'"x"', b'"y"')
        assert http.send(tampered, timeout=10).status_code == 401


def test_nonce_reuse_after_a_restart_is_refused(tmp_path):
    network = LocalNetwork(tmp_path / "net", 1).start()
    try:
        party = Party(network, tmp_path, "carol")
        request = party.signed("GET", "/keys")
        with _session() as http:
            assert http.send(request, timeout=10).status_code == 200
        network.stop()
        network.start()
        request.url = request.url.replace(party.url, network.bridge_url)
        with _session() as http:
            replay = http.send(request, timeout=10)
        assert (replay.status_code, replay.json()) == (401, {"error": "Invalid nonce supplied"})
    finally:
        network.stop()


def test_bucket_token_is_single_use_and_bound_to_its_bucket(world):
    _, alice, bob, _ = world
    token = alice.client.token_create(alice.bucket, "PULL")["token"]
    with _session() as http:
        used = http.get(f"{alice.url}/buckets/{alice.bucket}/files/{alice.file.id}",
                        headers={"x-token": token}, timeout=10)
        assert used.status_code == 200 and used.json()[0]["token"]
        again = http.get(f"{alice.url}/buckets/{alice.bucket}/files/{alice.file.id}",
                         headers={"x-token": token}, timeout=10)
        assert (again.status_code, again.json()) == (401, {"error": "Invalid or expired token"})
        # a fresh token of Alice's bucket on Bob's bucket and file
        token = alice.client.token_create(alice.bucket, "PULL")["token"]
        other = http.get(f"{bob.url}/buckets/{bob.bucket}/files/{bob.file.id}",
                         headers={"x-token": token}, timeout=10)
        assert other.status_code in (401, 403, 404) and set(other.json()) == {"error"}


def test_farmer_token_is_single_use_and_bound_to_its_shard(world):
    network, alice, bob, _ = world
    (pointer,) = list(alice.client.file_pointers(alice.bucket, alice.file.id))
    (bob_pointer,) = list(bob.client.file_pointers(bob.bucket, bob.file.id))
    farmer = f"http://{pointer.farmer.address}:{pointer.farmer.port}"
    with _session() as http:
        wrong = http.get(f"{farmer}/shards/{bob_pointer.hash}",
                         params={"token": str(pointer.token)}, timeout=10)
        assert wrong.status_code in (401, 404) and bob.data not in wrong.content
        first = http.get(f"{farmer}/shards/{pointer.hash}",
                         params={"token": str(pointer.token)}, timeout=10)
        assert first.status_code == 200 and len(first.content) == pointer.size, first.text
        second = http.get(f"{farmer}/shards/{pointer.hash}",
                          params={"token": str(pointer.token)}, timeout=10)
        assert second.status_code == 401
        # a RETRIEVE token cannot upload, even for the same shard
        (fresh,) = list(alice.client.file_pointers(alice.bucket, alice.file.id))
        push = http.post(f"{farmer}/shards/{fresh.hash}", params={"token": str(fresh.token)},
                         data=b"x" * 10, timeout=10)
        assert push.status_code == 401


# ------------------------------------------------------------------ another user's data


def test_another_user_reaches_none_of_alices_resources(world):
    _, alice, bob, root = world
    c = bob.client
    shard = model.Shard(hash="0" * 40, size=100, index=0, challenges=["00" * 32],
                        tree=["1" * 40])
    attempts = {
        "bucket_get": lambda: c.bucket_get(alice.bucket),
        "bucket_files": lambda: c.bucket_files(alice.bucket),
        "bucket_set_keys": lambda: c.bucket_set_keys(alice.bucket, None, [bob.pubkey]),
        "token_create PULL": lambda: c.token_create(alice.bucket, "PULL"),
        "token_create PUSH": lambda: c.token_create(alice.bucket, "PUSH"),
        "file_pointers": lambda: list(c.file_pointers(alice.bucket, alice.file.id)),
        "file_metadata": lambda: c.file_metadata(alice.bucket, alice.file.id),
        "file_mirrors": lambda: c.file_mirrors(alice.bucket, alice.file.id),
        "file_id_by_name": lambda: c.file_id_by_name(alice.bucket, alice.file.filename),
        "file_id_by_stored_name": lambda: c.file_id_by_stored_name(
            alice.bucket, alice.file.stored_name
        ),
        "bucket_set_mirrors": lambda: c.bucket_set_mirrors(alice.bucket, alice.file.id, 1),
        "bucket_entry_create": lambda: c.bucket_entry_create(alice.bucket, bob.frame, "x"),
        "frame_get": lambda: c.frame_get(alice.frame),
        "frame_add_shard": lambda: c.frame_add_shard(shard, alice.frame),
        "frame_delete": lambda: c.frame_delete(alice.frame),
        "file_remove": lambda: c.file_remove(alice.bucket, alice.file.id),
        "bucket_delete": lambda: c.bucket_delete(alice.bucket),
        "key_delete": lambda: c.key_delete(alice.pubkey),
        "user_delete": lambda: c.user_delete(alice.email),
    }
    for what, attempt in attempts.items():
        with pytest.raises(BridgeError) as caught:
            attempt()
        assert isinstance(caught.value, DENIED), (what, caught.value)
        for secret in (alice.file.stored_name, alice.frame, alice.pubkey):
            assert secret not in (caught.value.body or ""), (what, caught.value.body)
    # anyone may ask for a reset of Alice's password: the token goes to Alice's mailbox only
    network = world[0]
    with _session() as http:
        answer = http.patch(f"{alice.url}/users/{alice.email}",
                            json={"password": api.hash_password("hijacked")}, timeout=10)
    resets = [m["token"] for m in network.outbox(alice.email) if m["kind"] == "reset"]
    assert resets and resets[-1] not in answer.text
    assert not [m for m in network.outbox(alice.email) if m["kind"] == "deactivation"]
    # Bob's own listings show nothing of Alice's
    assert alice.bucket not in {b.id for b in c.bucket_list()}
    assert alice.frame not in {f.id for f in c.frame_list()}
    assert alice.pubkey not in c.key_list()
    # Alice's own frame and file are intact
    assert alice.client.frame_get(alice.frame).id == alice.frame
    alice.still_intact(root)


def test_another_users_public_key_cannot_be_taken_over(world):
    """Bob registering Alice's public key must not let Alice's signed requests act as Bob
    (nor lock Alice out)."""
    _, alice, bob, _ = world
    try:
        bob.client.key_register(alice.pubkey)
    except (ConflictError, BadRequestError):
        pass
    with _session() as http:
        answer = http.send(alice.signed("GET", "/buckets"), timeout=10)
    assert answer.status_code == 200
    ids = {b["id"] for b in answer.json()}
    assert alice.bucket in ids and bob.bucket not in ids
    assert alice.pubkey not in bob.client.key_list()


def test_farmer_control_channel_needs_the_secret(world):
    network, alice, _, _ = world
    (pointer,) = list(alice.client.file_pointers(alice.bucket, alice.file.id))
    farmer = f"http://{pointer.farmer.address}:{pointer.farmer.port}/"
    call = {"id": "1", "method": "RETRIEVE", "params": {"data_hash": pointer.hash}}
    with _session() as http:
        for headers in ({}, {CONTROL_SECRET_HEADER: "0" * 64},
                        {CONTROL_SECRET_HEADER: ""}, alice.basic):
            answer = http.post(farmer, json=call, headers=headers, timeout=10)
            assert (answer.status_code, answer.json()) == (401, {"result": "Not authorized"})


# ------------------------------------------------------------------ path traversal


@pytest.mark.parametrize("target", [
    "/shards/../identity.key", "/shards/..%2Fidentity.key", "/shards/%2e%2e%2fidentity.key",
    "/shards/%2e%2e/farmer.sqlite3", "/shards/..%5cidentity.key", "/../identity.key",
    "/shards/%00", "/shards//etc/passwd",
])
def test_farmer_paths_cannot_reach_other_files(world, target):
    network, _, _, _ = world
    farmer = network.farmers[0]
    identity = (farmer.data_dir / "identity.key").read_bytes().strip()
    with socket.create_connection(("127.0.0.1", farmer.port), timeout=10) as sock:
        sock.sendall(f"GET {target}?token={'0' * 40} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert status in (400, 401, 404)
    assert identity not in answer and b"SQLite" not in answer


def test_stored_names_cannot_escape_a_download_directory(world, tmp_path, monkeypatch):
    """Names chosen by whoever uploaded (or by a hostile Bridge) such as ``../x`` or
    ``/abs`` never create files outside the directory given to ``storj cp -r``."""
    from storj.cli import cli

    network, _, _, root = world
    email, password = network.create_user()
    client = Client(email, password, api_url=network.bridge_url, encryption_key=MNEMONIC)
    client.bucket_create("names")
    bucket = client.bucket_id_by_name("names")
    source = tmp_path / "payload.bin"
    source.write_bytes(b"payload")
    for name in ("ok.txt", "/abs.txt", "dir/../../escape.txt"):
        upload_file(client, bucket, source, name=name, config=TransferConfig(tmp_dir=tmp_path))
    client.close()
    for variable, value in {"STORJ_BRIDGE": network.bridge_url, "STORJ_BRIDGE_USER": email,
                            "STORJ_BRIDGE_PASS": password, "STORJ_ENCRYPTION_KEY": MNEMONIC,
                            "HOME": str(tmp_path / "home"),
                            "XDG_CONFIG_HOME": str(tmp_path / "home" / "cfg"),
                            "STORJ_LOCAL_DATA": str(tmp_path / "home" / "local")}.items():
        monkeypatch.setenv(variable, value)
    destination = tmp_path / "inside" / "dest"
    destination.mkdir(parents=True)
    before = {p for p in tmp_path.rglob("*")}
    result = CliRunner().invoke(cli, ["cp", "-r", "storj://names/", str(destination)])
    assert result.exit_code != 0
    assert "'..'" in result.output
    home = tmp_path / "home"
    created = {p for p in tmp_path.rglob("*")} - before
    assert all(destination in p.parents or home in p.parents or p == home
               for p in created), created
    assert not (tmp_path / "inside" / "escape.txt").exists()
    assert not (tmp_path / "escape.txt").exists()


# ------------------------------------------------------------------ oversized and slow


def test_oversized_bodies_are_refused(world, tmp_path):
    network, alice, _, _ = world
    with _session() as http:
        huge = http.post(f"{alice.url}/buckets", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                         headers={**alice.basic, "Content-Type": "application/json"},
                         timeout=30)
        assert huge.status_code == 413 and "error" in huge.json()
    # a farmer refuses more bytes than the contract says and keeps nothing
    frame = alice.client.frame_create()
    data = b"s" * 1000
    shard = model.Shard(hash=api.rmd160sha256_hex(data), size=len(data), index=0,
                        challenges=["00" * 32], tree=["1" * 40])
    contract = alice.client.frame_add_shard(shard, frame.id)
    farmer = contract["farmer"]
    url = f"http://{farmer['address']}:{farmer['port']}/shards/{shard.hash}"
    with _session() as http:
        answer = http.post(url, params={"token": contract["token"]}, data=data * 5, timeout=30)
    assert answer.status_code == 400
    assert answer.json() == {"result": "Shard exceeds the amount defined in the contract"}
    for node in network.farmers:
        assert not node.has_shard(shard.hash)
        assert list((node.data_dir / "tmp").iterdir()) == []
    alice.client.frame_delete(frame.id)


def test_many_idle_connections_do_not_stop_the_service(world, tmp_path):
    network, alice, _, _ = world
    idle = []
    try:
        for port in [network.bridge.port] + [f.port for f in network.farmers]:
            for _ in range(20):
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finished
                idle.append(sock)
        alice.still_intact(tmp_path)
    finally:
        for sock in idle:
            sock.close()


def _standalone_farmer(tmp_path, client_timeout):
    from storj.local.farmer import FarmerConfig, FarmerNode

    config = FarmerConfig(data_dir=tmp_path / "farmer", client_timeout=client_timeout)
    return FarmerNode(config).start()


def test_farmer_drops_silent_connections_after_its_timeout(tmp_path):
    node = _standalone_farmer(tmp_path, 0.5)
    try:
        with socket.create_connection(("127.0.0.1", node.port), timeout=30) as sock:
            sock.sendall(b"GET /shards/")
            started = time.monotonic()
            answer = sock.recv(100)  # socket.timeout (a failure) if the farmer keeps it open
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
            # generous for a busy machine, far below the 300 s default client_timeout
            assert time.monotonic() - started < CUT_OFF_BOUND
    finally:
        node.stop()


#: Seconds within which a server with a 0.5 s or 1 s deadline must have cut a slow client
#: off: generous for a busy machine, yet far below the trickles below (over 20 s) and the
#: servers' default deadlines (60 s, 300 s).
CUT_OFF_BOUND = 10.0


def _trickle(port: int, head: bytes, burst: bytes = b"") -> float | None:
    """Send ``burst`` at once, then ``head`` one byte every 0.3 s; seconds until the
    server cut us off (or None if it still listened after all of ``head``, or after
    30 s). The pause only simulates a slow client: a server honouring its head deadline
    cuts it off after about that deadline, whatever the exact pace."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    started = time.monotonic()
    try:
        if burst:
            sock.sendall(burst)
        for byte in head:
            sock.sendall(bytes([byte]))
            time.sleep(0.3)
            if time.monotonic() - started > 30:
                return None
    except OSError:
        return time.monotonic() - started
    finally:
        sock.close()
    return None


def test_farmer_cuts_off_a_request_head_that_trickles_in(tmp_path):
    node = _standalone_farmer(tmp_path, 1.0)
    try:
        head = b"GET /shards/" + b"a" * 40 + b"?token=x HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 60
        cut_off = _trickle(node.port, head)
        assert cut_off is not None and cut_off < CUT_OFF_BOUND
    finally:
        node.stop()


def test_farmer_cuts_off_headers_that_trickle_in_after_a_prompt_request_line(tmp_path):
    node = _standalone_farmer(tmp_path, 1.0)
    try:
        line = b"GET /shards/" + b"a" * 40 + b"?token=x HTTP/1.1\r\n"
        cut_off = _trickle(node.port, b"Host: x\r\nX-Pad: " + b"p" * 60, burst=line)
        assert cut_off is not None and cut_off < CUT_OFF_BOUND
    finally:
        node.stop()


def test_bridge_cuts_off_headers_that_trickle_in_after_a_prompt_request_line(tmp_path):
    network = LocalNetwork(tmp_path / "net", 1, request_timeout=1.0).start()
    try:
        burst = b"GET /health HTTP/1.1\r\n"
        cut_off = _trickle(network.bridge.port, b"Host: x\r\nX-Padding: " + b"p" * 100, burst)
        assert cut_off is not None and cut_off < CUT_OFF_BOUND
    finally:
        network.stop()


def test_bridge_cuts_off_a_request_head_that_trickles_in(tmp_path):
    network = LocalNetwork(tmp_path / "net", 1, request_timeout=1.0).start()
    try:
        head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * 100
        cut_off = _trickle(network.bridge.port, head)
        assert cut_off is not None and cut_off < CUT_OFF_BOUND
    finally:
        network.stop()


# ------------------------------------------------------------------ secrets at rest


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_holding_secrets_are_private(world, tmp_path):
    network, _, _, _ = world
    old = os.umask(0)
    try:
        target = configuration.write_config("a@example.com", "pw", tmp_path / "cfg" / "storj.ini",
                                            encryption_key=MNEMONIC)
        assert _mode(target) == 0o600
        assert _mode(target.parent) == 0o700
        fresh = LocalNetwork(tmp_path / "net", 1)
        fresh.start()
        fresh.stop()
    finally:
        os.umask(old)
    assert _mode(tmp_path / "net" / "network.json") == 0o600
    assert _mode(tmp_path / "net" / "farmers" / "farmer-0" / "identity.key") == 0o600
    for node in network.farmers:
        assert _mode(node.data_dir / "identity.key") == 0o600
    assert _mode(network.data_dir / "network.json") == 0o600
    # the CLI's embedded-network credentials
    from storj.cli._embedded import LocalCredentials, save_credentials

    creds = tmp_path / "local" / "credentials.json"
    old = os.umask(0)
    try:
        save_credentials(creds, LocalCredentials("a@storj.local", "pw", MNEMONIC))
    finally:
        os.umask(old)
    assert _mode(creds) == 0o600


# ------------------------------------------------------------------ secrets in logs


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + repr(record.exc_info[1])
        self.lines.append((record.name, text))




@pytest.fixture(scope="module")
def debug_logs(tmp_path_factory):
    """A whole session (register, upload, Basic and ECDSA calls, tokens, downloads, a
    wrong password) with every logger at DEBUG: ``(records, secrets)``."""
    tmp_path = tmp_path_factory.mktemp("logs")
    handler = _Everything()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    signatures: list[str] = []
    farmer_tokens: list[str] = []
    real_sign = keys.sign
    from storj.transfer import farmer_client

    real_url = farmer_client.shard_url

    def recording_sign(private, message):
        signature = real_sign(private, message)
        signatures.append(signature)
        return signature

    def recording_url(endpoint, shard_hash, token):
        farmer_tokens.append(token)
        return real_url(endpoint, shard_hash, token)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(keys, "sign", recording_sign)
            patch.setattr(farmer_client, "shard_url", recording_url)
            network = LocalNetwork(tmp_path / "net", 2).start()
            try:
                party = Party(network, tmp_path, "dave")
                token = party.client.token_create(party.bucket, "PULL")["token"]
                party.client.authenticate(party.private_hex)  # ECDSA from here on
                list(party.client.bucket_list())
                party.still_intact(tmp_path)
                pointers = list(party.client.file_pointers(party.bucket, party.file.id))
                with pytest.raises(AuthenticationError):
                    Client(party.email, "wrong password", api_url=network.bridge_url).key_list()
                control_secret = json.loads((network.data_dir / "network.json").read_text())[
                    "control_secret"]
            finally:
                network.stop()
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    assert len(handler.lines) > 50  # the DEBUG logs really were on
    assert len(signatures) >= 3 and len(farmer_tokens) >= 2
    secrets = {
        "password": party.password,
        "password hash": api.hash_password(party.password),
        "basic header": party.basic["Authorization"].split()[1],
        "mnemonic": MNEMONIC.strip(),
        "private key": party.private_hex,
        "bucket token": token,
        "control secret": control_secret,
        **{f"signature {i}": s for i, s in enumerate(signatures)},
        **{f"pointer token {i}": str(p.token) for i, p in enumerate(pointers)},
        **{f"farmer token {i}": t for i, t in enumerate(farmer_tokens)},
    }
    leaks = [(what, name, line[:200]) for name, line in handler.lines
             for what, secret in secrets.items() if secret and secret in line]
    return leaks


def _urllib3_farmer_token(leak: tuple[str, str, str]) -> bool:
    return leak[0].startswith("farmer token") and leak[1] == "urllib3.connectionpool"


def test_no_secret_in_any_log_record_at_debug(debug_logs):
    """Passwords, their hashes, Basic headers, the mnemonic, private keys, signatures,
    bucket tokens, the control secret and farmer tokens appear in no record — except
    farmer tokens in urllib3's request lines (next test)."""
    assert [leak for leak in debug_logs if not _urllib3_farmer_token(leak)] == []


def test_no_farmer_token_in_urllib3_debug_logs(debug_logs):
    assert [leak for leak in debug_logs if _urllib3_farmer_token(leak)] == []
