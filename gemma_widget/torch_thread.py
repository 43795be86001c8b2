"""Where the package's PyTorch work runs: on one long-lived thread, and loads on passing ones.

PyTorch's CPU threads come from libgomp, which keeps a team of threads for every thread that
has run a parallel region. Once it manages more threads than there are cores, its threads stop
spinning between regions and each of a forward pass's thousands of small operations waits for
a wake-up. Measured on 2 cores (benchmarks/README.md): EmbeddingGemma's forward pass at 41
tokens took 168 ms instead of 81 as soon as a second widget had run one pass on its own thread,
or one matrix product had run on the kernel's main thread. So every widget's forward passes
and embeddings run on one thread, whichever thread asks; models load on a thread that ends
with the load (its team goes with it), so a download of minutes holds up no other widget.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")

_jobs: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]] = queue.SimpleQueue()
_start_lock = threading.Lock()
_thread: threading.Thread | None = None


def run_on_torch_thread(work: Callable[[], T]) -> T:
    """`work()`, run on the torch thread; its result or its exception comes back here."""
    if threading.current_thread() is _thread:
        return work()  # already there: asking the queue would wait for itself
    future: Future[object] = Future()
    _jobs.put((work, future))
    _ensure_thread()
    return future.result()  # type: ignore[return-value]


def run_on_passing_thread(work: Callable[[], T]) -> T:
    """`work()`, run on a new thread that ends with it, so its libgomp team is freed."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the caller, who raises it
            failure.append(exc)

    thread = threading.Thread(target=run, name="gemma-widget-load", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def _ensure_thread() -> None:
    global _thread
    with _start_lock:
        if _thread is None:
            _thread = threading.Thread(target=_serve, name="gemma-widget-torch", daemon=True)
            _thread.start()


def _serve() -> None:
    while True:
        work, future = _jobs.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            future.set_result(work())
        except BaseException as exc:  # the caller raises it
            future.set_exception(exc)
