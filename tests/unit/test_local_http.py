"""storj.local._http.Deadlines: the shared timer behind the request-head deadline."""

from __future__ import annotations

import threading

from storj.local._http import Deadlines
from tests.helpers import WAIT_TIMEOUT


def test_actions_run_in_deadline_order():
    deadlines = Deadlines()
    order: list[str] = []
    done = threading.Event()
    # far apart: the order holds even if the second call comes much later on a busy machine
    deadlines.call_later(1.0, lambda: (order.append("late"), done.set()))
    deadlines.call_later(0.01, lambda: order.append("early"))
    assert done.wait(WAIT_TIMEOUT)
    assert order == ["early", "late"]


def test_a_cancelled_action_never_runs():
    deadlines = Deadlines()
    ran: list[str] = []
    done = threading.Event()
    # cancelled long before it is due, even on a busy machine; it is due before the kept
    # one, so once that one has run, the cancelled one would have run before it
    entry = deadlines.call_later(0.5, lambda: ran.append("cancelled"))
    deadlines.call_later(1.0, lambda: (ran.append("kept"), done.set()))
    deadlines.cancel(entry)
    deadlines.cancel(entry)  # twice is harmless
    assert done.wait(WAIT_TIMEOUT)
    assert ran == ["kept"]


def test_a_failing_action_does_not_stop_the_others():
    deadlines = Deadlines()
    done = threading.Event()

    def boom() -> None:
        raise RuntimeError("boom")

    deadlines.call_later(0.01, boom)
    deadlines.call_later(0.03, done.set)
    assert done.wait(WAIT_TIMEOUT)


def test_many_cancelled_entries_are_compacted():
    deadlines = Deadlines()
    entries = [deadlines.call_later(60, lambda: None) for _ in range(3000)]
    for entry in entries:
        deadlines.cancel(entry)
    assert len(deadlines._heap) < 1100
    done = threading.Event()
    deadlines.call_later(0.01, done.set)
    assert done.wait(WAIT_TIMEOUT)
