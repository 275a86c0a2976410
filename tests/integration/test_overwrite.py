"""Replacing a stored file never loses it: ``upload_file(overwrite=True)``, ``storj cp -f``
and ``storj upload-file --force`` against a real local network on loopback.

The rule under test: the old version stays under its name until the new version's
shards are stored; the swap is then metadata only (one ``POST /buckets/:id/files
{"overwrite": true}`` on the local Bridge; delete + create on a Bridge without the
extension), and a failure at any point leaves a complete version under the name.

Bridge traffic goes through a :class:`~storj.local.faults.FaultProxy` whose single rule
(:class:`Script`) logs every request and can fail chosen ones, or make the Bridge look
like one that does not know the extension (the field stripped; the duplicate answered
409, or 500 ``E11000`` as the 2018 Bridge does). Farmers are made to fail with a
:class:`~storj.local.faults.FaultInjector`.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from click.testing import CliRunner

from storj import crypto
from storj.cli import cli
from storj.exception import (
    BridgeServerError,
    ConflictError,
    OverwriteError,
    TransferCancelledError,
    TransferError,
)
from storj.http import Client
from storj.local import LocalNetwork
from storj.local.faults import FaultContext, FaultInjector, FaultProxy, Scenario, Status
from storj.transfer import TransferConfig

pytestmark = pytest.mark.integration

MNEMONIC = "abandon " * 11 + "about"
ENTRY_POST = r"^/buckets/[0-9a-f]{24}/files$"
ENTRY_DELETE = r"^/buckets/[0-9a-f]{24}/files/[0-9a-f]{24}$"
#: What the 2018 Bridge answers for a duplicate file name (Mongo's unique index).
E11000 = "E11000 duplicate key error collection: storj.bucketentries index: bucket_1_name_1"

Action = Callable[[FaultContext], Iterable[bytes]]


# ----------------------------------------------------------------------------- tooling


class Script(Scenario):
    """Pass every request on to the Bridge, logging it; chosen ones get an action instead.

    ``log`` holds ``(method, path, what)`` for every request, ``what`` being
    ``"forwarded"`` or the name of the action that took it.
    """

    name = "script"

    def __init__(self) -> None:
        self.log: list[tuple[str, str, str]] = []
        self._actions: list[dict] = []
        self._lock = threading.Lock()

    def on(self, method: str, pattern: str, action: Action, *, times: int | None = None,
           label: str = "action") -> None:
        with self._lock:
            self._actions.append(
                {"method": method, "re": re.compile(pattern), "action": action,
                 "left": times, "label": label}
            )

    def _take(self, method: str, path: str) -> dict | None:
        with self._lock:
            for rule in self._actions:
                if rule["method"] != method or not rule["re"].search(path):
                    continue
                if rule["left"] is not None:
                    if rule["left"] <= 0:
                        continue
                    rule["left"] -= 1
                return rule
        return None

    def run(self, ctx: FaultContext) -> Iterable[bytes]:
        method = str(ctx.environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(ctx.environ.get("PATH_INFO", ""))
        rule = self._take(method, path)
        with self._lock:
            self.log.append((method, path, rule["label"] if rule else "forwarded"))
        if rule is None:
            return ctx.app(ctx.environ, ctx.start_response)
        return rule["action"](ctx)

    def seen(self, method: str, pattern: str, what: str | None = None) -> list[str]:
        """Paths of the logged requests matching ``method``, ``pattern`` (and ``what``)."""
        with self._lock:
            return [
                p for m, p, w in self.log
                if m == method and re.search(pattern, p) and (what is None or w == what)
            ]


class Call(Scenario):
    """Run ``callback``, then let the request through (a farmer rule)."""

    name = "call"

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback

    def run(self, ctx: FaultContext) -> Iterable[bytes]:
        self.callback()
        return ctx.app(ctx.environ, ctx.start_response)


def status(code: int, message: str | None = None) -> Action:
    return Status(code, message).run


def forwarded_then(code: int) -> Action:
    """The Bridge acts, then the answer is lost (replaced by ``code``)."""

    def action(ctx: FaultContext) -> Iterable[bytes]:
        _, body = ctx.call_app()
        b"".join(body)
        return Status(code, "answer lost").run(ctx)

    return action


def forwarded_after(callback: Callable[[], object]) -> Action:
    """Run ``callback``, then let the request through to the Bridge."""

    def action(ctx: FaultContext) -> Iterable[bytes]:
        callback()
        return ctx.app(ctx.environ, ctx.start_response)

    return action


def without_extension(duplicate: str = "409") -> Action:
    """A Bridge that does not know ``overwrite``: the field is dropped before the Bridge
    sees the body; a duplicate name is answered 409 (``"409"``) or, like the 2018
    Bridge, 500 with Mongo's E11000 message (``"E11000"``)."""

    def action(ctx: FaultContext) -> Iterable[bytes]:
        environ = ctx.environ
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        body.pop("overwrite", None)
        raw = json.dumps(body).encode()
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        environ.pop("wsgi.input_terminated", None)
        captured, answer = ctx.call_app()
        payload = b"".join(answer)
        assert captured.status is not None
        if captured.status.startswith("409") and duplicate == "E11000":
            return Status(500, E11000).run(ctx)
        headers = [(k, v) for k, v in captured.headers if k.lower() != "content-length"]
        ctx.start_response(captured.status, [*headers, ("Content-Length", str(len(payload)))])
        return [payload]

    return action


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    with LocalNetwork(tmp_path_factory.mktemp("overwrite-net"), farmers=4) as net:
        yield net


