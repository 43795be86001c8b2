"""How long an unreachable hub takes to turn into an error, with and without our hub probe.

    python benchmarks/offline_failure.py

Runs each case in a fresh interpreter with HF_HUB_OFFLINE unset on a machine that cannot reach
the hub, and prints JSON: seconds until `load_model` raises (one connection attempt, then the
cache) next to seconds until plain `AutoTokenizer.from_pretrained` raises (huggingface_hub's
retries).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

MODEL = "google/embeddinggemma-300m"
CASES = {
    "gemma_widget.load_model": f"from gemma_widget import load_model; load_model({MODEL!r})",
    "transformers.AutoTokenizer": (
        f"from transformers import AutoTokenizer; AutoTokenizer.from_pretrained({MODEL!r})"
    ),
}


def seconds_to_fail(code: str) -> float:
    env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=600)
    if done.returncode == 0:
        raise SystemExit("the hub is reachable here: this benchmark needs a machine without it")
    return time.perf_counter() - start


if __name__ == "__main__":
    print(json.dumps({name: round(seconds_to_fail(code), 1) for name, code in CASES.items()}))
