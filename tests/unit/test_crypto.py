"""Tests of storj.crypto against libstorj's vectors (bridge-protocol.md §8.3)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from storj import crypto
from storj.api import calculate_file_id, ripemd160
from storj.exception import EncryptionKeyError

MNEMONIC = " ".join(["abandon"] * 11 + ["about"])
SEED_HEX = (
    "5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc1"
    "9a5ac40b389cd370d086206dec8aa6c43daea6690f20ad3d8d48b2d2ce9e38e4"
)
BUCKET_ID = "0123456789ab0123456789ab"
BUCKET_KEY = "b2464469e364834ad21e24c64f637c39083af5067693605c84e259447644f6f6"
INDEX = "150589c9593bbebc0e795d8c4fa97304b42c110d9f0095abfac644763beca66e"
FILE_KEY = "bb3552fc2e16d24a147af4b2d163e3164e6dbd04bbc45fc1c3eab69f384337e9"
ENCRYPTED_TEST = "g9qacwq2AE1+5nzL/HYyYdY9WoIr+1ueOuVEx6/IzzZKK9sULoKDDdYvhOpavHH2P3xQNw=="

# BIP39 vectors listed in libstorj's test_mnemonic_check (the Trezor reference vectors).
VALID_MNEMONICS = [
    MNEMONIC,
    "legal winner thank year wave sausage worth useful legal winner thank yellow",
    "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
    "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
    "abandon abandon abandon abandon abandon abandon agent",
    "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo "
    "zoo vote",
    "jelly better achieve collect unaware mountain thought cargo oxygen act hood bridge",
    "dignity pass list indicate nasty swamp pool script soccer toe leaf photo multiply desk "
    "host tomato cradle drill spread actor shine dismiss champion exotic",
]
BAD_CHECKSUM = [
    "above abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
    "above winner thank year wave sausage worth useful legal winner thank yellow",
    "above zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
]


def ecb_ctr_reference(key: bytes, iv: bytes, data: bytes, offset: int) -> bytes:
    """Slow CTR built from AES-ECB, one block at a time, counter = 128-bit big-endian."""
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    start = int.from_bytes(iv, "big")
    out = bytearray()
    pos = offset
    for byte in data:
        block = (start + pos // 16) % (1 << 128)
        keystream = ecb.update(block.to_bytes(16, "big"))
        out.append(byte ^ keystream[pos % 16])
        pos += 1
    return bytes(out)


# ------------------------------------------------------------------ key derivation


def test_seed_vector():
    assert crypto.mnemonic_to_seed(MNEMONIC).hex() == SEED_HEX


def test_seed_normalises_whitespace_and_case():
    sloppy = "  " + MNEMONIC.upper().replace(" ", "  \n") + "\n"
    assert crypto.mnemonic_to_seed(sloppy).hex() == SEED_HEX


def test_bucket_and_file_key_vectors():
    seed = bytes.fromhex(SEED_HEX)
    bkey = crypto.bucket_key(seed, BUCKET_ID)
    assert bkey.hex() == BUCKET_KEY
    assert crypto.file_key(bkey, INDEX).hex() == FILE_KEY
    assert crypto.file_key(bkey, bytes.fromhex(INDEX)).hex() == FILE_KEY


def test_deterministic_key_formula():
    assert crypto.deterministic_key(SEED_HEX, BUCKET_ID) == BUCKET_KEY
    expected = hashlib.sha512(bytes.fromhex("00ff" + "abcd")).hexdigest()[:64]
    assert crypto.deterministic_key("00ff", "abcd") == expected
    with pytest.raises(ValueError, match="hexadecimal"):
        crypto.deterministic_key("zz", "00")


def test_v0_file_key_vector_from_libstorj_2017():
    # libstorj test_generate_file_key before the random index existed.
    file_id = calculate_file_id(BUCKET_ID, "samplefile.txt")
    assert file_id == "852b6c9a0ba914a31e301a4b"
    bkey = bytes.fromhex(BUCKET_KEY)
    fk = crypto.file_key_v0(bkey, file_id)
    assert fk.hex() == "fe5fe4dcc5cb094666957d135341283d1af766cfe3174b75e15935ef5387c533"
    enc = crypto.file_encryption_v0(bkey, file_id)
    assert enc.version == 0
    assert enc.key == hashlib.sha256(fk.hex().encode()).digest()
    assert enc.iv == ripemd160(file_id.encode())[:16]


def test_v1_file_encryption():
    enc = crypto.file_encryption_v1(bytes.fromhex(BUCKET_KEY), INDEX)
    assert enc.version == 1
    assert enc.key.hex() == FILE_KEY
    assert enc.iv == bytes.fromhex(INDEX)[:16]
    assert FILE_KEY not in repr(enc)


@pytest.mark.parametrize("bad", [b"\x00" * 31, "ab" * 31, "zz" * 32])
def test_file_key_rejects_bad_index(bad):
    with pytest.raises(ValueError):
        crypto.file_key(bytes(32), bad)


def test_new_file_index():
    a, b = crypto.new_file_index(), crypto.new_file_index()
    assert len(a) == 32 and a != b


# ------------------------------------------------------------------------ mnemonic


@pytest.mark.parametrize("mnemonic", VALID_MNEMONICS)
def test_valid_mnemonics(mnemonic):
    assert crypto.validate_mnemonic(mnemonic)
    assert crypto.check_mnemonic(mnemonic) == mnemonic


@pytest.mark.parametrize("mnemonic", BAD_CHECKSUM)
def test_bad_checksum(mnemonic):
    assert not crypto.validate_mnemonic(mnemonic)
    with pytest.raises(EncryptionKeyError, match="checksum") as info:
        crypto.check_mnemonic(mnemonic)
    assert "above" not in str(info.value)


def test_unknown_word_is_reported_by_position_only():
    words = MNEMONIC.split()
    words[3] = "abandun"
    with pytest.raises(EncryptionKeyError, match="Word 4 ") as info:
        crypto.check_mnemonic(" ".join(words))
    assert "abandun" not in str(info.value)
    assert "abandon" not in str(info.value)


@pytest.mark.parametrize("count", [1, 11, 13, 23, 25])
def test_wrong_word_count(count):
    mnemonic = " ".join(["abandon"] * count)
    assert not crypto.validate_mnemonic(mnemonic)
    with pytest.raises(EncryptionKeyError, match=f"has {count} words"):
        crypto.check_mnemonic(mnemonic)


@pytest.mark.parametrize("value", ["", "   ", None, 12, b"abandon"])
def test_empty_or_not_a_string(value):
    assert not crypto.validate_mnemonic(value)
    with pytest.raises(EncryptionKeyError):
        crypto.check_mnemonic(value)


@pytest.mark.parametrize(("strength", "words"), [(256, 24), (128, 12), (192, 18)])
def test_generate_mnemonic(strength, words):
    mnemonic = crypto.generate_mnemonic(strength)
    assert len(mnemonic.split(" ")) == words
    assert crypto.validate_mnemonic(mnemonic)
    assert crypto.generate_mnemonic(strength) != mnemonic


def test_generate_mnemonic_default_is_24_words():
    assert len(crypto.generate_mnemonic().split()) == 24


def test_generate_mnemonic_bad_strength():
    with pytest.raises(ValueError):
        crypto.generate_mnemonic(100)


# ------------------------------------------------------------------------- AES-CTR


def test_ctr_counter_increment_vector_from_libstorj():
    iv = bytes([188, 14, 95, 229, 78, 112, 182, 107, 34, 206, 248, 225, 52, 22, 16, 183])
    one = crypto.ctr_counter_at(iv, 16)
    assert one[15] == 184 and one[:15] == iv[:15]
    later = crypto.ctr_counter_at(iv, 16 * 73)  # then 72 more blocks: carries into byte 14
    assert later[15] == 0 and later[14] == 17 and later[:14] == iv[:14]
    # Within a block the counter does not move.
    assert crypto.ctr_counter_at(iv, 15) == iv
    assert crypto.ctr_counter_at(iv, 17) == one


def test_ctr_counter_is_one_128_bit_integer():
    low_full = bytes(8) + b"\xff" * 8
    assert crypto.ctr_counter_at(low_full, 16) == bytes(7) + b"\x01" + bytes(8)
    assert crypto.ctr_counter_at(b"\xff" * 16, 16) == bytes(16)  # wraps modulo 2**128
    with pytest.raises(ValueError):
        crypto.ctr_counter_at(bytes(15), 0)
    with pytest.raises(ValueError):
        crypto.ctr_counter_at(bytes(16), -1)


def test_aes256_ctr_nist_sp800_38a_f55():
    key = bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
    iv = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
    plain = bytes.fromhex(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
    )
    expected = (
        "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
        "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6"
    )
    assert crypto.ctr_crypt(key, iv, plain).hex() == expected
    # The third block alone, positioned by offset.
    assert crypto.ctr_crypt(key, iv, plain[32:48], offset=32).hex() == expected[64:96]


@pytest.mark.parametrize(
    "iv_hex",
    [
        "0000000000000000ffffffffffffffff",  # 64-bit boundary
        "00000000000000000000fffffffffffe",
        "ffffffffffffffffffffffffffffffff",  # 128-bit wrap
        "0123456789abcdef00000000fffffffd",  # 32-bit boundary (OpenSSL's ctr32 fast path)
    ],
)
def test_ctr_matches_blockwise_reference_across_boundaries(iv_hex):
    key = bytes(range(32))
    iv = bytes.fromhex(iv_hex)
    data = bytes(range(256)) * 2
    whole = crypto.ctr_crypt(key, iv, data)
    assert whole == ecb_ctr_reference(key, iv, data, 0)
    assert crypto.ctr_crypt(key, iv, data[37:300], offset=37) == whole[37:300]


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    iv=st.binary(min_size=16, max_size=16),
    data=st.binary(min_size=0, max_size=700),
    cut=st.integers(min_value=0, max_value=700),
    length=st.integers(min_value=0, max_value=700),
)
def test_ctr_at_any_offset_equals_slice_of_whole_stream(key, iv, data, cut, length):
    whole = crypto.ctr_crypt(key, iv, data)
    start = min(cut, len(data))
    piece = data[start : start + length]
    assert crypto.ctr_cipher(key, iv, start).update(piece) == whole[start : start + length]
    # Decryption is the same operation.
    assert crypto.ctr_crypt(key, iv, whole[start:], offset=start) == data[start:]


@settings(max_examples=40, deadline=None)
@given(
    data=st.binary(min_size=0, max_size=600),
    sizes=st.lists(st.integers(min_value=0, max_value=70), max_size=12),
    offset=st.integers(min_value=0, max_value=10**12),
)
def test_ctr_streaming_updates_equal_one_shot(data, sizes, offset):
    key, iv = bytes(32), bytes.fromhex("00000000000000000000000000fffff0")
    cipher = crypto.ctr_cipher(key, iv, offset)
    out, pos = [], 0
    for size in sizes:
        out.append(cipher.update(data[pos : pos + size]))
        pos += len(data[pos : pos + size])
    out.append(cipher.update(data[pos:]))
    assert b"".join(out) == crypto.ctr_crypt(key, iv, data, offset)
    assert cipher.offset == offset + len(data)


@settings(max_examples=40, deadline=None)
@given(
    data=st.binary(min_size=0, max_size=600),
    sizes=st.lists(st.integers(min_value=0, max_value=70), max_size=12),
    offset=st.integers(min_value=0, max_value=10**12),
)
def test_ctr_update_into_equals_update(data, sizes, offset):
    key, iv = bytes(range(32)), bytes.fromhex("00000000000000000000000000fffff0")
    cipher = crypto.ctr_cipher(key, iv, offset)
    out = bytearray(70 + crypto.AES_BLOCK_SIZE)
    pieces, pos = [], 0
    for size in [*sizes, 70]:
        piece = data[pos : pos + size]
        written = cipher.update_into(piece, out)
        assert written == len(piece)
        pieces.append(bytes(out[:written]))
        pos += len(piece)
    pieces.append(cipher.update(data[pos:]))
    assert b"".join(pieces) == crypto.ctr_crypt(key, iv, data, offset)
    assert cipher.offset == offset + len(data)


def test_shard_offsets_continue_one_stream():
    enc = crypto.file_encryption_v1(bytes.fromhex(BUCKET_KEY), INDEX)
    data = bytes(range(256)) * 40  # 10240 bytes, "shards" of 4096
    whole = enc.crypt(data)
    shards = [enc.cipher(i).update(data[i : i + 4096]) for i in range(0, len(data), 4096)]
    assert b"".join(shards) == whole
    assert whole == ecb_ctr_reference(enc.key, enc.iv, data, 0)


def test_ctr_rejects_wrong_key_size():
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.ctr_cipher(bytes(16), bytes(16))


def test_ctr_cipher_repr_hides_key():
    key = bytes.fromhex(FILE_KEY)
    text = repr(crypto.ctr_cipher(key, bytes(16), 5))
    assert FILE_KEY not in text and "offset=5" in text


# --------------------------------------------------------------------------- HMAC

HASHES = [
    "d4b0d0d0d8f9c4be812d210a9f6d6caf954ce223",
    "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb",
    "2047821ebf5cbf1111a64089d72fad184e4e4882",
]


def test_file_hmac_value_and_determinism():
    key = bytes.fromhex(FILE_KEY)
    expected = hmac.new(key, b"".join(bytes.fromhex(h) for h in HASHES), hashlib.sha512)
    value = crypto.file_hmac(key, HASHES)
    assert value == expected.hexdigest()
    assert len(value) == 128
    assert crypto.file_hmac(key, iter(HASHES)) == value
    assert crypto.file_hmac(key, [bytes.fromhex(h) for h in HASHES]) == value
    assert crypto.file_hmac(key, list(reversed(HASHES))) != value


def test_verify_file_hmac():
    key = bytes.fromhex(FILE_KEY)
    value = crypto.file_hmac(key, HASHES)
    assert crypto.verify_file_hmac(key, HASHES, value)
    assert crypto.verify_file_hmac(key, HASHES, value.upper())
    assert not crypto.verify_file_hmac(key, HASHES[:2], value)
    assert not crypto.verify_file_hmac(bytes(32), HASHES, value)
    assert not crypto.verify_file_hmac(key, HASHES, value[:-2])
    assert not crypto.verify_file_hmac(key, HASHES, None)  # type: ignore[arg-type]
    enc = crypto.FileEncryption(key, bytes(16))
    assert enc.hmac(HASHES) == value and enc.verify_hmac(HASHES, value)


def test_file_hmac_rejects_bad_hashes():
    with pytest.raises(ValueError):
        crypto.file_hmac(bytes(32), ["abcd"])
    with pytest.raises(ValueError):
        crypto.file_hmac(bytes(16), HASHES)


# ---------------------------------------------------------------- name encryption


def test_bucket_name_vector():
    seed = bytes.fromhex(SEED_HEX)
    assert crypto.encrypt_bucket_name(MNEMONIC, "test") == ENCRYPTED_TEST
    assert crypto.encrypt_bucket_name(seed, "test") == ENCRYPTED_TEST
    assert crypto.decrypt_bucket_name(MNEMONIC, ENCRYPTED_TEST) == "test"
    assert crypto.decrypt_bucket_name(seed, ENCRYPTED_TEST) == "test"


def test_bucket_name_layout():
    raw = base64.b64decode(ENCRYPTED_TEST)
    k = bytes.fromhex(crypto.deterministic_key(SEED_HEX, crypto.BUCKET_NAME_MAGIC))
    iv = hmac.new(k, b"test", hashlib.sha512).digest()[:32]
    assert raw[16:48] == iv
    assert len(raw) == 16 + 32 + 4


def test_decrypt_bucket_name_not_ours():
    other = crypto.generate_mnemonic(128)
    assert crypto.decrypt_bucket_name(other, ENCRYPTED_TEST) is None
    assert crypto.decrypt_bucket_name(MNEMONIC, "my-plain-bucket") is None
    assert crypto.decrypt_bucket_name(MNEMONIC, "") is None
    assert crypto.decrypt_bucket_name(MNEMONIC, base64.b64encode(bytes(48)).decode()) is None
    raw = bytearray(base64.b64decode(ENCRYPTED_TEST))
    raw[-1] ^= 1
    assert crypto.decrypt_bucket_name(MNEMONIC, base64.b64encode(raw).decode()) is None


def test_file_name_round_trip_and_layout():
    name = "photos/été 2016.jpg"
    encrypted = crypto.encrypt_file_name(MNEMONIC, BUCKET_ID, name)
    assert encrypted == crypto.encrypt_file_name(MNEMONIC, BUCKET_ID, name)  # deterministic
    assert crypto.decrypt_file_name(MNEMONIC, BUCKET_ID, encrypted) == name
    raw = base64.b64decode(encrypted)
    bkey = bytes.fromhex(BUCKET_KEY)
    iv = hmac.new(bkey, BUCKET_ID.encode() + name.encode(), hashlib.sha512).digest()[:32]
    assert raw[16:48] == iv
    assert len(raw) == 48 + len(name.encode())
    other_bucket = "ffffffffffffffffffffffff"
    assert crypto.encrypt_file_name(MNEMONIC, other_bucket, name) != encrypted
    assert crypto.decrypt_file_name(MNEMONIC, other_bucket, encrypted) is None


def test_encrypt_meta_layout():
    key, iv = bytes(range(32)), bytes(range(32, 64))
    out = base64.b64decode(crypto.encrypt_meta(key, iv, b"hello"))
    assert out[16:48] == iv and len(out) == 53
    assert crypto.decrypt_meta(key, crypto.encrypt_meta(key, iv, b"hello")) == b"hello"


def test_empty_name_rejected():
    with pytest.raises(ValueError):
        crypto.encrypt_bucket_name(MNEMONIC, "")


def test_name_functions_validate_the_mnemonic():
    with pytest.raises(EncryptionKeyError):
        crypto.encrypt_bucket_name("abandon " * 12, "x")


# ---------------------------------------------------------------- EncryptionKey


def test_encryption_key():
    key = crypto.EncryptionKey("  " + MNEMONIC + "\n")
    assert key.mnemonic == MNEMONIC
    assert key.seed.hex() == SEED_HEX
    assert key.bucket_key(BUCKET_ID).hex() == BUCKET_KEY
    assert key.file_key(BUCKET_ID, INDEX).hex() == FILE_KEY
    assert key.encrypt_bucket_name("test") == ENCRYPTED_TEST
    assert key.decrypt_bucket_name(ENCRYPTED_TEST) == "test"
    assert crypto.decrypt_bucket_name(key, ENCRYPTED_TEST) == "test"
    enc_name = key.encrypt_file_name(BUCKET_ID, "a.txt")
    assert key.decrypt_file_name(BUCKET_ID, enc_name) == "a.txt"
    assert key.file_encryption(BUCKET_ID, index=INDEX).key.hex() == FILE_KEY
    v0 = key.file_encryption(BUCKET_ID, file_id="852b6c9a0ba914a31e301a4b")
    assert v0.version == 0
    with pytest.raises(ValueError):
        key.file_encryption(BUCKET_ID)
    assert key == crypto.EncryptionKey(MNEMONIC)
    assert key != crypto.EncryptionKey.generate()
    assert hash(key) == hash(crypto.EncryptionKey(MNEMONIC))


def test_encryption_key_never_shows_the_secret():
    key = crypto.EncryptionKey(MNEMONIC)
    for text in (repr(key), str(key), f"{key}"):
        assert "abandon" not in text and SEED_HEX[:16] not in text
    assert "12 words" in repr(key)


def test_encryption_key_invalid():
    with pytest.raises(EncryptionKeyError):
        crypto.EncryptionKey(BAD_CHECKSUM[0])
