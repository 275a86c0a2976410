"""Small pieces shared by the upload and download engines."""

from __future__ import annotations

import copy
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from dataclasses import replace
from typing import Any, TypeVar

from storj._retry import RetryPolicy, never_sent
from storj.crypto import EncryptionKey
from storj.exception import (
    BridgeError,
    BridgeServerError,
    BridgeTransportError,
    EncryptionKeyError,
    StorjError,
)
from storj.transfer.config import TransferConfig
from storj.transfer.farmer_client import _get
from storj.transfer.progress import Abort, Aborted, ProgressMeter

__all__ = [
    "SUCCESS",
    "FAILURE",
    "ReportQueue",
    "bridge_client",
    "bridge_retry",
    "encryption_key_of",
    "field",
    "now_ms",
    "reporter_id",
    "send_report",
    "wait_all",
]

log = logging.getLogger("storj.transfer")

T = TypeVar("T")

#: Exchange report result codes (``bridge-protocol.md`` §4.10).
SUCCESS = 1000
FAILURE = 1100

#: Seconds the caller's thread sleeps between two looks at workers, progress and cancel.
TICK = 0.05

field = _get


def now_ms() -> int:
    """Milliseconds since the epoch (exchange report timestamps)."""
    return int(time.time() * 1000)


def encryption_key_of(client: Any) -> EncryptionKey:
    """The client's :class:`~storj.crypto.EncryptionKey` (its BIP39 mnemonic).

    :raises EncryptionKeyError: the client has no key or an invalid one.
    """
    key = getattr(client, "encryption_key", None)
    if isinstance(key, EncryptionKey):
        return key
    if not key:
        raise EncryptionKeyError(
            "files are encrypted with a BIP39 mnemonic and this client has none: pass "
            "Client(..., encryption_key='<12-24 words>') or set STORJ_ENCRYPTION_KEY "
            "(make one with storj.crypto.generate_mnemonic())"
        )
    return EncryptionKey(str(key))


def reporter_id(client: Any) -> str:
    """Who the exchange reports come from: the user's email (or public key)."""
    return str(getattr(client, "email", None) or getattr(client, "public_key_hex", None) or "")


def retry_policy_of(client: Any) -> RetryPolicy:
    """The :class:`~storj.http.RetryPolicy` the client's Bridge requests use."""
    policy = getattr(client, "retry_policy", None)
    return policy if isinstance(policy, RetryPolicy) else RetryPolicy()


def bridge_client(client: Any, config: TransferConfig) -> Any:
    """The client a transfer sends its Bridge requests with.

    The client itself, unless ``config.bridge_attempts`` is set (its pre-issue-14 knob):
    then a shallow copy sharing the session and keys whose policy allows
    ``bridge_attempts - 1`` retries, so every Bridge request of this transfer is tried at
    most ``bridge_attempts`` times.
    """
    if config.bridge_attempts is None or not isinstance(
        getattr(client, "retry_policy", None), RetryPolicy
    ):
        return client
    view = copy.copy(client)
    view.retry_policy = replace(client.retry_policy, total=config.bridge_attempts - 1)
    if hasattr(view, "_owns_session"):
        view._owns_session = False  # the session stays the caller's client's
    return view


def _worth_repeating(exc: BridgeError, policy: RetryPolicy) -> bool:
    """A 5xx of the policy's list, or a connection failure the client did not repeat."""
    if isinstance(exc, BridgeServerError):
        return exc.status_code is None or exc.status_code in policy.status_forcelist
    return isinstance(exc, BridgeTransportError) and not never_sent(exc.__cause__)


