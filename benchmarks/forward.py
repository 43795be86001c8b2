"""Bare forward-pass time next to the engine's full path, for the keystroke benchmark's ratio.

    python benchmarks/forward.py [tiny|embeddinggemma-shaped] [--tokens 32] [--runs 15]
        [--device cuda]

`--device cuda` is the GPU variant, for a machine with an accelerator (bfloat16 there, as the
widget loads it; the whole run fits in a few minutes).

Prints JSON: medians in ms of (a) the model's forward pass alone with output_attentions and
(b) `compute_attention` (tokenize + forward + copy to one float32 array), cache off.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from model_factory import build_gemma3_encoder

from gemma_widget import compute_attention, load_model
from gemma_widget.cache import ResultCache
from gemma_widget.torch_thread import run_on_torch_thread

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "seven",
    "tired",
    "cats",
    "watch",
]


def text_of(tokens: int, salt: int) -> str:
    """About `tokens` Gemma tokens (one per common word, plus <bos>), unique per salt."""
    words = [WORDS[(k + salt) % len(WORDS)] for k in range(tokens - 1)]
    return " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("shape", nargs="?", default="tiny")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: best)")
    args = parser.parse_args()
    model_dir = args.model_dir or Path(tempfile.mkdtemp()) / "model"
    if not (model_dir / "config.json").exists():
        build_gemma3_encoder(model_dir, args.shape)
    loaded = load_model(str(model_dir), args.device)
    loaded.cache = ResultCache(budget_bytes=0)  # measure real work, never a cache hit
    bare, full = [], []
    for run in range(args.runs + 2):
        text = text_of(args.tokens, run)
        other_text = text_of(args.tokens, run + 1000)  # same length, not cached
        ids = torch.tensor([loaded.tokenizer(text)["input_ids"]], device=loaded.device)

        def bare_pass(ids: torch.Tensor = ids) -> float:
            start = time.perf_counter()
            with torch.inference_mode():
                outputs = loaded.model(input_ids=ids, output_attentions=True)
                if loaded.device.startswith("cuda"):
                    torch.cuda.synchronize()  # the GPU runs ahead of Python: wait for the work
                del outputs
            return time.perf_counter() - start

        # On the thread compute_attention uses: a second thread running torch would slow both
        # (gemma_widget/torch_thread.py).
        seconds = run_on_torch_thread(bare_pass)
        middle = time.perf_counter()
        result = compute_attention(loaded, other_text)
        end = time.perf_counter()
        if run >= 2:  # first runs warm up allocators and kernels
            bare.append(seconds * 1000)
            full.append((end - middle) * 1000)
    print(
        json.dumps(
            {
                "shape": args.shape,
                "tokens": len(result.tokens),
                "runs": args.runs,
                "bare_forward_ms_median": round(statistics.median(bare), 2),
                "compute_attention_ms_median": round(statistics.median(full), 2),
                "device": loaded.device,
                "dtype": str(loaded.dtype).removeprefix("torch."),
                "torch_threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