@pytest.fixture
def script(network):
    """The Bridge behind a proxy running :class:`Script`; yields ``(script, proxy_url)``."""
    script = Script()
    with FaultProxy(network.bridge_url, seed=11) as proxy:
        proxy.faults.add(script)
        yield script, proxy.url


@pytest.fixture
def farmer_faults(network):
    """A fault injector every farmer runs its requests through (removed afterwards)."""
    faults = FaultInjector(seed=3)
    for farmer in network.farmers:
        farmer.set_faults(faults)
    try:
        yield faults
    finally:
        faults.clear()
        for farmer in network.farmers:
            farmer.set_faults(None)


class Env:
    """A user, a client (through the proxy), a bucket and files to upload."""

    def __init__(self, network: LocalNetwork, api_url: str, tmp_path: Path) -> None:
        self.email, self.password = network.create_user()
        self.client = Client(self.email, self.password, api_url=api_url, encryption_key=MNEMONIC)
        self.direct = Client(
            self.email, self.password, api_url=network.bridge_url, encryption_key=MNEMONIC
        )
        self.key = crypto.EncryptionKey(MNEMONIC)
        self.bucket = self.direct.bucket_create("replace").id
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir()
        self.root = tmp_path

    def config(self, **options) -> TransferConfig:
        return TransferConfig(tmp_dir=self.tmp, **options)

    def source(self, name: str, size: int, seed: int) -> tuple[Path, bytes]:
        data = random.Random(seed).randbytes(size)
        path = self.root / name
        path.write_bytes(data)
        return path, data

    def file_id(self, name: str) -> str:
        return self.direct.file_id_by_name(
            self.bucket, crypto.encrypt_file_name(self.key, self.bucket, name)
        )

    def stored(self, name: str) -> bytes:
        """The bytes stored under ``name`` (downloaded directly from the Bridge)."""
        out = io.BytesIO()
        self.direct.download_file(self.bucket, self.file_id(name), out, config=self.config())
        return out.getvalue()

    def frame_of(self, name: str) -> str:
        return frame_id_of(self.direct.file_metadata(self.bucket, self.file_id(name)))

    def names(self) -> list[str]:
        return sorted(f.name for f in self.direct.bucket_files(self.bucket))


@pytest.fixture
def env(network, script, tmp_path):
    _, url = script
    env = Env(network, url, tmp_path)
    try:
        yield env
    finally:
        env.client.close()
        env.direct.close()


def frame_id_of(entry) -> str:
    frame = entry.frame
    return frame if isinstance(frame, str) else frame.id


def upload(env: Env, path: Path, name: str, **options):
    config = options.pop("config", None) or env.config()
    return env.client.upload_file(env.bucket, path, name=name, config=config, **options)


# --------------------------------------------------------------------- Python API: our Bridge


def test_overwrite_replaces_the_entry_in_one_call(env, script):
    log, _ = script
    old_path, _ = env.source("old.bin", 70_000, 1)
    upload(env, old_path, "doc.bin")
    old_id, old_frame = env.file_id("doc.bin"), env.frame_of("doc.bin")
    new_path, new = env.source("new.bin", 3 * 1024 * 1024 + 5, 2)  # with parity shards

    entry = upload(env, new_path, "doc.bin", overwrite=True)

    assert entry.id == old_id and frame_id_of(entry) != old_frame
    assert env.stored("doc.bin") == new
    assert env.names() == ["doc.bin"]
    assert log.seen("DELETE", ENTRY_DELETE) == []
    assert len(log.seen("POST", ENTRY_POST)) == 2  # the first upload and the swap
    # the old frame stays for garbage collection; nothing was deleted here
    assert env.direct.frame_get(old_frame).id == old_frame


