"""A causal attention mask for any model, so one set of weights can be read both ways.

EmbeddingGemma is Gemma 3 with its causal mask swapped for a bidirectional one. Running the same
weights under a causal mask again shows what bidirectional attention adds: with it, every token
sees only itself and the tokens before it, as in a GPT-style decoder. The masks are additive
(0 where a token may look, the dtype's lowest value where it may not), so the softmax gives the
hidden positions exactly zero weight.
"""

from __future__ import annotations

from typing import Any

import torch

SLIDING = "sliding_attention"


def _blocked(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`[1, 1, n, n]` additive mask from a boolean `[n, n]` one."""
    mask = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[None, None]


def causal_attention_mask(
    config: Any, length: int, dtype: torch.dtype, device: str | torch.device
) -> torch.Tensor | dict[str, torch.Tensor]:
    """The `attention_mask` argument that makes the model attend causally to `length` tokens.

    Models with per-layer attention types (Gemma 3's sliding-window and full layers) take one
    mask per type, and a sliding-window layer keeps its window (a token sees at most the
    `sliding_window - 1` tokens before it, as Gemma 3 the decoder does); other models take one
    4D mask for every layer.
    """
    position = torch.arange(length, device=device)
    query, key = position[:, None], position[None, :]
    causal = key <= query
    layer_types = getattr(config, "layer_types", None)
    if not layer_types:
        return _blocked(causal, dtype)
    masks: dict[str, torch.Tensor] = {}
    for layer_type in set(layer_types):
        allowed = causal
        window = getattr(config, "sliding_window", None)
        if layer_type == SLIDING and window:
            allowed = causal & (query - key < int(window))
        masks[layer_type] = _blocked(allowed, dtype)
    return masks