def bridge_retry(
    what: str,
    call: Callable[[], T],
    *,
    client: Any,
    abort: Abort | None = None,
    repeat: Callable[[BridgeError], bool] | None = None,
) -> T:
    """Run a Bridge request the client does not repeat itself, under the client's policy.

    For the two requests of a transfer that are not idempotent but that the engine knows
    how to repeat (``PUT /frames/:id``, ``POST /buckets/:id/files``): on a 5xx answer of
    the policy's ``status_forcelist`` or a connection failure after the request may have
    been sent (what the client does not repeat for such a request), the call is made
    again, at most :attr:`RetryPolicy.attempts <storj.http.RetryPolicy.attempts>` times in
    all, waiting the policy's backoff in between (waking early when aborted). 429 answers
    and connections that never reached the Bridge were already repeated by the client,
    under the same policy. ``repeat(exc)``, when given, must also agree. Every other
    Bridge request of a transfer is made once here and repeated by the client alone.
    """
    policy = retry_policy_of(client)
    sleep: Callable[[float], None] = getattr(client, "_sleep", time.sleep)
    while True:
        if abort is not None:
            abort.check()
        try:
            return call()
        except (BridgeServerError, BridgeTransportError) as exc:
            if not (
                policy.can_retry()
                and _worth_repeating(exc, policy)
                and (repeat is None or repeat(exc))
            ):
                raise
            delay = policy.delay()
            log.info(
                "%s failed (%s); retry %d of %d in %.2f s",
                what,
                exc,
                policy.retries_made + 1,
                policy.total,
                delay,
            )
            policy = policy.increment(str(exc.status_code or type(exc).__name__))
            if abort is not None:
                if abort.wait(delay):
                    raise Aborted() from exc
            elif delay > 0:
                sleep(delay)


def send_report(client: Any, report: dict[str, Any], enabled: bool = True) -> None:
    """Send an exchange report (``POST /reports/exchanges``), two tries, never raising."""
    if not enabled:
        return
    for _ in range(2):
        try:
            client.exchange_report_send(report)
            return
        except StorjError as exc:
            log.debug("exchange report for %s not sent: %s", report.get("dataHash"), exc)
        except Exception as exc:  # noqa: BLE001 - a report must never fail a transfer
            log.debug("exchange report for %s not sent: %r", report.get("dataHash"), exc)
            return


class ReportQueue:
    """Exchange reports sent in order by one background thread.

    A shard worker hands its report over and goes on with its next shard instead of
    waiting for ``POST /reports/exchanges`` (one Bridge round trip per shard).
    :meth:`close` waits until every report handed over has been sent (or given up,
    as :func:`send_report` does), so a transfer still returns only after its reports.
    With ``enabled`` false nothing is sent.
    """

    def __init__(self, client: Any, enabled: bool = True) -> None:
        self.client = client
        self.enabled = enabled
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, report: dict[str, Any]) -> None:
        """Queue ``report`` (starts the sending thread on first use)."""
        if not self.enabled:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="storj-reports", daemon=True
                )
                self._thread.start()
        self._queue.put(report)

    def _run(self) -> None:
        while (report := self._queue.get()) is not None:
            send_report(self.client, report)

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued, then stop the thread (waits at most ``timeout`` s)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)


def make_report(
    client: Any, shard_hash: str, node_id: str | None, start: int, success: bool, message: str
) -> dict[str, Any]:
    """An exchange report body (§4.10) from this client about one farmer transfer."""
    who = reporter_id(client)
    report: dict[str, Any] = {
        "dataHash": shard_hash,
        "reporterId": who,
        "clientId": who,
        "exchangeStart": start,
        "exchangeEnd": now_ms(),
        "exchangeResultCode": SUCCESS if success else FAILURE,
        "exchangeResultMessage": message,
    }
    if node_id:
        report["farmerId"] = node_id
    return report


def result_of(future: Future[T], poll: Callable[[], None]) -> T:
    """Wait for ``future`` in the caller's thread, calling ``poll()`` (progress, cancel;
    it may raise) before each wait of up to :data:`TICK` seconds."""
    while True:
        poll()
        try:
            return future.result(timeout=TICK)
        except TimeoutError:
            continue


def wait_all(
    futures: list[Future[Any]],
    abort: Abort,
    meter: ProgressMeter,
    *,
    more: Callable[[], list[Future[Any]]] | None = None,
) -> None:
    """Wait in the caller's thread for ``futures``, reporting progress and watching cancel.

    The first failure aborts the others and is raised (an :class:`Aborted` worker
    raises the abort's reason instead).
    """
    pending = set(futures)
    while True:
        if more is not None:
            pending.update(more())
        if not pending:
            return
        done, pending = wait(pending, timeout=TICK, return_when=FIRST_EXCEPTION)
        meter.poll()
        if abort.poll_cancel():
            raise Aborted()
        for future in done:
            exc = future.exception()
            if exc is not None:
                if not isinstance(exc, Aborted):
                    abort.set(exc)
                raise Aborted()