def test_overwrite_of_a_new_name_is_a_plain_upload(env):
    path, data = env.source("a.bin", 1000, 3)
    upload(env, path, "fresh.bin", overwrite=True)
    assert env.stored("fresh.bin") == data


def test_without_overwrite_an_existing_name_is_refused(env):
    path, data = env.source("a.bin", 1000, 4)
    upload(env, path, "taken.bin")
    other, _ = env.source("b.bin", 2000, 5)
    with pytest.raises(ConflictError, match="already exists"):
        upload(env, other, "taken.bin")
    assert env.stored("taken.bin") == data


def test_cancelled_replacement_keeps_the_old_file(env, script, farmer_faults):
    log, _ = script
    old_path, old = env.source("old.bin", 50_000, 6)
    upload(env, old_path, "keep.bin")
    frame = env.frame_of("keep.bin")
    new_path, _ = env.source("new.bin", 5 * 1024 * 1024, 7)
    cancel = threading.Event()
    # cancelled while the first shard reaches a farmer (i.e. half-way, before the swap)
    farmer_faults.add(Call(cancel.set), path=r"^/shards/", methods=["POST"], times=1)
    with pytest.raises(TransferCancelledError):
        upload(env, new_path, "keep.bin", overwrite=True, cancel=cancel,
               config=env.config(shard_concurrency=1))
    assert farmer_faults.injected["call"] == 1
    assert log.seen("POST", ENTRY_POST) == [f"/buckets/{env.bucket}/files"]  # the first upload
    assert env.frame_of("keep.bin") == frame
    assert env.stored("keep.bin") == old
    assert log.seen("DELETE", ENTRY_DELETE) == []


def test_replacement_failing_at_the_farmers_keeps_the_old_file(env, farmer_faults):
    old_path, old = env.source("old.bin", 40_000, 8)
    upload(env, old_path, "farm.bin")
    farmer_faults.add(Status(500), path=r"^/shards/", methods=["POST"])
    new_path, _ = env.source("new.bin", 40_000, 9)
    with pytest.raises(TransferError):
        upload(env, new_path, "farm.bin", overwrite=True, config=env.config(max_push_attempts=2))
    farmer_faults.clear()
    assert env.stored("farm.bin") == old
    assert env.names() == ["farm.bin"]


def test_a_failed_swap_keeps_the_old_file(env, script):
    log, _ = script
    old_path, old = env.source("old.bin", 30_000, 10)
    upload(env, old_path, "swap.bin")
    frame = env.frame_of("swap.bin")
    log.on("POST", ENTRY_POST, status(503), label="503")
    new_path, _ = env.source("new.bin", 30_000, 11)
    with pytest.raises(BridgeServerError):
        upload(env, new_path, "swap.bin", overwrite=True, config=env.config(bridge_attempts=2))
    assert len(log.seen("POST", ENTRY_POST, "503")) == 2
    assert log.seen("DELETE", ENTRY_DELETE) == []
    assert env.names() == ["swap.bin"]
    assert env.frame_of("swap.bin") == frame
    assert env.stored("swap.bin") == old


def test_a_swap_whose_answer_was_lost_is_recovered(env, script):
    log, _ = script
    old_path, _ = env.source("old.bin", 30_000, 12)
    upload(env, old_path, "lost.bin")
    log.on("POST", ENTRY_POST, forwarded_then(500), times=1, label="lost")
    new_path, new = env.source("new.bin", 30_000, 13)
    entry = upload(env, new_path, "lost.bin", overwrite=True)
    assert frame_id_of(entry) == env.frame_of("lost.bin")
    assert env.stored("lost.bin") == new
    assert log.seen("DELETE", ENTRY_DELETE) == []


# ------------------------------------------------- Python API: a Bridge without the extension


@pytest.mark.parametrize("duplicate", ["409", "E11000"])
def test_fallback_deletes_then_creates(env, script, duplicate):
    log, _ = script
    old_path, _ = env.source("old.bin", 20_000, 14)
    upload(env, old_path, "legacy.bin")
    log.on("POST", ENTRY_POST, without_extension(duplicate), label="legacy")
    new_path, new = env.source("new.bin", 20_000, 15)

    entry = upload(env, new_path, "legacy.bin", overwrite=True)

    assert env.stored("legacy.bin") == new
    assert env.names() == ["legacy.bin"]
    steps = [(m, w) for m, p, w in log.log if re.search(ENTRY_POST + "|" + ENTRY_DELETE, p)]
    # first upload, the refused replacement, the delete, the create
    assert steps[-3:] == [("POST", "legacy"), ("DELETE", "forwarded"), ("POST", "legacy")]
    assert log.seen("DELETE", ENTRY_DELETE) == [f"/buckets/{env.bucket}/files/{entry.id}"]


