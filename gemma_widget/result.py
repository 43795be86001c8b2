"""What one forward pass yields for one text."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class AttentionResult:
    """Tokens of `text` and the attention between them, `[layers, heads, n, n]` float32.

    `attention[l, h, i, j]` is how much token i attends to token j in layer l, head h; each row
    sums to 1. `total_tokens` counts the tokens before truncation to the model's maximum. The
    model read `prompt + text`; `in_prompt` flags the tokens that came from the prompt.
    `hidden` is the model's last hidden state `[n, hidden]` (None for precomputed attention),
    from which `embedding.py` pools the sentence embedding; `causal` says the weights ran under
    a causal mask instead of the model's own.
    """

    text: str
    tokens: list[str]
    token_ids: list[int]
    special: list[bool]
    attention: np.ndarray
    total_tokens: int
    prompt: str = ""
    in_prompt: list[bool] = field(default_factory=list)
    hidden: np.ndarray | None = None
    causal: bool = False

    @property
    def truncated(self) -> bool:
        return self.total_tokens > len(self.tokens)

    @property
    def nbytes(self) -> int:
        return int(self.attention.nbytes) + (0 if self.hidden is None else int(self.hidden.nbytes))
