"""Where the package's PyTorch work runs: on one long-lived thread, and loads on passing ones.

PyTorch's CPU threads come from libgomp, which keeps a team of threads for every thread that
has run a parallel region. Once it manages more threads than there are cores, its threads stop
spinning between regions and each of a forward pass's thousands of small operations waits for
a wake-up. Measured on 2 cores (benchmarks/README.md): EmbeddingGemma's forward pass at 41
tokens took 168 ms instead of 81 as soon as a second widget had run one pass on its own thread,
or one matrix product had run on the kernel's main thread. So every widget's forward passes
and embeddings run on one thread, whichever thread asks; models load on a thread that ends
with the load (its team goes with it), so a download of minutes holds up no other widget. A
user's own torch work on the kernel's main thread (a cell) leaves a team there too: whoever asks
for torch work frees their own first, and the widget frees the thread that asks it for a pass
(`release_thread_team`).
"""

from __future__ import annotations

import ctypes
import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_jobs: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]] = queue.SimpleQueue()
_start_lock = threading.Lock()
_thread: threading.Thread | None = None
_OMP_PAUSE_SOFT = 1


def run_on_torch_thread(work: Callable[[], T]) -> T:
    """`work()`, run on the torch thread; its result or its exception comes back here. The
    asking thread's own libgomp team, if torch left one there, is freed first."""
    if threading.current_thread() is _thread:
        return work()  # already there: asking the queue would wait for itself
    release_thread_team()
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


def release_thread_team() -> None:
    """Free the calling thread's libgomp team, if it has one; torch makes a new one when this
    thread next needs it. No-op on the torch thread and where PyTorch does not use libgomp
    (macOS's and Windows' OpenMP runtimes pause differently: left alone)."""
    pause = _libgomp_pause()
    if pause is not None and threading.current_thread() is not _thread:
        pause(_OMP_PAUSE_SOFT)  # never inside a parallel region: called from Python


@functools.cache
def _libgomp_pause() -> Callable[[int], int] | None:
    """`omp_pause_resource_all` (OpenMP 5.0) of the libgomp PyTorch loaded: the copy inside its
    wheel (`torch/lib` or `torch.libs`); other packages bring their own (sentencepiece does)."""
    import torch

    wheel = Path(torch.__file__).resolve().parent
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    mapped = (line.split(maxsplit=5) for line in maps.splitlines())
    paths = {fields[5] for fields in mapped if len(fields) == 6 and "libgomp" in fields[5]}
    for path in sorted(paths):
        folder = Path(path).parent
        if folder not in (wheel / "lib", wheel.with_name("torch.libs")):
            continue
        function = getattr(ctypes.CDLL(path), "omp_pause_resource_all", None)
        if function is not None:
            function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
            return function  # type: ignore[no-any-return]
    return None


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
