"""gemma_widget.nodelay: the opt-in server extension that sends kernel messages without
Nagle's 40 ms hold. Its speed is measured in benchmarks/comm_roundtrip.mjs; here, that it loads
in a real Jupyter server, sets the option, and messages still flow."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

from gemma_widget import nodelay

ECHO = """
import anywidget, traitlets
class Echo(anywidget.AnyWidget):
    _esm = 'export default {}'
    inp = traitlets.Unicode('').tag(sync=True)
    out = traitlets.Unicode('').tag(sync=True)
    @traitlets.observe('inp')
    def _echo(self, change):
        self.out = change['new'].upper()
e = Echo()
print(e.comm.comm_id)
"""


def test_enable_wraps_the_kernel_websocket_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    class Handler:
        def set_nodelay(self, value: bool) -> None:
            calls.append(("nodelay", value))

    def plain_open(self: Any, kernel_id: str) -> None:
        calls.append(kernel_id)

    monkeypatch.setattr(KernelWebsocketHandler, "open", plain_open)  # restored after the test
    assert nodelay.enable() is True
    assert nodelay.enable() is False  # already on
    KernelWebsocketHandler.open(Handler(), "k1")  # type: ignore[arg-type]
    assert calls == [("nodelay", True), "k1"]
    assert KernelWebsocketHandler.open is not plain_open


def test_running_without_a_module_says_how() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gemma_widget.nodelay"], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "usage: python -m gemma_widget.nodelay MODULE" in done.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_real_server_loads_it_and_widget_messages_flow(tmp_path: Path) -> None:
    port, token = _free_port(), uuid.uuid4().hex
    log = tmp_path / "server.log"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}  # fmt: skip
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--port={port}", "--no-browser",
             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
             "--ServerApp.allow_root=True", f"--ServerApp.root_dir={tmp_path}",
             "--ServerApp.jpserver_extensions=gemma_widget.nodelay=True"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )  # fmt: skip
    try:
        replies = asyncio.run(_echo_round_trips(port, token, ["a", "b"]))
        assert replies == ["A", "B"]
        assert "gemma_widget.nodelay: TCP_NODELAY on for kernel websockets" in log.read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _echo_round_trips(port: int, token: str, values: list[str]) -> list[str]:
    from tornado.websocket import websocket_connect

    base = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            request = urllib.request.Request(
                f"http://{base}/api/kernels?token={token}", data=b"{}", method="POST"
            )
            kernel = json.load(urllib.request.urlopen(request))["id"]
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)
    session = uuid.uuid4().hex

    def message(msg_type: str, content: dict[str, Any]) -> str:
        header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": session,
                  "username": "", "version": "5.3", "date": ""}  # fmt: skip
        return json.dumps({"channel": "shell", "header": header, "parent_header": {},
                           "metadata": {}, "content": content, "buffers": []})  # fmt: skip

    socket_ = await websocket_connect(
        f"ws://{base}/api/kernels/{kernel}/channels?token={token}&session_id={session}"
    )
    code = {"code": ECHO, "silent": False, "store_history": False, "user_expressions": {},
            "allow_stdin": False}  # fmt: skip
    await socket_.write_message(message("execute_request", code))
    comm = None
    while comm is None:
        reply = json.loads(await asyncio.wait_for(socket_.read_message(), 60))  # type: ignore[arg-type]
        if reply["msg_type"] == "stream":
            comm = reply["content"]["text"].strip()
    answers = []
    for value in values:
        update = {"method": "update", "state": {"inp": value}, "buffer_paths": []}
        await socket_.write_message(message("comm_msg", {"comm_id": comm, "data": update}))
        while True:
            reply = json.loads(await asyncio.wait_for(socket_.read_message(), 30))  # type: ignore[arg-type]
            state = reply["content"].get("data", {}).get("state", {})
            if reply["msg_type"] == "comm_msg" and "out" in state:
                answers.append(state["out"])
                break
    socket_.close()
    return answers
