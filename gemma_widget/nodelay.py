"""Opt-in fix for a 40 ms stall on every kernel message in Jupyter servers.

jupyter_server writes each kernel message to the browser as its own small websocket frame with
Nagle's algorithm left on. A widget update follows the kernel's `busy` status frame, so the
operating system holds it until the browser acknowledges `busy`, and browsers delay that
acknowledgement by up to 40 ms. Measured on this project's machine: a trait round trip costs
48 ms through a stock server and 2.7 ms with `TCP_NODELAY` on the kernel websocket
(benchmarks/comm_roundtrip.mjs). The kernel alone answers in 2 ms.

The fix is one call, `set_nodelay(True)`, when a kernel websocket opens. Enable it with:

    jupyter lab --ServerApp.jpserver_extensions='{"gemma_widget.nodelay": true}'
    jupyter server extension enable gemma_widget.nodelay     # for every later server
    python -m gemma_widget.nodelay voila dashboard.ipynb     # Voilà (any module's CLI)

It changes no message, only when the operating system sends them.
"""

from __future__ import annotations

import functools
import runpy
import sys
from collections.abc import Callable
from typing import Any

_PATCHED = "_gemma_widget_nodelay"


def enable() -> bool:
    """Turn on TCP_NODELAY for kernel websockets opened from now on; False if already on."""
    from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

    if getattr(KernelWebsocketHandler.open, _PATCHED, False):
        return False
    original: Callable[..., Any] = KernelWebsocketHandler.open

    @functools.wraps(original)
    def open_without_nagle(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.set_nodelay(True)
        return original(self, *args, **kwargs)

    setattr(open_without_nagle, _PATCHED, True)
    KernelWebsocketHandler.open = open_without_nagle  # type: ignore[method-assign]
    return True


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "gemma_widget.nodelay"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    enable()
    serverapp.log.info("gemma_widget.nodelay: TCP_NODELAY on for kernel websockets")


def main(argv: list[str]) -> None:
    """`python -m gemma_widget.nodelay MODULE ARGS...`: run a module's CLI with the fix on."""
    if not argv:
        raise SystemExit("usage: python -m gemma_widget.nodelay MODULE [ARGS...]  (e.g. voila)")
    enable()
    sys.argv = argv
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
