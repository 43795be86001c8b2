"""Where a background thread's results are applied: on the event loop of the thread that asked.

Trait changes must not land halfway through the handling of a comm message. In a kernel the
thread that asked is the main thread, or the thread ipykernel handles comm messages on while a
cell runs; each has its running loop. In a plain script there is none and the worker applies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class ApplyLoop:
    """Remembers the loop of the last thread that asked, and runs callbacks there."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def remember(self) -> None:
        """Call on the thread that asks for work: its running loop (if any) gets the results."""
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    def call(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the remembered loop, or right here when there is none."""
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(callback)
        else:
            callback()
