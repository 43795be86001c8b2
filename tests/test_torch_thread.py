"""All of the package's torch work runs on one thread (gemma_widget/torch_thread.py says why)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch

from gemma_widget.torch_thread import (
    run_on_passing_thread,
    run_on_torch_thread,
)


def test_work_runs_on_one_thread_whoever_asks() -> None:
    seen: set[threading.Thread] = set()
    lock = threading.Lock()

    def ask() -> None:
        where = run_on_torch_thread(threading.current_thread)
        with lock:
            seen.add(where)

    callers = [threading.Thread(target=ask) for _ in range(4)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    ask()  # the main thread too
    assert len(seen) == 1
    (torch_thread,) = seen
    assert torch_thread is not threading.main_thread()
    assert torch_thread.name == "gemma-widget-torch"
    assert torch_thread not in callers


def test_results_and_errors_come_back_and_nested_work_runs_in_place() -> None:
    assert run_on_torch_thread(lambda: run_on_torch_thread(lambda: 7) * 6) == 42

    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_on_torch_thread(fail)
    assert run_on_torch_thread(lambda: "still serving") == "still serving"


def test_loads_run_on_a_thread_that_ends_with_them() -> None:
    seen: list[threading.Thread] = []

    def load() -> str:
        seen.append(threading.current_thread())
        return "loaded"

    assert run_on_passing_thread(load) == "loaded"
    assert seen[0] is not threading.current_thread()
    assert not seen[0].is_alive()  # its libgomp team is gone with it
    with pytest.raises(KeyError):
        run_on_passing_thread(lambda: {}["missing"])


@pytest.mark.skipif(
    torch.get_num_threads() < 2 or not Path("/proc/self/task").is_dir(),
    reason="one CPU thread (no libgomp team to free), or no /proc to count threads",
)
def test_a_cells_torch_team_is_freed_before_a_pass() -> None:
    """A matrix product run on the asking thread leaves a libgomp team there (threads that
    would slow the torch thread's passes down); asking for a pass frees it. Counted in a
    process of its own, where no other thread comes or goes meanwhile."""
    script = textwrap.dedent(
        """
        from pathlib import Path
        import torch
        from gemma_widget.torch_thread import release_thread_team

        def threads():
            return len(list(Path("/proc/self/task").iterdir()))

        alone = threads()
        torch.randn(300, 300) @ torch.randn(300, 300)  # what a notebook cell might do
        with_team = threads()
        release_thread_team()
        freed = threads()
        release_thread_team()  # nothing left to free: harmless
        torch.randn(300, 300) @ torch.randn(300, 300)  # torch still works here afterwards
        again = threads()
        from gemma_widget.torch_thread import run_on_torch_thread
        run_on_torch_thread(lambda: None)  # asking for torch work frees the asker's team too
        torch_thread = 1  # ...and starts the torch thread (no team yet: it ran no torch)
        print(alone, with_team, freed, again, threads() - torch_thread)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    alone, with_team, freed, again, after_asking = map(int, out.stdout.split())
    assert with_team > alone  # the product made a team
    assert freed == alone  # and it is gone
    assert again == with_team
    assert after_asking == alone
