"""Peak memory of the kernel over many updates: it must level off, not grow with every update.

    python benchmarks/kernel_memory.py [--model-dir DIR] [--updates 1000] [--tokens 32]

Plays the front end: sets `w.text` to a new text (never seen before, so no cache hit) `--updates`
times on the EmbeddingGemma-shaped model, waiting for each result, and prints the process's
resident memory every tenth of the way, with the growth between the first and the last tenth.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from forward import text_of
from model_factory import build_gemma3_encoder

from gemma_widget import AttentionWidget


def rss_mb() -> float:
    """Resident set size now (not the peak: a leak shows as a rising floor)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()
    model_dir = args.model_dir or Path(tempfile.mkdtemp()) / "model"
    if not (model_dir / "config.json").exists():
        build_gemma3_encoder(model_dir, "embeddinggemma-shaped")
    widget = AttentionWidget(text_of(args.tokens, 0), model=str(model_dir)).wait(timeout=600)
    samples = []
    step = max(args.updates // 10, 1)
    for update in range(1, args.updates + 1):
        widget.text = text_of(args.tokens, 0) + f" {update}"
        widget.wait(timeout=600)
        if update % step == 0:
            samples.append(round(rss_mb()))
    peak = max(samples)
    print(
        json.dumps(
            {
                "updates": args.updates,
                "tokens": len(widget.tokens),
                "rss_mb_every_tenth": samples,
                "rss_mb_peak": peak,
                "growth_first_to_last_tenth_mb": samples[-1] - samples[0],
                "cache_entries": len(widget.loaded_model.cache) if widget.loaded_model else 0,
                "cache_mb": round(widget.loaded_model.cache.nbytes / 2**20, 1)
                if widget.loaded_model
                else 0,
            }
        )
    )


if __name__ == "__main__":
    main()
