"""Access control of the local network, tried as an attacker against its defaults.

Account takeover through the dev outbox, replay of captured signed requests (bucket
keys and farmers), secret tokens in the logs, file modes of the data directories, and
unbounded resources (connections, password guessing, mail queuing). Each test failed
on the code before its fix.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from storj import api, keys
from storj.http import Client
from storj.local import LocalNetwork
from storj.local.__main__ import cli as local_cli
from storj.local.bridge import BridgeConfig, BridgeServer
from storj.local.farmer import FarmerConfig, FarmerNode, registration_message
from storj.local.network import NETWORK_FILE, RUNNING_FILE
from storj.transfer import TransferConfig, upload_file
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

SECRET = "test-control-secret"
ADMIN = "a" * 64
MNEMONIC = "abandon " * 11 + "about"
ADMIN_HEADER = "x-storj-admin-secret"


class Clock:
    """An injectable clock (seconds) that only moves when a test moves it."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def _basic(email: str, password: str) -> dict[str, str]:
    return {"Authorization": api.basic_auth_header(email, api.hash_password(password))}


def _bridge(tmp_path: Path, clock: Clock | None = None, **options) -> BridgeServer:
    config = BridgeConfig(data_dir=tmp_path / "bridge", control_secret=SECRET, **options)
    return BridgeServer(config, clock=clock or Clock()).start()


