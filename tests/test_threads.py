"""Tests for streamdash.threads.ThreadRunner."""

import threading

from streamdash.threads import ThreadRunner


def test_start_is_idempotent_and_stop_ends_the_loop():
    """A second start() while running starts nothing; stop() + join() end the named thread."""
    ticks = []
    runner: ThreadRunner

    def loop():
        while not runner.stopping.wait(0.01):
            ticks.append(1)

    runner = ThreadRunner("ticker", loop)
    assert runner.join(0.1) and not runner.alive  # never started
    assert runner.start() is True
    assert runner.start() is False
    assert "streamdash-ticker" in {t.name for t in threading.enumerate()}
    runner.stop()
    assert runner.join(2) and not runner.alive
    assert runner.start() is True  # restartable after a stop
    runner.stop()
    assert runner.join(2)
