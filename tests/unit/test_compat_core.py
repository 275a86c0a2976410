"""storj 0.1.x–0.3.14 names of the core (issue 13): exceptions, KeyPair, IdecdsaCipher,
Keyring, Base58, and the 0.3.14 ``Client`` constructor and setters.

The exception tests are 0.3.14's own ``tests/unit/exception_test.py``, ported; the key
vectors come from ``sdk-original.md`` §2.3 and §3.8; the ``IdecdsaCipher`` ciphertext
was produced independently with ``openssl enc -aes-256-cbc -md md5 -nosalt``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import pickle
import stat

import ecdsa
import pytest
import responses
from ecdsa.util import sigdecode_string

import storj
import storj.configuration
from storj import keys, model
from storj.api import basic_auth_header, ripemd160
from storj.exception import (
    BridgeError,
    ClientError,
    ConfigurationError,
    DecryptionError,
    FarmerError,
    HashMismatchError,
    NotFoundError,
    ShardingException,
    StorjBridgeApiError,
    StorjError,
    StorjFarmerError,
    SuppliedTokenNotAcceptedError,
)
from storj.http import Client
from storj.keypair import (
    IdecdsaCipher,
    KeyPair,
    Keyring,
    b58check_encode,
    b58decode,
    b58encode,
    recover_public_key,
    signed_message_digest,
)

API = "http://bridge.test"
EMAIL = "user@example.com"
SECRET = "master_password"
PRIVATE = "c7d360e0d7d6820ea8d33cc7ad81bf9d04c2f9c793f21cbf0a4a004350346ab8"
PUBLIC = "03980352d67d91a8cf64251b1d4f7272654c70aa21932aaea1b359c47b26aee9d0"
NODE_ID = "abb5b062c7797924bb5b7d65e4f8a2f7c6e0311f"
ADDRESS = "1GevCn3H1p76GHHPS9nzg8wBYLFaS2MAmX"
HASHED = hashlib.sha256(b"s3CR3cy").hexdigest()


# ------------------------------------------------------------------ exceptions (0.3.14 tests)


@pytest.mark.parametrize("cls", [BridgeError, FarmerError, StorjBridgeApiError, StorjFarmerError])
def test_code_message_construction_as_in_0_3_14(cls):
    error = cls(0, "error")
    assert error.code == 0
    assert error.message == "error"
    assert str(error) == "[0] error"
    assert isinstance(error, RuntimeError) and isinstance(error, StorjError)


def test_bridge_error_keyword_and_default_construction():
    error = BridgeError(code="", message="")
    assert (error.code, error.message, str(error)) == ("", "", "[] ")
    assert BridgeError(code=7, message="x").code == 7
    assert str(BridgeError("msg", code=7)) == "[7] msg"
    assert BridgeError(404).code == 404
    assert str(BridgeError(404)) == "[404] "
    with pytest.raises(TypeError):
        BridgeError("a", "b", code=1)


def test_farmer_error_code_positional():
    error = FarmerError(10005)
    assert (error.code, error.message, str(error)) == (10005, "", "[10005] ")
    error = FarmerError(code=3, message="slow")
    assert str(error) == "[3] slow"


def test_client_error_as_in_0_3_14():
    for error in (ClientError("error"), ClientError(message="error")):
        assert error.message == "error"
        assert str(error) == "error"


@pytest.mark.parametrize(
    "cls, code", [(SuppliedTokenNotAcceptedError, 10002), (HashMismatchError, 10003)]
)
def test_farmer_subclasses_without_arguments(cls, code):
    error = cls()
    assert cls.CODE == code
    assert error.code == code
    assert error.message == ""
    assert str(error) == f"[{code}] "


def test_our_own_constructions_keep_working():
    error = NotFoundError("no bucket", status_code=404, method="GET", url="http://b/buckets/x")
    assert error.code == 404 and error.status_code == 404
    assert str(error) == "[404] no bucket (GET http://b/buckets/x)"
    plain = BridgeError("no answer")
    assert (plain.code, plain.status_code, str(plain)) == (None, None, "no answer")
    farmer = FarmerError("refused", node_id="ab" * 20)
    assert farmer.code == FarmerError.REQUEST
    assert str(farmer) == f"[{FarmerError.REQUEST}] refused (farmer {'ab' * 20})"
    assert HashMismatchError("bad bytes").code == 10003


def test_legacy_code_is_not_an_http_status():
    error = BridgeError(0, "error")
    assert error.status_code is None


@pytest.mark.parametrize(
    "error",
    [
        BridgeError(0, "error"),
        BridgeError(code="E1", message="m"),
        NotFoundError("x", status_code=404, method="GET", url="u"),
        FarmerError(5, "m"),
        SuppliedTokenNotAcceptedError(),
    ],
)
def test_exceptions_pickle_with_their_code(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert (copy.code, copy.message, str(copy)) == (error.code, error.message, str(error))


def test_sharding_exception():
    error = ShardingException(ValueError("too small"))
    assert str(error) == "too small"
    assert isinstance(error.value, ValueError)
    assert isinstance(error, StorjError)
    assert str(ShardingException(42)) == "42"
    assert str(pickle.loads(pickle.dumps(ShardingException("x")))) == "x"
    assert model.ShardingException is ShardingException


# ------------------------------------------------------------------------------ Base58


def test_base58_vectors():
    assert b58encode(b"hello world") == "StV1DL6CwTryKyV"
    assert b58encode(b"\0\0\x01") == "112"
    assert b58encode(b"") == ""
    assert b58decode("StV1DL6CwTryKyV") == b"hello world"
    assert b58decode("112") == b"\0\0\x01"
    assert b58decode(b"StV1DL6CwTryKyV") == b"hello world"
    # Bitcoin's genesis address: version 0 + hash160 of the genesis public key.
    h160 = bytes.fromhex("62e907b15cbf27d5425399ebf6f0fb50ebb88f18")
    assert b58check_encode(b"\0" + h160) == "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
    with pytest.raises(ValueError):
        b58decode("0OIl")


@pytest.mark.parametrize("data", [b"", b"\0", b"\0\0abc", bytes(range(256)), b"\xff" * 33])
def test_base58_round_trip(data):
    assert b58decode(b58encode(data)) == data


# ------------------------------------------------------------------------------ KeyPair


def test_keypair_vector_from_secret_and_from_pkey():
    for pair in (KeyPair(secret=SECRET), KeyPair(pkey=PRIVATE), KeyPair(PRIVATE)):
        assert pair.private_key == PRIVATE
        assert pair.public_key == PUBLIC
        assert pair.node_id == NODE_ID
        assert pair.address == ADDRESS


def test_keypair_secret_is_the_bip32_master_key():
    master = hmac.new(b"Bitcoin seed", b"other secret", hashlib.sha512).digest()
    assert KeyPair(secret="other secret").private_key == master[:32].hex()


def test_keypair_random_keys_are_distinct_and_valid():
    first, second = KeyPair(), KeyPair()
    assert first.private_key != second.private_key
    for pair in (first, second):
        assert len(pair.private_key) == 64 and len(pair.public_key) == 66
        assert keys.public_key_hex(keys.load_private_key(pair.private_key)) == pair.public_key
        assert pair.private_key not in repr(pair)


@pytest.mark.parametrize("bad", ["zz", "00" * 32, format(ecdsa.SECP256k1.order, "064x")])
def test_keypair_rejects_invalid_private_keys(bad):
    with pytest.raises(ValueError):
        KeyPair(pkey=bad)


def _recovered_by_ecdsa(signature_b64: str, message: str) -> tuple[int, list[str]]:
    """Header byte and the public keys ``ecdsa`` recovers (independent of storj)."""
    raw = base64.b64decode(signature_b64)
    text = message.encode("utf-8")
    assert len(text) < 0xFD  # one-byte length prefix
    framed = b"\x18Bitcoin Signed Message:\n" + bytes([len(text)]) + text
    digest = hashlib.sha256(hashlib.sha256(framed).digest()).digest()
    candidates = ecdsa.VerifyingKey.from_public_key_recovery_with_digest(
        raw[1:], digest, ecdsa.SECP256k1, hashfunc=hashlib.sha256, sigdecode=sigdecode_string
    )
    return raw[0], [key.to_string("compressed").hex() for key in candidates]


@pytest.mark.parametrize("message", ["hello", "", "Storj node 1", "ü" * 10])
def test_compact_signature_recovers_the_public_key(message):
    pair = KeyPair(secret=SECRET)
    signature = pair.sign(message)
    raw = base64.b64decode(signature)
    assert len(raw) == 65
    header, recovered = _recovered_by_ecdsa(signature, message)
    assert header in (31, 32)  # 27 + recid + 4 (compressed)
    assert PUBLIC in recovered
    r, s = int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:], "big")
    digest = signed_message_digest(message)
    assert recover_public_key(digest, r, s, header - 31).hex() == PUBLIC
    assert s <= ecdsa.SECP256k1.order // 2  # low-S
    assert pair.sign(message) == signature  # RFC 6979: deterministic


def test_compact_signature_differs_per_message_and_key():
    assert KeyPair(secret=SECRET).sign("a") != KeyPair(secret=SECRET).sign("b")
    assert KeyPair(secret=SECRET).sign("a") != KeyPair(secret="x").sign("a")


def test_der_signature_verifies_with_sha256():
    pair = KeyPair(secret=SECRET)
    der_hex = pair.sign("payload", compact=False)
    assert keys.verify(PUBLIC, der_hex, b"payload")
    assert not keys.verify(PUBLIC, der_hex, b"other")
    assert pair.sign(b"payload", compact=False) == der_hex


def test_keypair_signing_key_authenticates_a_client():
    client = Client(EMAIL, "pw", API)
    client.authenticate(KeyPair(secret=SECRET).signing_key)
    assert client.public_key_hex == PUBLIC


# ------------------------------------------------------------------------ IdecdsaCipher


def test_evp_bytes_to_key_vector():
    key, iv = IdecdsaCipher().EVP_BytesToKey("secret", 10, 20)
    assert key == b'^\xbe"\x94\xec\xd0\xe0\xf0\x8e\xab'
    assert iv == b"v\x90\xd2\xa6\xeei&\xae\\\xc8T\xe3kk\xdf\xca6hH\xde"
    assert IdecdsaCipher.EVP_BytesToKey(b"secret", 10, 20) == (key, iv)


def test_simple_encrypt_matches_openssl():
    # printf 6337643336306530 | openssl enc -aes-256-cbc -md md5 -nosalt -pass pass:testpassword
    expected = bytes.fromhex("bf53213c73432c40bcf91f863bbb4925d8390a6bc4e37ceb89a55ea146b7b75b")
    encrypted = IdecdsaCipher().simpleEncrypt("testpassword", "c7d360e0")
    assert b58decode(encrypted) == expected
    assert encrypted == b58encode(expected)


def test_simple_encrypt_round_trips():
    cipher = IdecdsaCipher()
    assert cipher.simpleDecrypt("testpassword", cipher.simpleEncrypt("testpassword", PRIVATE)) == (
        PRIVATE
    )
    data = b"\x00\xffbinary"
    sealed = cipher.simpleEncrypt("pw", data)
    assert cipher.simpleDecrypt("pw", sealed, as_bytes=True) == data
    with pytest.raises(DecryptionError):
        cipher.simpleDecrypt("pw", sealed)  # not UTF-8 text


def test_simple_decrypt_wrong_passphrase_or_garbage():
    cipher = IdecdsaCipher()
    sealed = cipher.simpleEncrypt("right", PRIVATE)
    failures = 0
    for attempt in ("wrong", "wrong2", "Right", "right "):
        try:
            result = cipher.simpleDecrypt(attempt, sealed)
        except DecryptionError:
            failures += 1
        else:
            assert result != PRIVATE
    assert failures >= 3  # padding catches all but ~1/256 of wrong keys; hex the rest
    for garbage in ("0OIl", "", "abc"):
        with pytest.raises(DecryptionError):
            cipher.simpleDecrypt("right", garbage)


def test_pad_unpad_text_and_bytes():
    for data in ("0123456789abcdef", b"0123456789abcdef", "abc", b""):
        padded = IdecdsaCipher.pad(data)
        assert len(padded) % 16 == 0 and len(padded) > len(data)
        assert IdecdsaCipher.unpad(padded) == data
    with pytest.raises(DecryptionError):
        IdecdsaCipher.unpad(b"abc\x05")


# ------------------------------------------------------------------------------ Keyring


@pytest.fixture
def fast_keyring(monkeypatch):
    monkeypatch.setattr(Keyring, "ITERATIONS", 1000)
    return Keyring()


def test_keyring_generate_uses_fresh_random_values(fast_keyring):
    fast_keyring.generate()
    first = (fast_keyring.password, fast_keyring.salt)
    fast_keyring.generate()
    assert (fast_keyring.password, fast_keyring.salt) != first
    assert len(fast_keyring.password) == 128 and len(fast_keyring.salt) == 64
    assert fast_keyring.password not in repr(fast_keyring)


def test_get_encryption_key_is_pbkdf2_of_the_passphrase(fast_keyring):
    key = fast_keyring.get_encryption_key("passphrase")
    expected = hashlib.pbkdf2_hmac(
        "sha512", b"passphrase", bytes.fromhex(fast_keyring.salt), 1000, dklen=32
    )
    assert key == expected.hex()
    assert fast_keyring.get_encryption_key("passphrase") == key
    assert fast_keyring.get_encryption_key("other") != key


def test_keyring_export_import_round_trip(fast_keyring, tmp_path):
    path = tmp_path / "key.b64"
    fast_keyring.generate("user pass", path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_bytes()
    assert fast_keyring.password.encode() not in text
    assert fast_keyring.password not in base64.b64decode(text).decode()
    other = Keyring()
    creds = other.import_keyring(path, "user pass")
    assert creds == {"pass": fast_keyring.password, "salt": fast_keyring.salt}
    assert other.get_encryption_key("p") == fast_keyring.get_encryption_key("p")


def test_keyring_wrong_pass_tampering_and_overwrite(fast_keyring, tmp_path):
    path = tmp_path / "key.b64"
    fast_keyring.generate("user pass", path)
    with pytest.raises(DecryptionError):
        Keyring().import_keyring(path, "wrong")
    document = json.loads(base64.b64decode(path.read_bytes()))
    sealed = bytearray(base64.b64decode(document["ciphertext"]))
    sealed[0] ^= 1
    document["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    tampered = tmp_path / "tampered.b64"
    tampered.write_bytes(base64.b64encode(json.dumps(document).encode()))
    with pytest.raises(DecryptionError):
        Keyring().import_keyring(tampered, "user pass")
    before = path.read_bytes()
    with pytest.raises(ConfigurationError, match="exists"):
        fast_keyring.generate("user pass", path)
    assert path.read_bytes() == before


def test_keyring_import_refuses_other_files_without_eval(tmp_path):
    evil = tmp_path / "evil.b64"
    evil.write_bytes(base64.b64encode(b"__import__('os').system('false')"))
    with pytest.raises(ConfigurationError, match="not a keyring file"):
        Keyring().import_keyring(evil, "x")
    with pytest.raises(ConfigurationError, match="cannot read"):
        Keyring().import_keyring(tmp_path / "missing", "x")


# ----------------------------------------------------------------------- package names


def test_names_where_0_3_x_had_them():
    assert storj.read_config is storj.configuration.read_config
    assert "read_config" in storj.__all__
    for name in ("KeyPair", "IdecdsaCipher", "Keyring", "ShardingException"):
        assert name in model.__all__
    assert model.KeyPair is KeyPair


# --------------------------------------------------------------------- Client (0.3.14)


def test_storj_bridge_is_api_url():
    assert Client(EMAIL, "pw", storj_bridge=API).api_url == API + "/"
    assert Client(EMAIL, "pw", API, storj_bridge=API).api_url == API + "/"
    with pytest.raises(ValueError, match="disagree"):
        Client(EMAIL, "pw", API, storj_bridge="http://other.test")


def test_positional_order_of_0_3_14():
    client = Client(EMAIL, HASHED, API, False, 12)  # storj_bridge, do_hashing, timeout
    assert client.password == HASHED
    assert (client.api_url, client.do_hashing, client.timeout) == (API + "/", False, 12)
    # with do_hashing False the given "password" must be the hash: "pw" is not
    with pytest.raises(ValueError):
        Client(EMAIL, "pw", API, False)


def test_keyword_only_options_stay_keyword_only():
    with pytest.raises(TypeError):
        Client(EMAIL, "pw", API, True, 10, 3)  # retries is keyword-only
    client = Client(EMAIL, "pw", API, timeout=5, retries=0, max_response_bytes=1000)
    assert client.timeout == 5 and client.max_response_bytes == 1000


def test_timeout_none_is_the_default():
    assert Client(EMAIL, "pw", API).timeout == 60.0
    assert Client(EMAIL, "pw", API, timeout=None).timeout == 60.0
    with pytest.raises(ValueError):
        Client(EMAIL, "pw", API, timeout=-1)


def test_do_hashing():
    hashed = Client(EMAIL, "s3CR3cy", API)
    assert hashed.do_hashing is True and hashed.password == HASHED
    verbatim = Client(EMAIL, HASHED.upper(), API, do_hashing=False)
    assert verbatim.do_hashing is False and verbatim.password == HASHED
    for bad in ("s3CR3cy", HASHED[:-1], HASHED + "0", "g" * 64):
        with pytest.raises(ValueError, match="SHA-256 hex"):
            Client(EMAIL, bad, API, do_hashing=False)
    with pytest.raises(TypeError):
        Client(EMAIL, HASHED, API, do_hashing="no")  # type: ignore[arg-type]
    verbatim.do_hashing = True
    verbatim.password = "s3CR3cy"
    assert verbatim.password == HASHED


@responses.activate
def test_do_hashing_false_sends_the_given_hash():
    responses.add("GET", f"{API}/buckets", json=[])
    Client(EMAIL, HASHED, API, do_hashing=False).bucket_list()
    sent = responses.calls[0].request.headers["Authorization"]
    assert sent == basic_auth_header(EMAIL, HASHED)
    assert "s3CR3cy" not in sent


def test_public_key_setter_with_private_key():
    client = Client(EMAIL, "pw", API)
    pair = KeyPair(secret=SECRET)
    client.private_key = pair.signing_key
    client.public_key = pair.signing_key.get_verifying_key()  # the matching key: fine
    client.public_key = PUBLIC
    assert client.public_key_hex == PUBLIC
    with pytest.raises(ValueError, match="does not belong"):
        client.public_key = KeyPair(secret="other").public_key
    with pytest.raises(ValueError):
        client.public_key = None
    assert client.public_key_hex == PUBLIC and client.private_key is not None
    client.private_key = None
    assert client.public_key is None and client.public_key_hex is None


@responses.activate
def test_public_key_without_private_key_is_kept_for_registration():
    responses.add("POST", f"{API}/keys", json={"key": PUBLIC, "id": "1", "user": EMAIL})
    responses.add("GET", f"{API}/buckets", json=[])
    client = Client(EMAIL, "pw", API)
    client.public_key = bytes.fromhex(PUBLIC)
    assert isinstance(client.public_key, ecdsa.VerifyingKey)
    assert client.public_key_hex == PUBLIC
    client.key_register(client.public_key)
    assert json.loads(responses.calls[0].request.body) == {"key": PUBLIC}
    client.bucket_list()  # still Basic: signing needs the private key
    assert "Authorization" in responses.calls[1].request.headers
    assert "x-pubkey" not in responses.calls[1].request.headers
    client.public_key = None
    assert client.public_key is None
    with pytest.raises(ValueError):
        client.public_key = "not a key"


SHARD = {"hash": "ab" * 20, "size": 10, "index": 0, "challenges": ["00" * 32], "tree": ["11" * 20]}
ANSWER = {"hash": "ab" * 20, "token": "t", "operation": "PUSH", "farmer": {"nodeID": "cd" * 20}}


@responses.activate
def test_frame_add_shard_excludes_is_exclude():
    responses.add("PUT", f"{API}/frames/f1", json=ANSWER)
    client = Client(EMAIL, "pw", API)
    client.frame_add_shard(SHARD, "f1", excludes=["ee" * 20])
    client.frame_add_shard(SHARD, "f1", exclude=["ee" * 20])
    client.frame_add_shard(SHARD, "f1")
    bodies = [json.loads(call.request.body) for call in responses.calls]
    assert bodies[0]["exclude"] == ["ee" * 20] == bodies[1]["exclude"]
    assert "exclude" not in bodies[2]
    with pytest.raises(ValueError, match="not both"):
        client.frame_add_shard(SHARD, "f1", exclude=["a"], excludes=["b"])
    assert len(responses.calls) == 3


def test_legacy_methods_exist_on_client():
    for name in (
        "key_dump",
        "key_export",
        "key_generate",
        "key_import",
        "file_download",
        "send_exchange_report",
        "check_file_existence_in_bucket",
    ):
        assert callable(getattr(Client, name))


def test_key_export_needs_a_key(tmp_path):
    with pytest.raises(ConfigurationError, match="no private key"):
        Client(EMAIL, "pw", API).key_export(tmp_path)


def test_key_export_files_modes_and_no_overwrite(tmp_path):
    client = Client(EMAIL, "pw", API)
    client.authenticate(KeyPair(secret=SECRET).signing_key)
    public_path, private_path = client.key_export(tmp_path)
    assert stat.S_IMODE(os.stat(private_path).st_mode) == 0o600
    assert ecdsa.SigningKey.from_pem(private_path.read_text()).to_string().hex() == PRIVATE
    public = ecdsa.VerifyingKey.from_pem(public_path.read_text())
    assert public.to_string("compressed").hex() == PUBLIC
    before = private_path.read_bytes()
    with pytest.raises(ConfigurationError, match="exists"):
        client.key_export(tmp_path)
    assert private_path.read_bytes() == before


def test_key_import_rejects_mismatched_or_bad_files(tmp_path):
    one = Client(EMAIL, "pw", API)
    one.authenticate(KeyPair(secret=SECRET).signing_key)
    (tmp_path / "a").mkdir()
    one.key_export(tmp_path / "a")
    two = Client(EMAIL, "pw", API)
    two.authenticate(KeyPair(secret="other").signing_key)
    (tmp_path / "b").mkdir()
    two.key_export(tmp_path / "b")
    fresh = Client(EMAIL, "pw", API)
    with pytest.raises(ConfigurationError, match="is not the public key"):
        fresh.key_import(tmp_path / "a" / "private.pem", tmp_path / "b" / "public.pem")
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(ConfigurationError):
        fresh.key_import(tmp_path / "junk.pem", tmp_path / "b" / "public.pem")
    with pytest.raises(ConfigurationError, match="cannot read"):
        fresh.key_import(tmp_path / "missing.pem", tmp_path / "b" / "public.pem")
    assert fresh.private_key is None  # nothing was set, nothing was sent


@responses.activate
def test_check_file_existence_compares_a_content_hash_the_bridge_keeps(tmp_path):
    content = b"0.3.x era content"
    path = tmp_path / "local.txt"
    path.write_bytes(content)
    legacy = ripemd160(hashlib.sha256(content).digest()).hex()  # hashlib may lack it
    info = f"{API}/buckets/b1/files/f1/info"
    entry = {"bucket": "b1", "id": "f1", "filename": "stored.txt", "size": len(content)}
    responses.add("GET", info, json={**entry, "hash": legacy})
    responses.add("GET", info, json={**entry, "hash": "00" * 20})
    responses.add("GET", info, json={**entry, "filename": "local.txt", "hash": "00" * 20})
    client = Client(EMAIL, "pw", API)
    assert client.check_file_existence_in_bucket("b1", path, "f1") == 2
    assert client.check_file_existence_in_bucket("b1", path, "f1") is False
    assert client.check_file_existence_in_bucket("b1", path, "f1") == 1  # same name first
    assert len(responses.calls) == 3  # no download was needed
