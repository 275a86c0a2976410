"""The local Bridge's REST API over real HTTP on loopback (no farmers needed).

Every route's happy path with exact JSON shapes, and the error answers chosen for
client mistakes (``bridge-protocol.md`` §1.4, §2, §4). The client is ``requests``:
the SDK (``storj.http``) is tested elsewhere.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from storj import api, keys
from storj.local.bridge import BridgeConfig, BridgeServer
from tests.helpers import FakeClock, Stopwatch

pytestmark = pytest.mark.integration

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SECRET = "test-control-secret"
EMAIL = "user@example.com"
PASSWORD = "correct horse battery staple"


# ----------------------------------------------------------------------------- helpers


def check_answer(response: requests.Response) -> requests.Response:
    """Every answer: no traceback; errors are JSON ``{"error": str}``."""
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and isinstance(body["error"], str), body
    return response


class Http:
    """``requests`` against the Bridge, with optional Basic credentials."""

    def __init__(self, url: str, email: str | None = None, password: str | None = None) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False
        if email is not None and password is not None:
            self.session.headers["Authorization"] = api.basic_auth_header(
                email, api.hash_password(password)
            )

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return check_answer(self.session.request(method, self.url + path, timeout=10, **kwargs))

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


class Signer:
    """ECDSA-authenticated requests exactly as §2.2 describes them."""

    def __init__(self, url: str, private=None, *, compressed: bool = True) -> None:
        self.url = url
        self.private = private or ec.generate_private_key(ec.SECP256K1())
        self.pubkey = keys.public_key_hex(self.private, compressed=compressed)
        self.session = requests.Session()
        self.session.trust_env = False

    def request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        query: str = "",
        *,
        nonce: str | None = "auto",
        sign_payload: bytes | None = None,
        sign_path: str | None = None,
    ) -> requests.Response:
        method = method.upper()
        if nonce == "auto":
            nonce = api.new_nonce()
        if method in ("POST", "PUT", "PATCH"):
            data = dict(body or {})
            if nonce is not None:
                data["__nonce"] = nonce
            raw = json.dumps(data).encode()
            payload = raw
        else:
            raw = None
            if nonce is not None:
                query = f"{query}&__nonce={nonce}" if query else f"__nonce={nonce}"
            payload = query.encode()
        message = api.signing_string(
            method, sign_path or path, payload if sign_payload is None else sign_payload
        )
        headers = {"x-pubkey": self.pubkey, "x-signature": keys.sign(self.private, message)}
        if raw is not None:
            headers["Content-Type"] = "application/json"
        url = self.url + path + (f"?{query}" if query else "")
        return check_answer(
            self.session.request(method, url, data=raw, headers=headers, timeout=10)
        )


def register_farmer(url: str, port: int, private=None, *, address="127.0.0.1", skew_ms=0):
    """Farmer self-registration: ``POST /contacts`` with the signed farmer headers."""
    private = private or ec.generate_private_key(ec.SECP256K1())
    pubkey = keys.public_key_hex(private)
    body = json.dumps(
        {
            "address": address,
            "port": port,
            "protocol": "1.2.0",
            "userAgent": "test-farmer",
            "spaceAvailable": True,
        }
    ).encode()
    timestamp = str(int(time.time() * 1000) + skew_ms)
    full_url = url + "/contacts"
    message = b"POST" + full_url.encode() + timestamp.encode() + body
    headers = {
        "Content-Type": "application/json",
        "x-node-id": keys.node_id(private),
        "x-node-pubkey": pubkey,
        "x-node-timestamp": timestamp,
        "x-node-signature": keys.sign(private, message),
    }
    session = requests.Session()
    session.trust_env = False
    return check_answer(session.post(full_url, data=body, headers=headers, timeout=10)), private


def make_config(tmp_path: Path, **options) -> BridgeConfig:
    return BridgeConfig(data_dir=tmp_path / "bridge", control_secret=SECRET, **options)


@pytest.fixture
def bridge(tmp_path):
    server = BridgeServer(make_config(tmp_path)).start()
    yield server
    # the server must still serve after whatever the test sent it
    health = requests.get(server.url + "/health", timeout=5)
    assert health.status_code == 200 and health.text == "OK"
    server.stop()


@pytest.fixture
def anon(bridge):
    return Http(bridge.url)


def new_user(bridge, email=EMAIL, password=PASSWORD) -> Http:
    response = Http(bridge.url).post(
        "/users", json={"email": email, "password": api.hash_password(password)}
    )
    assert response.status_code == 201, response.text
    return Http(bridge.url, email, password)


@pytest.fixture
def user(bridge):
    return new_user(bridge)


def make_bucket(client: Http, name="test-bucket") -> dict:
    response = client.post("/buckets", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()


def make_frame(client: Http) -> dict:
    response = client.post("/frames", json={})
    assert response.status_code == 200, response.text
    return response.json()


# ----------------------------------------------------------------------------- info


def test_root_describes_the_api(anon, bridge):
    response = anon.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    doc = response.json()
    assert doc["info"]["title"] == "Storj Bridge"
    assert doc["info"]["x-protocol-version"] == "1.2.0"
    assert isinstance(doc["info"]["version"], str)
    assert doc["host"] == f"127.0.0.1:{bridge.port}"
    assert doc["paths"]["/buckets/{id}"].keys() == {"get", "patch", "delete"}
    assert "put" in doc["paths"]["/frames/{frame}"]
    assert "post" in doc["paths"]["/contacts"]


def test_health(anon):
    response = anon.get("/health")
    assert (response.status_code, response.text) == (200, "OK")


def test_unknown_route_and_method_are_404_json(anon):
    for method, path in [("GET", "/nothing"), ("PUT", "/buckets"), ("POST", "/health")]:
        response = anon.request(method, path)
        assert response.status_code == 404
        assert response.json() == {"error": "Not found"}


def test_cors_reflects_origin_and_answers_preflight(anon):
    response = anon.get("/health", headers={"Origin": "http://app.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "http://app.example"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    preflight = anon.request(
        "OPTIONS",
        "/buckets",
        headers={
            "Origin": "http://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-pubkey,x-signature",
        },
    )
    assert preflight.status_code == 204
    assert preflight.content == b""
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://app.example"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET,HEAD,PUT,PATCH,POST,DELETE"
    assert preflight.headers["Access-Control-Allow-Headers"] == "x-pubkey,x-signature"


def test_routing_is_case_insensitive_and_tolerates_trailing_slash(user):
    bucket = make_bucket(user)
    for path in ("/BUCKETS", "/buckets/", f"/Buckets/{bucket['id']}/FILES/"):
        assert user.get(path).status_code == 200, path


def test_start_is_fast_and_stop_is_clean(tmp_path):
    with Stopwatch() as watch:
        server = BridgeServer(make_config(tmp_path)).start()
    try:
        # cheap (CPU time: a loaded machine does not change it) and no waiting on anything
        assert watch.cpu < 0.1 and watch.wall < 5, (watch.cpu, watch.wall)
        assert server.running and server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert (tmp_path / "bridge" / "bridge.sqlite3").stat().st_mode & 0o777 == 0o600
    finally:
        server.stop()
    assert not server.running
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{server.port}/health", timeout=2)


def test_request_log_line(anon, caplog):
    with caplog.at_level("INFO", logger="storj.local.bridge"):
        anon.get("/health", headers={"Authorization": "Basic c2VjcmV0OnNlY3JldA=="})
    lines = [r.getMessage() for r in caplog.records if r.name == "storj.local.bridge"]
    assert any(re.fullmatch(r"GET /health 200 \d+\.\dms", line) for line in lines), lines
    assert not any("c2VjcmV0" in line or "Basic" in line for line in lines)


# ----------------------------------------------------------------------------- users


def test_register_user_exact_shape(anon):
    response = anon.post("/users", json={"email": EMAIL, "password": api.hash_password(PASSWORD)})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"email", "id", "created", "activated", "isFreeTier"}
    assert body["email"] == body["id"] == EMAIL
    assert body["activated"] is True  # auto_activate
    assert body["isFreeTier"] is True
    assert ISO_MS.match(body["created"])


def test_register_user_errors(anon):
    good = api.hash_password(PASSWORD)
    cases = [
        ({"password": good}, 400, "Must supply an email"),
        ({"email": "not-an-email", "password": good}, 400, "Invalid email"),
        ({"email": 42, "password": good}, 400, "Invalid email"),
        (
            {"email": EMAIL, "password": "plaintext"},
            400,
            "Password must be hex encoded SHA-256 hash",
        ),
        ({"email": EMAIL}, 400, "Password must be hex encoded SHA-256 hash"),
        ({"email": EMAIL, "password": good, "pubkey": "zz"}, 400, None),
    ]
    for body, status, message in cases:
        response = anon.post("/users", json=body)
        assert response.status_code == status, (body, response.text)
        if message:
            assert response.json()["error"] == message
    assert anon.post("/users", json={"email": EMAIL, "password": good}).status_code == 201
    again = anon.post("/users", json={"email": EMAIL, "password": good})
    assert (again.status_code, again.json()) == (400, {"error": "Email is already registered"})


def test_register_user_with_pubkey(anon, bridge):
    signer = Signer(bridge.url)
    response = anon.post(
        "/users",
        json={"email": EMAIL, "password": api.hash_password(PASSWORD), "pubkey": signer.pubkey},
    )
    assert response.status_code == 201
    assert response.json()["pubkey"] == signer.pubkey
    listed = signer.request("GET", "/keys")
    assert listed.status_code == 200
    assert listed.json() == [
        {"key": signer.pubkey, "id": signer.pubkey, "user": EMAIL, "label": ""}
    ]
    # the same key cannot be registered by a second user, and that user is not created
    other = anon.post(
        "/users",
        json={
            "email": "b@example.com",
            "password": api.hash_password("x"),
            "pubkey": signer.pubkey,
        },
    )
    assert (other.status_code, other.json()["error"]) == (400, "Public key is already registered")
    retry = anon.post("/users", json={"email": "b@example.com", "password": api.hash_password("x")})
    assert retry.status_code == 201


@pytest.fixture
def manual(tmp_path):
    server = BridgeServer(make_config(tmp_path, auto_activate=False, dev_endpoints=True)).start()
    yield server
    server.stop()


def test_activation_through_the_outbox(manual):
    anon = Http(manual.url)
    created = anon.post("/users", json={"email": EMAIL, "password": api.hash_password(PASSWORD)})
    assert created.json()["activated"] is False
    client = Http(manual.url, EMAIL, PASSWORD)
    blocked = client.get("/buckets")
    assert (blocked.status_code, blocked.json()) == (
        403,
        {"error": "User account has not been activated"},
    )
    mails = manual.outbox(EMAIL)
    assert [(m["to"], m["kind"]) for m in mails] == [(EMAIL, "activation")]
    token = mails[0]["token"]
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert ISO_MS.match(mails[0]["created"])
    # the dev outbox shows a user (not yet activated) its own mail, nobody else's
    assert client.get("/_dev/outbox", params={"email": EMAIL}).json() == mails
    assert client.get("/_dev/outbox", params={"email": "x@example.com"}).status_code == 403
    assert anon.get("/_dev/outbox", params={"email": EMAIL}).status_code == 401

    resend = anon.post("/activations", json={"email": EMAIL})
    assert resend.status_code == 201 and resend.json()["activated"] is False
    assert [m["token"] for m in manual.outbox(EMAIL)] == [token, token]

    bad = anon.get("/activations/" + "0" * 64)
    assert (bad.status_code, bad.json()) == (400, {"error": "Invalid activation token"})
    activated = anon.get(f"/activations/{token}")
    assert activated.status_code == 200 and activated.json()["activated"] is True
    assert client.get("/buckets").json() == []
    again = anon.post("/activations", json={"email": EMAIL})
    assert (again.status_code, again.json()["error"]) == (400, "User is already activated")
    missing = anon.post("/activations", json={"email": "nobody@example.com"})
    assert (missing.status_code, missing.json()["error"]) == (404, "User not found")


def test_activation_redirect(manual):
    anon = Http(manual.url)
    anon.post("/users", json={"email": EMAIL, "password": api.hash_password(PASSWORD)})
    token = manual.outbox(EMAIL)[0]["token"]
    response = anon.get(
        f"/activations/{token}",
        params={"redirect": "https://app.example/ok"},
        allow_redirects=False,
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "https://app.example/ok"


def test_dev_outbox_can_be_disabled(tmp_path):
    with BridgeServer(make_config(tmp_path, dev_endpoints=False)) as server:
        response = Http(server.url).get("/_dev/outbox")
        assert (response.status_code, response.json()) == (404, {"error": "Not found"})


def test_deactivation(bridge, user):
    other = new_user(bridge, "other@example.com", "pw")
    denied = other.delete(f"/users/{EMAIL}")
    assert (denied.status_code, denied.json()) == (401, {"error": "Not authorized"})
    response = user.delete(f"/users/{EMAIL}")
    assert response.status_code == 200 and response.json()["email"] == EMAIL
    mail = bridge.outbox(EMAIL)[-1]
    assert mail["kind"] == "deactivation" and re.fullmatch(r"[0-9a-f]{512}", mail["token"])
    assert Http(bridge.url).get("/deactivations/" + "ab" * 256).status_code == 404
    confirmed = Http(bridge.url).get(f"/deactivations/{mail['token']}")
    assert confirmed.status_code == 200 and confirmed.json()["activated"] is False
    assert user.get("/buckets").status_code == 403


def test_password_reset_2016_flow(bridge, user):
    anon = Http(bridge.url)
    new_hash = api.hash_password("new password")
    response = anon.patch(f"/users/{EMAIL}", json={"password": new_hash})
    assert response.status_code == 200 and response.json()["email"] == EMAIL
    assert user.get("/buckets").status_code == 200  # nothing changes before confirmation
    token = bridge.outbox(EMAIL)[-1]
    assert token["kind"] == "reset"
    assert anon.get("/resets/not-hex").status_code == 400
    assert anon.get("/resets/" + "cd" * 256).status_code == 404
    assert anon.get(f"/resets/{token['token']}").status_code == 200
    assert user.get("/buckets").json() == {"error": "Invalid email or password"}
    assert Http(bridge.url, EMAIL, "new password").get("/buckets").status_code == 200
    assert anon.patch("/users/nobody@example.com", json={"password": new_hash}).status_code == 404
    assert anon.patch(f"/users/{EMAIL}", json={"password": "short"}).status_code == 400


def test_password_reset_2018_flow(bridge, user):
    anon = Http(bridge.url)
    assert anon.patch(f"/users/{EMAIL}", json={}).status_code == 200
    token = bridge.outbox(EMAIL)[-1]["token"]
    pending = anon.get(f"/resets/{token}")
    assert pending.status_code == 400  # no password was given with the request
    assert anon.post(f"/resets/{token}", json={"password": "nothex"}).status_code == 400
    done = anon.post(f"/resets/{token}", json={"password": api.hash_password("pw2")})
    assert done.status_code == 200 and done.json()["email"] == EMAIL
    assert Http(bridge.url, EMAIL, "pw2").get("/buckets").status_code == 200
    assert (
        anon.post(f"/resets/{token}", json={"password": api.hash_password("x")}).status_code == 404
    )


# ----------------------------------------------------------------------------- keys


def test_keys_crud(bridge, user):
    key = keys.public_key_hex(ec.generate_private_key(ec.SECP256K1()))
    added = user.post("/keys", json={"key": key, "label": "laptop"})
    assert added.status_code == 200
    assert added.json() == {"key": key, "id": key, "user": EMAIL, "label": "laptop"}
    uncompressed = keys.public_key_hex(ec.generate_private_key(ec.SECP256K1()), compressed=False)
    assert user.post("/keys", json={"key": uncompressed}).json()["label"] == ""
    assert [k["key"] for k in user.get("/keys").json()] == [key, uncompressed]
    duplicate = user.post("/keys", json={"key": key})
    assert (duplicate.status_code, duplicate.json()["error"]) == (
        400,
        "Public key is already registered",
    )
    for bad in ("", "04" + "00" * 64, "zz", "02:" + "00" * 32, 12):
        response = user.post("/keys", json={"key": bad})
        assert response.status_code == 400
        assert response.json()["error"].startswith("Invalid public key supplied")
    other = new_user(bridge, "other@example.com", "pw")
    assert other.get("/keys").json() == []
    assert other.delete(f"/keys/{key}").json() == {"error": "Public key was not found"}
    assert user.delete(f"/keys/{key}").status_code == 204
    assert user.delete(f"/keys/{key}").status_code == 404


# ----------------------------------------------------------------------------- buckets


def test_bucket_crud_exact_shapes(bridge, user):
    created = user.post("/buckets", json={"name": "test-bucket", "storage": 10, "transfer": 30})
    assert created.status_code == 201
    bucket = created.json()
    assert bucket["id"] == "110318dd199675cec2d5f8d8"  # bridge-protocol.md §1.2
    assert ISO_MS.match(bucket.pop("created"))
    assert bucket == {
        "id": "110318dd199675cec2d5f8d8",
        "user": EMAIL,
        "name": "test-bucket",
        "status": "Active",
        "storage": 0,
        "transfer": 0,
        "pubkeys": [],
        "publicPermissions": [],
        "encryptionKey": "",
    }
    duplicate = user.post("/buckets", json={"name": "test-bucket"})
    assert (duplicate.status_code, duplicate.json()) == (
        409,
        {"error": "Name already used by another bucket"},
    )
    unnamed = user.post("/buckets", json={}).json()
    assert re.fullmatch(r"Bucket-[0-9a-f]{6}", unnamed["name"])
    assert unnamed["id"] == api.calculate_bucket_id(EMAIL, unnamed["name"])
    listed = user.get("/buckets").json()
    assert [b["name"] for b in listed] == ["test-bucket", unnamed["name"]]
    fetched = user.get(f"/buckets/{bucket['id']}").json()
    assert fetched["name"] == "test-bucket"

    key = keys.public_key_hex(ec.generate_private_key(ec.SECP256K1()))
    patched = user.patch(
        f"/buckets/{bucket['id']}",
        json={
            "pubkeys": [key],
            "encryptionKey": "k",
            "publicPermissions": ["PULL"],
            "name": "ignored",
        },
    )
    assert patched.status_code == 200
    body = patched.json()
    assert (body["pubkeys"], body["encryptionKey"], body["publicPermissions"], body["name"]) == (
        [key],
        "k",
        ["PULL"],
        "test-bucket",
    )
    bad_perm = user.patch(f"/buckets/{bucket['id']}", json={"publicPermissions": ["DELETE"]})
    assert bad_perm.status_code == 400
    assert user.patch(f"/buckets/{bucket['id']}", json={"pubkeys": ["nope"]}).status_code == 400
    assert user.delete(f"/buckets/{bucket['id']}").status_code == 204
    gone = user.get(f"/buckets/{bucket['id']}")
    assert (gone.status_code, gone.json()) == (404, {"error": "Bucket not found"})
    assert user.post("/buckets", json={"name": "x" * 261}).json() == {
        "error": "Maximum bucket name"
    }
    assert user.post("/buckets", json={"name": 5}).status_code == 400


def test_bucket_ids_by_escaped_name(user):
    name = "g9qacwq2AE1+5nzL/HYyYdY9WoIr+1ueOuVEx6/IzzZ=="
    bucket = make_bucket(user, name)
    found = user.get("/bucket-ids/" + quote(name, safe=""))
    assert (found.status_code, found.json()) == (200, {"id": bucket["id"]})
    missing = user.get("/bucket-ids/nope")
    assert (missing.status_code, missing.json()) == (404, {"error": "Bucket not found"})


def test_bucket_listing_start_date(tmp_path):
    clock = FakeClock()  # the two buckets are created a whole second apart
    with BridgeServer(make_config(tmp_path), clock=clock) as server:
        user = new_user(server)
        first = make_bucket(user, "a")
        clock.advance(1.0)
        second = make_bucket(user, "b")
        listed = user.get("/buckets", params={"startDate": first["created"]}).json()
        assert [b["id"] for b in listed] == [second["id"]]
        assert user.get("/buckets", params={"startDate": "yesterday"}).status_code == 400




def test_ecdsa_key_is_added_to_new_bucket(bridge, user):
    signer = Signer(bridge.url)
    assert user.post("/keys", json={"key": signer.pubkey}).status_code == 200
    created = signer.request("POST", "/buckets", {"name": "signed"})
    assert created.status_code == 201
    assert created.json()["pubkeys"] == [signer.pubkey]


# ----------------------------------------------------------------------------- tokens


def test_bucket_tokens(bridge, user):
    bucket = make_bucket(user)
    response = user.post(f"/buckets/{bucket['id']}/tokens", json={"operation": "PUSH"})
    assert response.status_code == 201
    token = response.json()
    assert re.fullmatch(r"[0-9a-f]{64}", token["token"])
    assert ISO_MS.match(token.pop("expires"))
    assert token == {
        "token": token["token"],
        "id": token["token"],
        "bucket": bucket["id"],
        "operation": "PUSH",
        "encryptionKey": "",
    }
    bad = user.post(f"/buckets/{bucket['id']}/tokens", json={"operation": "DELETE"})
    assert bad.status_code == 400
    missing = user.post(
        f"/buckets/{bucket['id']}/tokens", json={"operation": "PULL", "file": "0" * 24}
    )
    assert (missing.status_code, missing.json()) == (404, {"error": "Bucket entry not found"})
    assert Http(bridge.url).post(f"/buckets/{bucket['id']}/tokens", json={}).status_code == 401


def test_public_bucket_and_bucket_key_tokens(bridge, user):
    bucket = make_bucket(user)
    anon = Http(bridge.url)
    path = f"/buckets/{bucket['id']}/tokens"
    assert anon.post(path, json={"operation": "PULL"}).status_code == 401
    user.patch(f"/buckets/{bucket['id']}", json={"publicPermissions": ["PULL"]})
    public = anon.post(path, json={"operation": "PULL"})
    assert public.status_code == 201 and public.json()["operation"] == "PULL"
    assert anon.post(path, json={"operation": "PUSH"}).status_code == 401
    # a key listed on the bucket (registered to nobody) may sign for it (§2.5)
    outsider = Signer(bridge.url)
    assert outsider.request("POST", path, {"operation": "PUSH"}).status_code == 401
    user.patch(f"/buckets/{bucket['id']}", json={"pubkeys": [outsider.pubkey]})
    assert outsider.request("POST", path, {"operation": "PUSH"}).status_code == 201
    # another user's credentials never reach this bucket
    other = new_user(bridge, "other@example.com", "pw")
    assert other.post(path, json={"operation": "PUSH"}).json() == {"error": "Bucket not found"}


# ----------------------------------------------------------------------------- frames & files


def test_frames_crud(bridge, user):
    frame = make_frame(user)
    assert re.fullmatch(r"[0-9a-f]{24}", frame["id"])
    assert int(frame["id"][:8], 16) == pytest.approx(time.time(), abs=5)
    assert ISO_MS.match(frame.pop("created"))
    assert frame == {
        "id": frame["id"],
        "user": EMAIL,
        "locked": False,
        "size": 0,
        "storageSize": 0,
        "shards": [],
    }
    assert [f["id"] for f in user.get("/frames").json()] == [frame["id"]]
    assert user.get(f"/frames/{frame['id']}").json()["id"] == frame["id"]
    assert user.get("/frames/xyz").json() == {"error": "Frame id is malformed"}
    assert user.get("/frames/" + "0" * 24).json() == {"error": "Frame not found"}
    other = new_user(bridge, "other@example.com", "pw")
    assert other.get(f"/frames/{frame['id']}").json() == {"error": "Frame not found"}
    assert other.delete(f"/frames/{frame['id']}").status_code == 404
    assert user.delete(f"/frames/{frame['id']}").status_code == 204
    assert user.get(f"/frames/{frame['id']}").status_code == 404


SHARD = {
    "hash": "d4b0d0d0d8f9c4be812d210a9f6d6caf954ce223",
    "size": 13,
    "index": 0,
    "challenges": ["00" * 32, "11" * 32, "22" * 32],
    "tree": [
        "151b2229ee512ba8c3f006c2545c3845ad95245e",
        "6a5a21d4e3132a98b421527823165505e3fefef0",
        "ac4a5a02113b7cb2b6a4a38569fee509dc3575eb",
        "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb",
    ],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"index": -1}, "Invalid index supplied"),
        ({"index": "0"}, "Invalid index supplied"),
        ({"index": True}, "Invalid index supplied"),
        ({"size": 0}, "Invalid size supplied"),
        ({"size": 1.5}, "Invalid size supplied"),
        ({"size": 4 * 1024**3 + 1}, "Maximum shard size 4294967296 exceeded"),
        ({"challenges": "00"}, "Invalid challenges supplied"),
        ({"challenges": []}, "Not enough challenges supplied"),
        ({"challenges": ["zz" * 32]}, "Invalid challenges supplied"),
        ({"tree": None}, "Invalid tree supplied"),
        ({"tree": ["00"]}, "Invalid tree supplied"),
        ({"tree": SHARD["tree"][:3]}, "Challenges and tree do not match"),
        (
            {"hash": "D4B0D0D0D8F9C4BE812D210A9F6D6CAF954CE223"},
            "Invalid contract specification was supplied",
        ),
        ({"hash": "abc"}, "Invalid contract specification was supplied"),
        ({"hash": None}, "Invalid contract specification was supplied"),
        ({"exclude": "a"}, "Invalid exclude: expected a list of node ids"),
        ({"exclude": ["a" * 40] * 301}, "Maximum blacklist length"),
        ({"parity": "yes"}, "Invalid parity: expected true or false"),
    ],
)
def test_put_frame_validation(user, change, message):
    frame = make_frame(user)
    response = user.put(f"/frames/{frame['id']}", json={**SHARD, **change})
    assert (response.status_code, response.json()) == (400, {"error": message})


def test_put_frame_without_farmers(user):
    frame = make_frame(user)
    response = user.put(f"/frames/{frame['id']}", json=SHARD)
    assert response.status_code == 400
    assert response.json()["error"].startswith("Could not get contract")
    assert user.get(f"/frames/{frame['id']}").json()["shards"] == []


def test_file_entries(bridge, user):
    bucket = make_bucket(user)
    frame = make_frame(user)
    path = f"/buckets/{bucket['id']}/files"
    created = user.post(
        path, json={"frame": frame["id"], "mimetype": "text/plain", "filename": "file.txt"}
    )
    assert created.status_code == 200, created.text
    entry = created.json()
    assert entry["id"] == "552f1798ea74b6b83440c1df"  # bridge-protocol.md §1.2
    assert ISO_MS.match(entry.pop("created")) and ISO_MS.match(entry.pop("renewal"))
    assert entry == {
        "id": "552f1798ea74b6b83440c1df",
        "bucket": bucket["id"],
        "frame": frame["id"],
        "mimetype": "text/plain",
        "filename": "file.txt",
        "size": 0,
    }
    assert user.get(f"/frames/{frame['id']}").json()["locked"] is True
    locked = user.post(path, json={"frame": frame["id"], "filename": "again.txt"})
    assert (locked.status_code, locked.json()) == (400, {"error": "Frame is already locked"})
    duplicate = user.post(path, json={"frame": make_frame(user)["id"], "filename": "file.txt"})
    assert duplicate.status_code == 409

    listed = user.get(path).json()
    assert len(listed) == 1
    assert set(listed[0]) == {"id", "bucket", "frame", "mimetype", "filename", "size", "created"}
    info = user.get(f"{path}/{entry['id']}/info")
    assert info.status_code == 200 and info.json() == listed[0]
    assert user.get(f"/buckets/{bucket['id']}/file-ids/file.txt").json() == {"id": entry["id"]}
    assert user.get(f"/buckets/{bucket['id']}/file-ids/other.txt").status_code == 404
    referenced = user.delete(f"/frames/{frame['id']}")
    assert (referenced.status_code, referenced.json()["error"]) == (
        400,
        "Refusing to destroy frame that is referenced by a bucket entry",
    )
    assert user.delete(f"{path}/{entry['id']}").status_code == 204
    assert user.delete(f"{path}/{entry['id']}").json() == {"error": "File not found"}
    assert user.get(f"{path}/{entry['id']}/info").status_code == 404


def test_file_entry_2018_fields_and_validation(user):
    bucket = make_bucket(user)
    path = f"/buckets/{bucket['id']}/files"
    extra = {
        "index": "15" * 32,
        "hmac": {"type": "sha512", "value": "ab" * 64},
        "erasure": {"type": "reedsolomon"},
    }
    created = user.post(path, json={"frame": make_frame(user)["id"], "filename": "f", **extra})
    assert created.status_code == 200
    for key, value in extra.items():
        assert created.json()[key] == value
    listed = user.get(path).json()[0]
    assert {k: listed[k] for k in extra} == extra
    cases = [
        ({"index": "abc"}, "Invalid index, expected to be 256 hex string"),
        ({"hmac": {"type": "md5", "value": "ab"}}, "Invalid hmac type"),
        ({"hmac": {"type": "sha512", "value": "xyz"}}, "Invalid hmac value"),
        ({"hmac": {"type": "sha512", "value": "a" * 130}}, "Invalid hmac value"),
        ({"erasure": {"type": "xor"}}, "Invalid erasure type"),
        ({"mimetype": "not a type"}, "Invalid mimetype supplied"),
        ({"filename": "x" * 32768}, "Maximum bucket entry name"),
        ({"filename": 7}, "Invalid filename: expected a string"),
        ({"frame": 7}, "Invalid frame: expected a frame id"),
        ({"frame": "nothex"}, "Frame id is malformed"),
    ]
    for change, message in cases:
        body = {"frame": make_frame(user)["id"], "filename": "g", **change}
        response = user.post(path, json=body)
        assert (response.status_code, response.json()) == (400, {"error": message}), change
    unknown = user.post(path, json={"frame": "0" * 24, "filename": "g"})
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Frame not found"})


def test_file_name_defaults_to_frame_id(user):
    bucket = make_bucket(user)
    frame = make_frame(user)
    entry = user.post(f"/buckets/{bucket['id']}/files", json={"frame": frame["id"]}).json()
    assert entry["filename"] == frame["id"]
    assert entry["mimetype"] == "application/octet-stream"
    assert entry["id"] == api.calculate_file_id(bucket["id"], frame["id"])


def test_duplicate_file_policy_replace(tmp_path):
    with BridgeServer(make_config(tmp_path, duplicate_file_policy="replace")) as server:
        client = new_user(server)
        bucket = make_bucket(client)
        path = f"/buckets/{bucket['id']}/files"
        first = client.post(path, json={"frame": make_frame(client)["id"], "filename": "a"})
        second_frame = make_frame(client)["id"]
        second = client.post(path, json={"frame": second_frame, "filename": "a"})
        assert second.status_code == 200
        assert second.json()["id"] == first.json()["id"]
        assert [e["frame"] for e in client.get(path).json()] == [second_frame]


def test_entry_overwrite_extension(bridge, user):
    """``"overwrite": true`` (local extension) replaces the entry of the same name in one
    request; the old frame stays; without it the duplicate is still 409."""
    bucket = make_bucket(user)
    path = f"/buckets/{bucket['id']}/files"
    old_frame = make_frame(user)["id"]
    first = user.post(path, json={"frame": old_frame, "filename": "a", "index": "15" * 32})
    assert first.status_code == 200
    for refused in (None, False):
        body = {"frame": make_frame(user)["id"], "filename": "a"}
        if refused is not None:
            body["overwrite"] = refused
        duplicate = user.post(path, json=body)
        assert duplicate.json() == {"error": "A file with this name already exists in the bucket"}
        assert duplicate.status_code == 409
    for bad in ("true", 1, [], {}):
        body = {"frame": make_frame(user)["id"], "filename": "a", "overwrite": bad}
        response = user.post(path, json=body)
        assert (response.status_code, response.json()) == (
            400,
            {"error": "Invalid overwrite: expected true or false"},
        ), bad
    new_frame = make_frame(user)["id"]
    second = user.post(path, json={"frame": new_frame, "filename": "a", "overwrite": True})
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]
    assert "index" not in second.json()  # the new entry, not a merge with the old one
    assert [e["frame"] for e in user.get(path).json()] == [new_frame]
    assert user.get(f"/frames/{new_frame}").json()["locked"] is True
    kept = user.get(f"/frames/{old_frame}")  # left for garbage collection
    assert kept.status_code == 200 and kept.json()["locked"] is True
    fresh = user.post(
        path, json={"frame": make_frame(user)["id"], "filename": "b", "overwrite": True}
    )
    assert fresh.status_code == 200
    assert sorted(e["filename"] for e in user.get(path).json()) == ["a", "b"]


def test_pointers_of_an_empty_file_and_token_rules(bridge, user):
    bucket = make_bucket(user)
    entry = user.post(
        f"/buckets/{bucket['id']}/files", json={"frame": make_frame(user)["id"], "filename": "e"}
    ).json()
    path = f"/buckets/{bucket['id']}/files/{entry['id']}"
    assert user.get(path).json() == []  # 2018: Basic auth works without x-token
    token = user.post(f"/buckets/{bucket['id']}/tokens", json={"operation": "PULL"}).json()
    anon = Http(bridge.url)
    assert anon.get(path, headers={"x-token": token["token"]}).json() == []
    reused = anon.get(path, headers={"x-token": token["token"]})
    assert (reused.status_code, reused.json()) == (401, {"error": "Invalid or expired token"})
    assert anon.get(path).json() == {"error": "No authentication strategy detected"}
    assert anon.get(path, headers={"x-token": ""}).status_code == 401
    other_bucket = make_bucket(user, "other")
    other_token = user.post(f"/buckets/{other_bucket['id']}/tokens", json={}).json()["token"]
    wrong = anon.get(path, headers={"x-token": other_token})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "Not authorized"})
    assert user.get(path, params={"skip": "x"}).status_code == 400
    assert user.get(path, params={"limit": "-1"}).status_code == 400


def test_expired_token(tmp_path):
    clock = FakeClock()  # expiry comes from advancing the Bridge's clock, not from waiting
    with BridgeServer(make_config(tmp_path, token_ttl=60), clock=clock) as server:
        client = new_user(server)
        bucket = make_bucket(client)
        entry = client.post(
            f"/buckets/{bucket['id']}/files",
            json={"frame": make_frame(client)["id"], "filename": "e"},
        ).json()
        token = client.post(f"/buckets/{bucket['id']}/tokens", json={}).json()["token"]
        clock.advance(60.001)
        response = Http(server.url).get(
            f"/buckets/{bucket['id']}/files/{entry['id']}", headers={"x-token": token}
        )
        assert (response.status_code, response.json()) == (
            401,
            {"error": "Invalid or expired token"},
        )


# ----------------------------------------------------------------------------- contacts & reports


def test_farmer_registration_and_contacts(bridge, anon):
    response, private = register_farmer(bridge.url, 4001)
    node_id = keys.node_id(private)
    assert (response.status_code, response.json()) == (
        200,
        {"nodeID": node_id, "address": "127.0.0.1", "port": 4001},
    )
    listed = anon.get("/contacts").json()
    assert len(listed) == 1
    contact = listed[0]
    assert ISO_MS.match(contact.pop("lastSeen"))
    assert contact == {
        "nodeID": node_id,
        "address": "127.0.0.1",
        "port": 4001,
        "protocol": "1.2.0",
        "userAgent": "test-farmer",
        "spaceAvailable": True,
    }
    assert anon.get(f"/contacts/{node_id}").json()["nodeID"] == node_id
    assert anon.get("/contacts/" + "0" * 40).json() == {"error": "Contact not found"}
    # re-registering moves the contact
    moved, _ = register_farmer(bridge.url, 4002, private)
    assert moved.json()["port"] == 4002
    assert [c["port"] for c in anon.get("/contacts").json()] == [4002]


def test_contacts_pages_and_filters(bridge, anon):
    for port in range(5000, 5031):
        assert register_farmer(bridge.url, port)[0].status_code == 200
    first = anon.get("/contacts").json()
    second = anon.get("/contacts", params={"page": 2}).json()
    assert (len(first), len(second)) == (30, 1)
    seen = [c["lastSeen"] for c in first + second]
    assert seen == sorted(seen, reverse=True)
    assert {c["nodeID"] for c in first}.isdisjoint({c["nodeID"] for c in second})
    assert [c["port"] for c in anon.get("/contacts", params={"port": 5007}).json()] == [5007]
    assert anon.get("/contacts", params={"protocol": "9.9.9"}).json() == []
    assert len(anon.get("/contacts", params={"userAgent": "test-farmer", "page": 2}).json()) == 1
    assert anon.get("/contacts", params={"page": 0}).status_code == 400
    assert anon.get("/contacts", params={"port": "x"}).status_code == 400


def test_farmer_registration_is_authenticated(bridge, anon):
    private = ec.generate_private_key(ec.SECP256K1())
    body = json.dumps({"address": "127.0.0.1", "port": 4001}).encode()
    stamp = str(int(time.time() * 1000))
    good = {
        "x-node-id": keys.node_id(private),
        "x-node-pubkey": keys.public_key_hex(private),
        "x-node-timestamp": stamp,
        "x-node-signature": keys.sign(
            private, b"POST" + (bridge.url + "/contacts").encode() + stamp.encode() + body
        ),
    }
    other = ec.generate_private_key(ec.SECP256K1())
    cases = [
        ({}, "Farmer authentication needs"),
        ({"x-node-id": keys.node_id(other)}, "x-node-pubkey does not match x-node-id"),
        ({"x-node-signature": keys.sign(other, b"x")}, "Invalid farmer signature"),
        ({"x-node-timestamp": str(int(stamp) - 600_000)}, "x-node-timestamp is more than"),
        ({"x-node-pubkey": "02" + "00" * 32}, "Invalid x-node-pubkey"),
    ]
    for change, message in cases:
        headers = {**good, **change} if change else {}
        response = anon.post("/contacts", data=body, headers=headers)
        assert response.status_code == 401, change
        assert response.json()["error"].startswith(message), response.json()
    tampered = anon.post("/contacts", data=body.replace(b"4001", b"4002"), headers=good)
    assert tampered.status_code == 401
    assert anon.get("/contacts").json() == []
    accepted = anon.post("/contacts", data=body, headers=good)
    assert accepted.status_code == 200


def test_farmer_contact_update(bridge, anon):
    _, private = register_farmer(bridge.url, 4001)
    node_id = keys.node_id(private)
    body = json.dumps({"port": 4010, "spaceAvailable": False}).encode()
    stamp = str(int(time.time() * 1000))
    url = f"{bridge.url}/contacts/{node_id}"
    headers = {
        "x-node-id": node_id,
        "x-node-pubkey": keys.public_key_hex(private),
        "x-node-timestamp": stamp,
        "x-node-signature": keys.sign(private, b"PATCH" + url.encode() + stamp.encode() + body),
    }
    response = anon.patch(f"/contacts/{node_id}", data=body, headers=headers)
    assert (response.status_code, response.json()) == (
        201,
        {"nodeID": node_id, "address": "127.0.0.1", "port": 4010, "spaceAvailable": False},
    )


def test_exchange_report_validation(anon):
    report = {
        "dataHash": SHARD["hash"],
        "reporterId": EMAIL,
        "farmerId": "f" * 40,
        "exchangeStart": 1,
        "exchangeEnd": 2,
        "exchangeResultCode": 1000,
        "exchangeResultMessage": "SHARD_UPLOADED",
    }
    unknown = anon.post("/reports/exchanges", json=report)
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Shard not found for report"})
    for change in (
        {"dataHash": "x"},
        {"exchangeResultCode": 1},
        {"exchangeStart": "now"},
        {"reporterId": None},
        {"exchangeResultMessage": 5},
    ):
        assert anon.post("/reports/exchanges", json={**report, **change}).status_code == 400


# ----------------------------------------------------------------------------- persistence


def test_restart_loses_nothing(tmp_path):
    config = make_config(tmp_path)
    with BridgeServer(config) as first:
        client = new_user(first)
        bucket = make_bucket(client)
        frame = make_frame(client)
        entry = client.post(
            f"/buckets/{bucket['id']}/files", json={"frame": frame["id"], "filename": "f"}
        ).json()
        register_farmer(first.url, 4001)
        key = keys.public_key_hex(ec.generate_private_key(ec.SECP256K1()))
        client.post("/keys", json={"key": key})
        before = {
            "buckets": client.get("/buckets").json(),
            "files": client.get(f"/buckets/{bucket['id']}/files").json(),
            "frames": client.get("/frames").json(),
            "keys": client.get("/keys").json(),
            "contacts": Http(first.url).get("/contacts").json(),
        }
    with BridgeServer(config) as second:
        client = Http(second.url, EMAIL, PASSWORD)
        after = {
            "buckets": client.get("/buckets").json(),
            "files": client.get(f"/buckets/{bucket['id']}/files").json(),
            "frames": client.get("/frames").json(),
            "keys": client.get("/keys").json(),
            "contacts": Http(second.url).get("/contacts").json(),
        }
        assert after == before
        assert after["files"][0]["id"] == entry["id"]
