"""Bytes the widget sends per update, next to bertviz's HTML for the same attention.

    python benchmarks/bytes_vs_bertviz.py [--model-dir DIR] [--tokens 8,32,128,512]
        [--bertviz-up-to 128]

For each length, on the EmbeddingGemma-shaped model: the bytes of every message the widget
sends for one keystroke (a new text of the same length: JSON plus binary buffers, the statistics
that follow included), the widget's whole synced state (what a new view receives first), the
bytes that follow once typing pauses (every layer of a mid-length text), and the length of the
HTML that `bertviz.head_view` and `bertviz.model_view` return for the same attention and tokens.
bertviz is run up to `--bertviz-up-to` tokens (its HTML grows as 22 bytes a weight: 512 tokens
would be hundreds of MB); past that its size is extrapolated from the measured bytes per weight,
and marked so. Prints one JSON line per length.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ipywidgets.widgets.widget import _remove_buffers

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from forward import text_of
from model_factory import build_gemma3_encoder

from gemma_widget import AttentionWidget
from gemma_widget.wire import encode_attention, fills_in_later


def state_bytes(widget: AttentionWidget) -> int:
    state, _, buffers = _remove_buffers(widget.get_state())
    return len(json.dumps(state).encode()) + sum(len(buffer) for buffer in buffers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--tokens", default="8,32,128,512")
    parser.add_argument("--bertviz-up-to", type=int, default=128)
    args = parser.parse_args()
    model_dir = args.model_dir or Path(tempfile.mkdtemp()) / "model"
    if not (model_dir / "config.json").exists():
        build_gemma3_encoder(model_dir, "embeddinggemma-shaped")
    from bertviz import head_view, model_view

    bytes_per_weight = None
    for tokens in (int(t) for t in args.tokens.split(",")):
        widget = AttentionWidget(text_of(tokens - 1, 0), model=str(model_dir)).wait(timeout=600)
        sent: list[int] = []
        send = widget._send

        def counting_send(
            msg: dict[str, Any], buffers: Any = None, send: Any = send, sent: list[int] = sent
        ) -> None:
            sent.append(len(json.dumps(msg).encode()) + sum(len(b) for b in buffers or []))
            send(msg, buffers)

        widget._send = counting_send  # type: ignore[method-assign]
        widget.text = text_of(tokens - 1, 1)  # one keystroke's worth: a new text, same length
        widget.wait(timeout=600)
        time.sleep(0.1)
        update = sum(sent)
        layers, heads, n, _ = widget.attention.shape
        first = state_bytes(widget)
        later = 0
        if fills_in_later(layers, heads, n):
            later = len(encode_attention(widget.view_attention, 0, layers)[0])
        row: dict[str, object] = {
            "tokens": n,
            "widget_update_bytes": update,
            "widget_state_bytes": first,
            "widget_background_bytes": later,
        }
        if n <= args.bertviz_up_to:
            attention, labels = widget.bertviz()
            start = time.perf_counter()
            head_html = head_view(attention, labels, html_action="return").data
            model_html = model_view(attention, labels, html_action="return").data
            row["bertviz_python_s"] = round(time.perf_counter() - start, 2)
            row["bertviz_head_view_bytes"] = len(head_html.encode())
            row["bertviz_model_view_bytes"] = len(model_html.encode())
            bytes_per_weight = len(head_html.encode()) / widget.attention.size
        elif bytes_per_weight is not None:
            estimate = round(bytes_per_weight * widget.attention.size)
            row["bertviz_head_view_bytes_extrapolated"] = estimate
            row["bertviz_model_view_bytes_extrapolated"] = estimate
        extrapolated = row.get("bertviz_head_view_bytes_extrapolated")
        bertviz = row.get("bertviz_head_view_bytes", extrapolated)
        if isinstance(bertviz, int):
            row["update_over_bertviz_head_view"] = round(update / bertviz, 4)
        print(json.dumps(row), flush=True)
        widget.close()


if __name__ == "__main__":
    main()
