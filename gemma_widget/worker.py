"""A background thread that recomputes the latest state, never a queue of stale ones.

The comm handler must stay free while a forward pass runs, and a user typing 10 keys a second
must not queue 10 forward passes: pokes that arrive during a run collapse into one more run, which
reads whatever the state is by then.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class CoalescingWorker:
    """Runs `job` on its own daemon thread after each `poke`, coalescing pokes made meanwhile."""

    def __init__(self, job: Callable[[], None], name: str) -> None:
        self._job = job
        self._name = name
        self._wake = threading.Condition()
        self._poked = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        with self._wake:
            if self._closed:
                return
            self._poked = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._wake.notify()

    def close(self) -> None:
        """Stop after the current run, if any; later pokes are ignored."""
        with self._wake:
            self._closed = True
            self._wake.notify()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._poked and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                self._poked = False
            self._job()
