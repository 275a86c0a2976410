"""storj.local._http.Deadlines: the shared timer behind the request-head deadline."""

from __future__ import annotations

import threading
import time

from storj.local._http import Deadlines


def test_actions_run_in_deadline_order():
    deadlines = Deadlines()
    order: list[str] = []
    done = threading.Event()
    deadlines.call_later(0.15, lambda: (order.append("late"), done.set()))
    deadlines.call_later(0.05, lambda: order.append("early"))
    assert done.wait(2)
    assert order == ["early", "late"]


def test_a_cancelled_action_never_runs():
    deadlines = Deadlines()
    ran: list[str] = []
    done = threading.Event()
    entry = deadlines.call_later(0.05, lambda: ran.append("cancelled"))
    deadlines.call_later(0.1, lambda: (ran.append("kept"), done.set()))
    deadlines.cancel(entry)
    deadlines.cancel(entry)  # twice is harmless
    assert done.wait(2)
    time.sleep(0.05)
    assert ran == ["kept"]


def test_a_failing_action_does_not_stop_the_others():
    deadlines = Deadlines()
    done = threading.Event()

    def boom() -> None:
        raise RuntimeError("boom")

    deadlines.call_later(0.01, boom)
    deadlines.call_later(0.03, done.set)
    assert done.wait(2)


def test_many_cancelled_entries_are_compacted():
    deadlines = Deadlines()
    entries = [deadlines.call_later(60, lambda: None) for _ in range(3000)]
    for entry in entries:
        deadlines.cancel(entry)
    assert len(deadlines._heap) < 1100
    done = threading.Event()
    deadlines.call_later(0.01, done.set)
    assert done.wait(2)
