"""What compare mode adds to a keystroke: the panel update next to the forward pass it follows.

    python benchmarks/compare_overhead.py [--tokens 32 128 512 2048] [--runs 9] [--model-dir DIR]

On an EmbeddingGemma-shaped random model with EmbeddingGemma's Sentence Transformers head
(mean pooling, Dense 768 -> 3072 -> 768, normalise), built once into a temporary folder unless
`--model-dir` names one. For each length it times, as medians in ms:
(a) `compute_attention` for a new text (what a keystroke costs without compare mode);
(b) the panel state of a `CompareWidget` for that text against a fixed document (both embeddings
    with their token parts, similarity, contributions, right-to-left shares), which runs on the
    compare thread after each side's result. The ratio (a + b) / a is compare mode's overhead.
Prints one JSON line per length.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from forward import text_of
from model_factory import add_sentence_transformers_modules, build_gemma3_encoder

from gemma_widget import CompareWidget, compute_attention, load_model
from gemma_widget.cache import ResultCache


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, nargs="+", default=[32, 128, 512, 2048])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--model-dir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.model_dir
        if folder is None:
            folder = build_gemma3_encoder(Path(scratch) / "model", "embeddinggemma-shaped")
            add_sentence_transformers_modules(folder, dense_sizes=(3072, 768))
        loaded = load_model(str(folder))
        loaded.cache = ResultCache(0)  # every text is new, as when typing
        widget = CompareWidget("x", text_of(32, 99), model=str(folder)).wait()
        sides = [widget._snapshot(widget.left, "left"), widget._snapshot(widget.right, "right")]
        for tokens in args.tokens:
            forward_ms, panel_ms = [], []
            for run in range(args.runs):
                started = time.perf_counter()
                result = compute_attention(loaded, text_of(tokens, run))
                forward_ms.append((time.perf_counter() - started) * 1000)
                left = sides[0].__class__(widget.left, "left", result, loaded, "", "left")
                widget._embeddings.clear()  # a new result: no embedding known for it yet
                started = time.perf_counter()
                widget._panel_state([left, sides[1]], None, "similarity")
                panel_ms.append((time.perf_counter() - started) * 1000)
            forward, panel = statistics.median(forward_ms), statistics.median(panel_ms)
            print(
                json.dumps(
                    {
                        "tokens": len(result.tokens),
                        "forward_ms": round(forward, 1),
                        "panel_ms": round(panel, 1),
                        "ratio": round((forward + panel) / forward, 3),
                        "runs": args.runs,
                    }
                ),
                flush=True,
            )
        widget.close()


if __name__ == "__main__":
    main()