def test_fallback_retries_a_failed_create_and_ignores_cancel_after_the_delete(env, script):
    log, _ = script
    old_path, _ = env.source("old.bin", 20_000, 16)
    upload(env, old_path, "retry.bin")
    cancel = threading.Event()
    log.on("POST", ENTRY_POST, without_extension(), times=1, label="legacy")
    log.on("DELETE", ENTRY_DELETE, forwarded_after(cancel.set), label="delete")
    log.on("POST", ENTRY_POST, status(502), times=2, label="502")
    new_path, new = env.source("new.bin", 20_000, 17)
    upload(env, new_path, "retry.bin", overwrite=True, cancel=cancel)
    assert cancel.is_set()  # set once the old entry was gone: finishing is what counts
    assert env.stored("retry.bin") == new
    assert len(log.seen("POST", ENTRY_POST, "502")) == 2


def test_fallback_create_failing_for_good_names_the_frame(env, script):
    log, _ = script
    old_path, _ = env.source("old.bin", 20_000, 18)
    upload(env, old_path, "gone.bin")
    log.on("POST", ENTRY_POST, without_extension(), times=1, label="legacy")
    log.on("POST", ENTRY_POST, status(500), label="500")
    new_path, new = env.source("new.bin", 20_000, 19)

    with pytest.raises(OverwriteError) as caught:
        upload(env, new_path, "gone.bin", overwrite=True, config=env.config(bridge_attempts=3))
    error = caught.value
    assert len(log.seen("POST", ENTRY_POST, "500")) == 3
    assert error.frame_id and error.frame_id in str(error)
    assert "was deleted" in str(error) and "'gone.bin'" in str(error)
    assert error.bucket_id == env.bucket
    with pytest.raises(Exception):  # noqa: B017 - the name is empty now (documented window)
        env.file_id("gone.bin")
    # the frame holding the new data was kept: the entry can be made from it
    assert env.direct.frame_get(error.frame_id).id == error.frame_id
    env.direct.bucket_entry_create(
        env.bucket, error.frame_id, error.filename, **error.entry_fields
    )
    assert env.stored("gone.bin") == new


def test_fallback_delete_failing_whose_effect_happened_still_creates(env, script):
    """The DELETE's answers are lost although the Bridge deleted the entry: the create
    goes ahead and succeeds (the name is free)."""
    log, url = script
    old_path, _ = env.source("old.bin", 20_000, 28)
    upload(env, old_path, "half.bin")
    log.on("POST", ENTRY_POST, without_extension(), label="legacy")
    log.on("DELETE", ENTRY_DELETE, forwarded_then(500), times=1, label="lost")
    log.on("DELETE", ENTRY_DELETE, status(500), label="500")
    new_path, new = env.source("new.bin", 20_000, 29)
    with Client(env.email, env.password, api_url=url, encryption_key=MNEMONIC,
                retries=0) as client:
        client.upload_file(env.bucket, new_path, name="half.bin", overwrite=True,
                           config=env.config(bridge_attempts=2))
    assert len(log.seen("DELETE", ENTRY_DELETE)) == 2
    assert env.stored("half.bin") == new


def test_fallback_delete_refused_keeps_the_old_file(env, script):
    """The DELETE never reaches the Bridge: the create is refused (name taken), so the
    old version is known to be intact; the DELETE's error is raised."""
    log, url = script
    old_path, old = env.source("old.bin", 20_000, 30)
    upload(env, old_path, "stay.bin")
    frames = {f.id for f in env.direct.frame_list()}
    log.on("POST", ENTRY_POST, without_extension(), label="legacy")
    log.on("DELETE", ENTRY_DELETE, status(503), label="503")
    new_path, _ = env.source("new.bin", 20_000, 31)
    with Client(env.email, env.password, api_url=url, encryption_key=MNEMONIC,
                retries=0) as client, pytest.raises(BridgeServerError) as caught:
        client.upload_file(env.bucket, new_path, name="stay.bin", overwrite=True,
                           config=env.config(bridge_attempts=2))
    assert caught.value.method == "DELETE"
    assert env.stored("stay.bin") == old
    assert {f.id for f in env.direct.frame_list()} == frames  # the new frame was cleaned up


