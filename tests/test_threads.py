"""Tests for streamdash.threads: the Service protocol, ThreadRunner and the Background base."""

import threading

from streamdash.threads import Background, Service, ThreadRunner
from tests.helpers import within


def ticker(name="ticker"):
    """A runner whose loop ticks every 10 ms until stopped (the ticks list shows it ran)."""
    ticks = []
    runner: ThreadRunner

    def loop():
        while not runner.stopping.wait(0.01):
            ticks.append(1)

    runner = ThreadRunner(name, loop)
    return runner, ticks


def named(name):
    """The live threads called ``streamdash-<name>``."""
    return [t for t in threading.enumerate() if t.name == f"streamdash-{name}"]


def test_start_is_idempotent_and_stop_ends_the_loop():
    """A second start() while running starts no second thread; stop() ends and joins it."""
    runner, _ = ticker()
    assert runner.join(0.1) and not runner.alive  # never started
    runner.start()
    first = named("ticker")
    runner.start()
    assert len(first) == 1 and named("ticker") == first
    assert runner.stop(within(2)) and not runner.alive
    runner.start()  # restartable after a stop
    assert runner.alive
    assert runner.stop(within(2))


def test_stop_is_idempotent_and_true_when_never_started():
    """stop() of a runner that never started, or already stopped, returns True at once."""
    runner, _ = ticker("idle")
    assert runner.stop(0) is True
    runner.start()
    assert runner.stop(within(2)) is True
    assert runner.stop(0) is True and not runner.alive


def test_stop_returns_false_when_the_thread_overstays():
    """A loop that ignores the stop event for longer than the timeout makes stop() False."""
    release = threading.Event()
    runner = ThreadRunner("stubborn", lambda: release.wait(30))
    runner.start()
    assert runner.stop(0.05) is False and runner.alive
    release.set()
    assert runner.stop(within(2)) is True  # asked again: now it has ended


def test_join_from_the_thread_itself_answers_false_instead_of_raising():
    """A loop stopping its own runner gets False (it cannot wait for itself), not an error."""
    answers = []
    runner: ThreadRunner
    runner = ThreadRunner("self-stop", lambda: answers.append(runner.stop(1)))
    runner.start()
    assert runner.join(within(2)) and answers == [False]


def test_the_context_manager_starts_and_stops_the_thread():
    """``with runner:`` runs the thread inside the block and has joined it after."""
    runner, _ = ticker("managed")
    with runner as same:
        assert same is runner and runner.alive
    assert not runner.alive and named("managed") == []


class Loop(Background):
    """A Background whose loop counts its rounds until stopped."""

    def __init__(self):
        self.rounds = 0
        self._runner = ThreadRunner("loop", self._run)

    def _run(self):
        while not self._runner.stopping.wait(0.01):
            self.rounds += 1


def test_background_follows_the_service_protocol():
    """A Background is a Service: idempotent start, stop joins and says it ended in time."""
    loop = Loop()
    assert isinstance(loop, Service) and isinstance(ThreadRunner("x", lambda: None), Service)
    with loop:
        loop.start()
        assert len(named("loop")) == 1
    assert not loop.alive and loop.stop() is True


def test_request_stop_returns_at_once_and_join_waits():
    """request_stop() only asks; join() then waits for the loop to end."""
    release = threading.Event()
    loop = Loop()
    loop._runner.target = lambda: release.wait(30)
    loop.start()
    loop.request_stop()
    assert loop.alive and not loop.join(0.05)
    release.set()
    assert loop.join(within(2)) and not loop.alive
