"""Forward-pass time of a widget while other threads have run torch (gemma_widget/torch_thread.py).

    python benchmarks/torch_threads.py [tiny|embeddinggemma-shaped] [--tokens 41] [--runs 15]
        [--model-dir DIR]

Each case runs in a fresh process (libgomp's thread teams outlive the work that made them) and
prints one JSON line: the median of `compute_attention` inside a widget typing new text.

- `alone`: one widget.
- `second widget`: a second widget on the same model has computed one text.
- `own thread per widget`: what the package did before torch_thread.py: each widget's pass on
  its own worker thread, with a second widget open.
- `torch on the main thread`: one matrix product run on the caller's thread first (a user's
  cell); the widget frees that thread's team when it asks for a pass (`release_thread_team`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from forward import text_of
from model_factory import build_gemma3_encoder

import gemma_widget.engine as engine
import gemma_widget.widget as widget_module
from gemma_widget import AttentionWidget
from gemma_widget.result import AttentionResult

CASES = ("alone", "second widget", "own thread per widget", "torch on the main thread")


def unique_text(tokens: int, salt: int) -> str:
    """About `tokens` tokens, never the same twice (the widget's cache would answer)."""
    return text_of(tokens - 1, salt) + f" {salt}"


def measure(case: str, model_dir: Path, tokens: int, runs: int) -> float:
    if case == "own thread per widget":  # the pass on the widget's own worker thread
        engine.run_on_torch_thread = lambda work: work()  # type: ignore[attr-defined]
    widget = AttentionWidget(unique_text(tokens, 0), model=str(model_dir)).wait(timeout=600)
    if case in ("second widget", "own thread per widget"):
        AttentionWidget(unique_text(tokens, 20_000), model=str(model_dir)).wait(timeout=600)
    if case == "torch on the main thread":
        torch.randn(300, 300) @ torch.randn(300, 300)
    times: list[float] = []

    def timed(*args: Any, **kwargs: Any) -> AttentionResult:
        start = time.perf_counter()
        result = engine.compute_attention(*args, **kwargs)
        times.append((time.perf_counter() - start) * 1000)
        return result

    widget_module.compute_attention = timed
    for run in range(1, runs + 3):
        widget.text = unique_text(tokens, run)  # a new text each time: no cache hit
        widget.wait(timeout=600)
    return statistics.median(times[2:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("shape", nargs="?", default="embeddinggemma-shaped")
    parser.add_argument("--tokens", type=int, default=41)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--case", choices=CASES, help="run one case in this process")
    args = parser.parse_args()
    model_dir = args.model_dir or Path(tempfile.mkdtemp()) / "model"
    if not (model_dir / "config.json").exists():
        build_gemma3_encoder(model_dir, args.shape)
    if args.case:
        ms = measure(args.case, model_dir, args.tokens, args.runs)
        print(json.dumps({"case": args.case, "tokens": args.tokens, "median_ms": round(ms, 1)}))
        return
    for case in CASES:
        command = [sys.executable, __file__, args.shape, "--case", case, "--tokens"]
        command += [str(args.tokens), "--runs", str(args.runs), "--model-dir", str(model_dir)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        print(out.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