# ---------------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_env(env, script, monkeypatch):
    """Environment variables for the CLI: the proxied Bridge, ``env``'s user and key."""
    _, url = script
    home = env.root / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("STORJ_BRIDGE", url)
    monkeypatch.setenv("STORJ_BRIDGE_USER", env.email)
    monkeypatch.setenv("STORJ_BRIDGE_PASS", env.password)
    monkeypatch.setenv("STORJ_ENCRYPTION_KEY", MNEMONIC)
    monkeypatch.setenv("STORJ_LOCAL_DATA", str(env.root / "embedded"))
    return env


def run(*args: str, expect: int = 0):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
    return result


def cli_upload(env: Env, command: str, path: Path, name: str, *flags: str, expect: int = 0):
    if command == "cp":
        return run("-q", "cp", *flags, str(path), f"storj://replace/{name}", expect=expect)
    return run("-q", "upload-file", *flags, "--name", name, env.bucket, str(path), expect=expect)


@pytest.mark.parametrize("command", ["cp", "upload-file"])
def test_cli_force_keeps_the_old_file_when_the_upload_fails(cli_env, farmer_faults, command):
    env = cli_env
    old_path, old = env.source("old.txt", 25_000, 20)
    cli_upload(env, command, old_path, "report.txt")
    farmer_faults.add(Status(500), path=r"^/shards/", methods=["POST"])
    new_path, _ = env.source("new.txt", 25_000, 21)
    failed = cli_upload(env, command, new_path, "report.txt", "-f", expect=1)
    assert failed.stderr.startswith("Error: ") and "Traceback" not in failed.output
    farmer_faults.clear()
    assert env.names() == ["report.txt"]
    assert env.stored("report.txt") == old
    out = env.root / "back.txt"
    run("-q", "cp", "storj://replace/report.txt", str(out))
    assert out.read_bytes() == old


@pytest.mark.parametrize("command", ["cp", "upload-file"])
def test_cli_force_replaces_without_deleting_first(cli_env, script, command):
    env = cli_env
    log, _ = script
    old_path, _ = env.source("old.txt", 25_000, 22)
    cli_upload(env, command, old_path, "report.txt")
    new_path, new = env.source("new.txt", 26_000, 23)
    cli_upload(env, command, new_path, "report.txt", "--force")
    assert log.seen("DELETE", ENTRY_DELETE) == []
    assert env.names() == ["report.txt"]
    assert env.stored("report.txt") == new


def test_cli_force_keeps_the_old_file_when_the_swap_fails(cli_env, script):
    env = cli_env
    log, _ = script
    old_path, old = env.source("old.txt", 25_000, 24)
    cli_upload(env, "cp", old_path, "report.txt")
    log.on("POST", ENTRY_POST, status(500), label="500")
    new_path, _ = env.source("new.txt", 25_000, 25)
    failed = cli_upload(env, "cp", new_path, "report.txt", "-f", expect=1)
    assert "the Bridge failed (500" in failed.stderr
    assert env.stored("report.txt") == old


def test_cli_force_replaces_a_file_stored_under_a_plaintext_name(cli_env, script):
    """A file another tool stored with a plaintext name has another id than the one the
    CLI writes: it is removed only after the new version is stored."""
    env = cli_env
    log, _ = script
    frame = env.direct.frame_create()
    plain = env.direct.bucket_entry_create(env.bucket, frame.id, "notes.txt", "text/plain")
    assert env.names() == ["notes.txt"]
    new_path, new = env.source("new.txt", 10_000, 26)
    cli_upload(env, "cp", new_path, "notes.txt", "-f")
    assert env.names() == ["notes.txt"]
    assert env.file_id("notes.txt") != plain.id
    assert env.stored("notes.txt") == new
    deleted = log.seen("DELETE", ENTRY_DELETE)
    assert deleted == [f"/buckets/{env.bucket}/files/{plain.id}"]
    posts = [i for i, (m, p, _) in enumerate(log.log) if m == "POST" and re.search(ENTRY_POST, p)]
    removal = next(i for i, (m, p, _) in enumerate(log.log) if m == "DELETE")
    assert posts and posts[-1] < removal  # created before the old one was removed


def test_source_file_unreadable_leaves_the_old_file(cli_env):
    env = cli_env
    old_path, old = env.source("old.txt", 5_000, 27)
    cli_upload(env, "cp", old_path, "report.txt")
    missing = env.root / "missing.txt"
    cli_upload(env, "cp", missing, "report.txt", "-f", expect=1)
    assert env.stored("report.txt") == old
    assert not os.path.exists(missing)