def _register(url: str, email: str, password: str) -> dict:
    with _session() as http:
        response = http.post(url + "/users", json={"email": email,
                                                   "password": api.hash_password(password)},
                             timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


class Signer:
    """ECDSA-signed Bridge requests (§2.2); ``prepare`` builds one without sending it."""

    def __init__(self, url: str) -> None:
        self.url = url
        private, public = keys.generate_new_key_pair()
        self.private = keys.private_key_hex(private)
        self.pubkey = keys.public_key_hex(public)

    def prepare(self, method: str, path: str, body: dict | None = None, *,
                nonce: str | None = "auto") -> requests.PreparedRequest:
        nonce = api.new_nonce() if nonce == "auto" else nonce
        data = None
        query = ""
        if method in ("POST", "PUT", "PATCH"):
            fields = dict(body or {})
            if nonce is not None:
                fields["__nonce"] = nonce
            data = json.dumps(fields).encode()
            payload = data
        else:
            query = f"__nonce={nonce}" if nonce is not None else ""
            payload = query.encode()
        headers = {"x-pubkey": self.pubkey, "Content-Type": "application/json",
                   "x-signature": keys.sign(self.private,
                                            api.signing_string(method, path, payload))}
        url = self.url + path + (f"?{query}" if query else "")
        return requests.Request(method, url, data=data, headers=headers).prepare()


# ============================================================ 1. the dev outbox


def test_dev_endpoints_are_off_by_default(tmp_path):
    assert BridgeConfig(data_dir=tmp_path).dev_endpoints is False
    with LocalNetwork(tmp_path / "net", 1) as network, _session() as http:
        email, _ = network.create_user()
        assert http.patch(f"{network.bridge_url}/users/{email}",
                          json={"password": api.hash_password("mine now")},
                          timeout=10).status_code == 200
        for method, path in (("GET", "/_dev/outbox"), ("POST", "/_dev/audit")):
            answer = http.request(method, network.bridge_url + path, timeout=10)
            assert (answer.status_code, answer.json()) == (404, {"error": "Not found"})
        # the in-process tools still see the mail
        assert [m["kind"] for m in network.outbox(email)] == ["reset"]


def test_the_outbox_never_hands_one_user_another_users_reset_token(tmp_path):
    """The takeover: PATCH /users/victim, read the reset token, GET /resets/:token."""
    bridge = _bridge(tmp_path, dev_endpoints=True, admin_secret=ADMIN)
    try:
        _register(bridge.url, "victim@example.com", "victim password")
        _register(bridge.url, "eve@example.com", "eve password")
        with _session() as http:
            queued = http.patch(bridge.url + "/users/victim@example.com",
                                json={"password": api.hash_password("eve owns it")}, timeout=10)
            assert queued.status_code == 200
            reset = bridge.outbox("victim@example.com")[-1]["token"]
            anonymous = http.get(bridge.url + "/_dev/outbox", timeout=10)
            assert anonymous.status_code == 401
            assert "Basic" in anonymous.json()["error"]
            asked = http.get(bridge.url + "/_dev/outbox",
                             params={"email": "victim@example.com"}, timeout=10)
            assert asked.status_code == 401
            as_eve = http.get(bridge.url + "/_dev/outbox",
                              headers=_basic("eve@example.com", "eve password"), timeout=10)
            assert as_eve.status_code == 200 and as_eve.json() == []
            eve_asks = http.get(bridge.url + "/_dev/outbox",
                                params={"email": "victim@example.com"},
                                headers=_basic("eve@example.com", "eve password"), timeout=10)
            assert eve_asks.status_code == 403
            wrong_admin = http.get(bridge.url + "/_dev/outbox", headers={ADMIN_HEADER: "b" * 64},
                                   timeout=10)
            assert wrong_admin.status_code == 401
            for answer in (anonymous, asked, as_eve, eve_asks, wrong_admin):
                assert reset not in answer.text and "victim@example.com" not in answer.text
            # the victim keeps the account
            victim = http.get(bridge.url + "/buckets",
                              headers=_basic("victim@example.com", "victim password"),
                              timeout=10)
            assert victim.status_code == 200
    finally:
        bridge.stop()


def test_the_outbox_gives_a_user_its_own_mail_and_the_operator_all(tmp_path):
    bridge = _bridge(tmp_path, dev_endpoints=True, admin_secret=ADMIN, auto_activate=False)
    try:
        _register(bridge.url, "new@example.com", "new password")
        _register(bridge.url, "other@example.com", "other password")
        with _session() as http:
            own = http.get(bridge.url + "/_dev/outbox",
                           headers=_basic("new@example.com", "new password"), timeout=10)
            # allowed before activation: the activation mail is what the user looks for
            assert own.status_code == 200
            assert [(m["to"], m["kind"]) for m in own.json()] == [
                ("new@example.com", "activation")]
            same = http.get(bridge.url + "/_dev/outbox", params={"email": "new@example.com"},
                            headers=_basic("new@example.com", "new password"), timeout=10)
            assert same.json() == own.json()
            wrong = http.get(bridge.url + "/_dev/outbox",
                             headers=_basic("new@example.com", "guess"), timeout=10)
            assert (wrong.status_code, wrong.json()) == (
                401, {"error": "Invalid email or password"})
            every = http.get(bridge.url + "/_dev/outbox", headers={ADMIN_HEADER: ADMIN},
                             timeout=10)
            assert sorted(m["to"] for m in every.json()) == [
                "new@example.com", "other@example.com"]
            one = http.get(bridge.url + "/_dev/outbox", params={"email": "other@example.com"},
                           headers={ADMIN_HEADER: ADMIN}, timeout=10)
            assert [m["to"] for m in one.json()] == ["other@example.com"]
            audit = http.post(bridge.url + "/_dev/audit", timeout=10)
            assert audit.status_code == 401
            user_audit = http.post(bridge.url + "/_dev/audit",
                                   headers=_basic("new@example.com", "new password"), timeout=10)
            assert user_audit.status_code == 401
            audit = http.post(bridge.url + "/_dev/audit", headers={ADMIN_HEADER: ADMIN},
                              timeout=10)
            assert audit.status_code == 200 and audit.json()["results"] == []
    finally:
        bridge.stop()


def test_without_an_admin_secret_no_header_is_an_admin(tmp_path):
    bridge = _bridge(tmp_path, dev_endpoints=True)
    try:
        with _session() as http:
            for value in ("", "None", "null", ADMIN):
                answer = http.post(bridge.url + "/_dev/audit", headers={ADMIN_HEADER: value},
                                   timeout=10)
                assert answer.status_code == 401
    finally:
        bridge.stop()


def test_dev_endpoint_settings_are_validated(tmp_path):
    with pytest.raises(ValueError, match="admin_secret"):
        BridgeConfig(data_dir=tmp_path, admin_secret="short").validate()


def test_storj_local_serve_has_a_dev_endpoints_switch():
    result = CliRunner().invoke(local_cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--dev-endpoints" in result.output
    assert "--max-connections" in result.output


def test_network_json_keeps_an_admin_secret_for_the_owner(tmp_path):
    data = tmp_path / "net"
    data.mkdir()
    (data / NETWORK_FILE).write_text(json.dumps({"control_secret": "c" * 64}))
    with LocalNetwork(data, 1) as network:
        settings = json.loads((data / NETWORK_FILE).read_text())
        assert settings["control_secret"] == "c" * 64  # an upgrade keeps the old secret
        assert len(settings["admin_secret"]) >= 32
        assert network.admin_secret == settings["admin_secret"]
        assert stat.S_IMODE((data / NETWORK_FILE).stat().st_mode) == 0o600
    with LocalNetwork(data, 1) as network:
        assert network.admin_secret == settings["admin_secret"]


def test_the_owner_reads_mail_and_audits_a_network_served_by_another_process(tmp_path):
    """``storj-local audit`` and the CLI's embedded network use the admin secret of
    ``network.json`` against a network with its dev endpoints off (the default)."""
    from storj.cli._embedded import EmbeddedNetwork, fetch_outbox

    data = tmp_path / "net"
    with LocalNetwork(data, 1, auto_activate=False) as network:
        email, password = network.create_user()
        # make it look served by another process (pid 1 is always alive)
        running = json.loads((data / RUNNING_FILE).read_text())
        (data / RUNNING_FILE).write_text(json.dumps({**running, "pid": 1}))
        assert fetch_outbox(network.bridge_url, email) == []  # anonymous: nothing
        embedded = EmbeddedNetwork(data)
        embedded.start()
        try:
            assert embedded.reused
            assert [m["kind"] for m in embedded.outbox(email)] == ["activation"]
            embedded.create_user("second@example.com", "second password")  # activates it
            with _session() as http:
                assert http.get(network.bridge_url + "/buckets",
                                headers=_basic("second@example.com", "second password"),
                                timeout=10).status_code == 200
        finally:
            embedded.stop()
        result = CliRunner().invoke(local_cli, ["audit", "--data", str(data)])
        assert result.exit_code == 0, result.output
        assert "audited 0 shard copies" in result.output


# ============================================================ 2. replay


def test_captured_bucket_key_requests_cannot_be_replayed(tmp_path):
    bridge = _bridge(tmp_path)
    try:
        _register(bridge.url, "owner@example.com", "owner password")
        signer = Signer(bridge.url)
        with _session() as http:
            assert http.post(bridge.url + "/keys", json={"key": signer.pubkey},
                             headers=_basic("owner@example.com", "owner password"),
                             timeout=10).status_code == 200
            created = http.send(signer.prepare("POST", "/buckets", {"name": "b"}), timeout=10)
            assert created.status_code == 201 and signer.pubkey in created.json()["pubkeys"]
            bucket = created.json()["id"]
            captured = signer.prepare("POST", f"/buckets/{bucket}/tokens",
                                      {"operation": "PULL"})
            assert http.send(captured, timeout=10).status_code == 201
            for _ in range(3):
                replay = http.send(captured, timeout=10)
                assert (replay.status_code, replay.json()) == (
                    401, {"error": "Invalid nonce supplied"})
    finally:
        bridge.stop()


def test_a_bucket_listed_key_of_no_user_needs_a_fresh_nonce(tmp_path):
    bridge = _bridge(tmp_path)
    try:
        _register(bridge.url, "owner@example.com", "owner password")
        outsider = Signer(bridge.url)  # listed in the bucket, registered to nobody
        owner = _basic("owner@example.com", "owner password")
        with _session() as http:
            bucket = http.post(bridge.url + "/buckets", json={"name": "shared",
                                                              "pubkeys": [outsider.pubkey]},
                               headers=owner, timeout=10).json()["id"]
            captured = outsider.prepare("POST", f"/buckets/{bucket}/tokens",
                                        {"operation": "PULL"})
            assert http.send(captured, timeout=10).status_code == 201
            replay = http.send(captured, timeout=10)
            assert (replay.status_code, replay.json()) == (
                401, {"error": "Invalid nonce supplied"})
            missing = http.send(outsider.prepare("POST", f"/buckets/{bucket}/tokens",
                                                 {"operation": "PULL"}, nonce=None), timeout=10)
            assert missing.status_code == 401 and "__nonce" in missing.json()["error"]
            fresh = http.send(outsider.prepare("POST", f"/buckets/{bucket}/tokens",
                                               {"operation": "PUSH"}), timeout=10)
            assert fresh.status_code == 201
    finally:
        bridge.stop()


def _farmer_request(url: str, private: str, method: str, path: str, body: dict,
                    timestamp: int) -> requests.PreparedRequest:
    raw = json.dumps(body).encode()
    full = url + path
    public = keys.public_key_hex(keys.load_private_key(private))
    headers = {
        "Content-Type": "application/json",
        "x-node-id": keys.node_id(public),
        "x-node-pubkey": public,
        "x-node-timestamp": str(timestamp),
        "x-node-signature": keys.sign(private, registration_message(method, full, timestamp,
                                                                    raw)),
    }
    return requests.Request(method, full, data=raw, headers=headers).prepare()


def test_captured_farmer_requests_cannot_be_replayed_within_their_window(tmp_path):
    clock = Clock()
    bridge = _bridge(tmp_path, clock)
    try:
        private = keys.private_key_hex(keys.generate_new_key_pair()[0])
        node = keys.node_id(keys.public_key_hex(keys.load_private_key(private)))
        contact = {"address": "127.0.0.1", "port": 9, "protocol": "1.2.0",
                   "userAgent": "test", "spaceAvailable": True}
        stamp = int(clock.now * 1000)
        with _session() as http:
            register = _farmer_request(bridge.url, private, "POST", "/contacts", contact, stamp)
            assert http.send(register, timeout=10).status_code == 200
            update = _farmer_request(bridge.url, private, "PATCH", f"/contacts/{node}",
                                     {"port": 10}, stamp)
            assert http.send(update, timeout=10).status_code == 201
            start = clock.now
            for captured in (register, update):
                for later in (0, 60, 299):
                    clock.now = start + later
                    replay = http.send(captured, timeout=10)
                    assert replay.status_code == 401, replay.text
                    assert "already" in replay.json()["error"]
            # a fresh signature of the same farmer is still welcome
            again = _farmer_request(bridge.url, private, "POST", "/contacts", contact,
                                    int(clock.now * 1000))
            assert http.send(again, timeout=10).status_code == 200
    finally:
        bridge.stop()


# ============================================================ 3. secrets in logs


def _log_text(records: list[logging.LogRecord]) -> str:
    """What the servers logged (the test's own HTTP client, urllib3, is left out)."""
    lines = []
    for record in records:
        if not record.name.startswith(("storj.local", "werkzeug")):
            continue
        lines.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            lines.append(repr(record.exc_info[1]))
    return "\n".join(lines)


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError:
            pass
    return b"".join(chunks)


def test_the_bridge_logs_no_activation_deactivation_or_reset_token(tmp_path, caplog,
                                                                   monkeypatch):
    caplog.set_level(logging.DEBUG)
    bridge = _bridge(tmp_path, auto_activate=False)
    try:
        _register(bridge.url, "user@example.com", "password one")
        activation = bridge.outbox("user@example.com")[-1]["token"]
        tokens = [activation]
        with _session() as http:
            assert http.get(f"{bridge.url}/Activations/{activation}/",
                            timeout=10).status_code == 200
            auth = _basic("user@example.com", "password one")
            http.patch(bridge.url + "/users/user@example.com",
                       json={"password": api.hash_password("password two")}, timeout=10)
            reset = bridge.outbox("user@example.com")[-1]["token"]
            tokens.append(reset)
            assert http.get(f"{bridge.url}/resets/{reset}", timeout=10).status_code == 200
            http.patch(bridge.url + "/users/user@example.com", json={}, timeout=10)
            reset2 = bridge.outbox("user@example.com")[-1]["token"]
            tokens.append(reset2)
            # percent-encoded route name and token: the router does not match, the log
            # still must not show the token
            encoded = "".join(f"%{b:02x}" for b in reset2.encode())
            http.get(f"{bridge.url}/%72esets/{encoded}", timeout=10)
            assert http.post(f"{bridge.url}/resets/{reset2}",
                             json={"password": api.hash_password("password three")},
                             timeout=10).status_code == 200
            auth = _basic("user@example.com", "password three")
            assert http.delete(bridge.url + "/users/user@example.com", headers=auth,
                               timeout=10).status_code == 200
            deactivation = bridge.outbox("user@example.com")[-1]["token"]
            tokens.append(deactivation)
            # an unexpected error while handling a token route is logged with its path
            store = bridge.services.store

            def broken(*_args, **_kwargs):
                raise RuntimeError("boom")

            monkeypatch.setattr(store, "user_by", broken)
            failed = http.get(f"{bridge.url}/deactivations/{deactivation}", timeout=10)
            assert failed.status_code == 500
            monkeypatch.undo()
        # a request line the HTTP layer refuses (werkzeug logs it itself)
        line = f"GET /activations/{activation} junk HTTP/1.1\r\n\r\n"
        answer = _raw(bridge.port, line.encode())
        assert b" 400 " in answer
    finally:
        bridge.stop()
    text = _log_text(caplog.records)
    assert "/resets/<token>" in text and "/deactivations/<token>" in text
    assert "unexpected error" in text  # the failure really was logged
    for token in tokens:
        assert token not in text


def test_farmer_logs_show_no_transfer_token(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    node = FarmerNode(FarmerConfig(data_dir=tmp_path / "farmer", control_secret=SECRET))
    node.start()
    try:
        token = "f" * 40
        shard = "0" * 40
        with _session() as http:
            http.get(f"{node.url}/shards/{shard}", params={"token": token}, timeout=10)
        line = f"GET /shards/{shard}?token={token} junk HTTP/1.1\r\n\r\n"
        answer = _raw(node.port, line.encode())
        assert b" 400 " in answer
        _raw(node.port, f"GET /shards/{shard}?token={token} HTTP/9.9\r\n\r\n".encode())
    finally:
        node.stop()
    text = _log_text(caplog.records)
    assert shard in text  # the requests were logged
    assert token not in text


# ============================================================ 4. file modes


def _walk_modes(root: Path) -> dict[str, int]:
    modes = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        modes[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return modes


def _assert_private(root: Path) -> None:
    loose = {}
    for name, mode in _walk_modes(root).items():
        path = root / name
        wanted = 0o700 if path.is_dir() else 0o600
        if mode != wanted:
            loose[name] = oct(mode)
    assert loose == {}


def _upload_one(network: LocalNetwork, tmp_path: Path) -> None:
    email, password = network.create_user()
    client = Client(email, password, api_url=network.bridge_url, encryption_key=MNEMONIC)
    try:
        bucket = client.bucket_create("modes").id
        source = tmp_path / "source.bin"
        source.write_bytes(os.urandom(50_000))
        upload_file(client, bucket, source, name="source.bin",
                    config=TransferConfig(tmp_dir=tmp_path))
    finally:
        client.close()


def test_everything_under_a_network_data_directory_is_private(tmp_path):
    data = tmp_path / "net"
    old = os.umask(0)  # the server must not rely on the process umask
    try:
        with LocalNetwork(data, 2, mirror_redundancy=1) as network:
            _upload_one(network, tmp_path)
            wait_until(  # the mirror copy too
                lambda: len(list(data.glob("farmers/*/shards/*"))) >= 2,
                message="the shard was mirrored",
            )
            modes = _walk_modes(data)
            assert "running.json" in modes and "bridge/bridge.sqlite3-wal" in modes
            assert "farmers/farmer-0/farmer.sqlite3" in modes
            assert "farmers/farmer-0/identity.key" in modes
            _assert_private(data)
        _assert_private(data)
    finally:
        os.umask(old)


def test_an_old_data_directory_is_made_private_on_start(tmp_path):
    data = tmp_path / "net"
    with LocalNetwork(data, 1, mirror_redundancy=0) as network:
        _upload_one(network, tmp_path)
    for path in [data, *data.rglob("*")]:  # what an older version (umask 022) left
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    with LocalNetwork(data, 1, mirror_redundancy=0):
        _assert_private(data)


def test_the_cli_embedded_network_directory_is_private(tmp_path):
    from storj.cli._embedded import EmbeddedNetwork

    data = tmp_path / "embedded"
    old = os.umask(0)
    try:
        with EmbeddedNetwork(data, farmers=1) as embedded:
            assert embedded.credentials is not None
            _assert_private(data)
        os.chmod(data / "credentials.json", 0o644)
        os.chmod(data, 0o755)
        with EmbeddedNetwork(data, farmers=1):
            _assert_private(data)
    finally:
        os.umask(old)


# ============================================================ 5. bounded resources


def _hold_connections(port: int, count: int) -> list[socket.socket]:
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finished
        held.append(sock)
    return held


def _answer_of_one_more(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """Open one more connection, send a request, read whatever comes back."""
    raw = _raw(port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def _until_served(port: int, path: str) -> None:
    wait_until(lambda: _answer_of_one_more(port, path)[0] != 503, interval=0.05,
               message="the server served again")


def _until_refused(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """Ask until the server answers 503 (it accepts in its own time); that answer."""

    def refusal():
        answer = _answer_of_one_more(port, path)
        return answer if answer[0] == 503 else None

    return wait_until(refusal, interval=0.05, message=f"a 503 for {path}")


def test_the_bridge_caps_its_concurrent_connections(tmp_path):
    bridge = _bridge(tmp_path, max_connections=4)
    held = _hold_connections(bridge.port, 4)
    try:
        # the server accepts in its own time: wait until all four are in
        status, headers, body = _until_refused(bridge.port, "/health")
        assert status == 503
        assert int(headers["retry-after"]) >= 1
        assert "json" in headers["content-type"]
        assert "connections" in json.loads(body)["error"]
    finally:
        for sock in held:
            sock.close()
    _until_served(bridge.port, "/health")
    bridge.stop()


def test_a_farmer_caps_its_concurrent_connections(tmp_path):
    node = FarmerNode(FarmerConfig(data_dir=tmp_path / "farmer", control_secret=SECRET,
                                   max_connections=3))
    node.start()
    held = _hold_connections(node.port, 3)
    try:
        status, headers, body = _until_refused(node.port, "/shards/" + "0" * 40)
        assert status == 503 and int(headers["retry-after"]) >= 1
        assert "error" in json.loads(body)
    finally:
        for sock in held:
            sock.close()
    _until_served(node.port, "/shards/" + "0" * 40)
    node.stop()


def test_connection_limits_are_validated(tmp_path):
    with pytest.raises(ValueError, match="max_connections"):
        BridgeConfig(data_dir=tmp_path, max_connections=0).validate()
    with pytest.raises(ValueError, match="max_connections"):
        FarmerNode(FarmerConfig(data_dir=tmp_path, max_connections=0)).start()


def test_password_guessing_is_bounded_per_account(tmp_path):
    clock = Clock()
    bridge = _bridge(tmp_path, clock, max_auth_failures_per_account=5,
                     auth_failure_window=600.0)
    try:
        _register(bridge.url, "target@example.com", "the password")
        _register(bridge.url, "bystander@example.com", "another password")
        right = _basic("target@example.com", "the password")
        with _session() as http:
            for _ in range(30):  # successes are never counted
                assert http.get(bridge.url + "/buckets", headers=right,
                                timeout=10).status_code == 200
            for guess in range(5):
                wrong = http.get(bridge.url + "/buckets",
                                 headers=_basic("target@example.com", f"guess {guess}"),
                                 timeout=10)
                assert wrong.status_code == 401
            limited = http.get(bridge.url + "/buckets",
                               headers=_basic("target@example.com", "guess 6"), timeout=10)
            assert (limited.status_code, limited.json()) == (429, {"error": "Too Many Requests"})
            assert int(limited.headers["Retry-After"]) >= 1
            # the right password is refused too until the window has passed
            assert http.get(bridge.url + "/buckets", headers=right, timeout=10).status_code == 429
            assert http.get(bridge.url + "/buckets",
                            headers=_basic("bystander@example.com", "another password"),
                            timeout=10).status_code == 200
            clock.now += 601
            assert http.get(bridge.url + "/buckets", headers=right, timeout=10).status_code == 200
    finally:
        bridge.stop()


def test_password_guessing_is_bounded_per_client_address(tmp_path):
    clock = Clock()
    bridge = _bridge(tmp_path, clock, max_auth_failures_per_address=4,
                     max_auth_failures_per_account=100, auth_failure_window=60.0)
    try:
        _register(bridge.url, "someone@example.com", "the password")
        with _session() as http:
            for n in range(4):  # one guess on each of many accounts
                assert http.get(bridge.url + "/buckets",
                                headers=_basic(f"user{n}@example.com", "guess"),
                                timeout=10).status_code == 401
            assert http.get(bridge.url + "/buckets",
                            headers=_basic("user9@example.com", "guess"),
                            timeout=10).status_code == 429
            # the outbox's Basic check goes through the same limiter
            clock.now += 61
            right = _basic("someone@example.com", "the password")
            assert http.get(bridge.url + "/buckets", headers=right, timeout=10).status_code == 200
    finally:
        bridge.stop()


def test_unauthenticated_mail_routes_are_bounded_per_target_account(tmp_path):
    """Every mail queued for an account within ``mail_window`` counts (the activation
    mail of the registration too); past the limit the unauthenticated routes answer 429."""
    clock = Clock()
    bridge = _bridge(tmp_path, clock, auto_activate=False, max_mails_per_account=3,
                     mail_window=3600.0)
    try:
        _register(bridge.url, "inactive@example.com", "pw one")  # 1 activation mail
        _register(bridge.url, "other@example.com", "pw two")
        with _session() as http:
            for _ in range(2):
                assert http.post(bridge.url + "/activations",
                                 json={"email": "inactive@example.com"},
                                 timeout=10).status_code == 201
            flood = http.post(bridge.url + "/activations", json={"email": "inactive@example.com"},
                              timeout=10)
            assert (flood.status_code, flood.json()) == (429, {"error": "Too Many Requests"})
            for _ in range(2):
                assert http.patch(bridge.url + "/users/other@example.com", json={},
                                  timeout=10).status_code == 200
            for _ in range(3):
                flood = http.patch(bridge.url + "/users/other@example.com", json={},
                                   timeout=10)
                assert flood.status_code == 429
            assert len(bridge.outbox("inactive@example.com")) == 3
            assert len(bridge.outbox("other@example.com")) == 3
            clock.now += 3601
            assert http.patch(bridge.url + "/users/other@example.com", json={},
                              timeout=10).status_code == 200
    finally:
        bridge.stop()


def test_limits_are_validated(tmp_path):
    for field in ("max_auth_failures_per_account", "max_auth_failures_per_address",
                  "max_mails_per_account"):
        with pytest.raises(ValueError, match=field):
            BridgeConfig(data_dir=tmp_path, **{field: 0}).validate()
    for field in ("auth_failure_window", "mail_window"):
        with pytest.raises(ValueError, match=field):
            BridgeConfig(data_dir=tmp_path, **{field: 0.0}).validate()
