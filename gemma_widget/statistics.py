"""Per-head statistics: four numbers that say what each head does, computed from the attention.

For every layer and head, averaged over the query tokens i (rows), with weights a[i, j]:

- `entropy`: -sum_j a[i, j] ln a[i, j], in nats. 0 when a head looks at one token; ln n when it
  spreads evenly over n tokens.
- `distance`: sum_j a[i, j] |i - j|, the mean distance in tokens a head looks across.
- `sink`: sum of a[i, j] over special tokens j (`<bos>`, `<eos>`): the attention parked on
  sinks rather than spent on the text.
- `right_to_left`: sum of a[i, j] over later tokens j > i. Information flows from the right to
  the left: a causal (GPT-style) model always has 0 here; a bidirectional encoder does not.
- `left_to_right`: sum of a[i, j] over earlier tokens j < i. The rest, `1 - right_to_left -
  left_to_right`, is each token attending to itself.

They are computed from the model's attention over all tokens, whatever the view hides or merges:
they describe the model, not the picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STATISTICS = ("entropy", "distance", "sink", "right_to_left", "left_to_right")


@dataclass(frozen=True)
class HeadStatistics:
    """Each field is a `[layers, heads]` float64 array; see the module docstring."""

    entropy: np.ndarray
    distance: np.ndarray
    sink: np.ndarray
    right_to_left: np.ndarray
    left_to_right: np.ndarray

    def as_lists(self) -> dict[str, list[list[float]]]:
        """JSON-ready `{name: [[value per head] per layer]}`, as the widget syncs them."""
        return {name: getattr(self, name).round(6).tolist() for name in STATISTICS}


def head_statistics(attention: np.ndarray, special: list[bool]) -> HeadStatistics:
    """Statistics of `[layers, heads, n, n]` attention; `special` flags the sink tokens.

    Works one layer at a time, so a 2048-token text never needs a second full-size array.
    """
    layers, heads, n, _ = attention.shape
    values = {name: np.zeros((layers, heads)) for name in STATISTICS}
    if n == 0:
        return HeadStatistics(**values)
    positions = np.arange(n)
    distance = np.abs(positions[:, None] - positions[None, :]).astype(np.float32)
    later = np.triu(np.ones((n, n), dtype=bool), k=1)
    earlier = later.T
    sinks = np.asarray(special, dtype=bool)
    for layer in range(layers):
        weights = attention[layer].astype(np.float32, copy=False)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(weights > 0, np.log(np.where(weights > 0, weights, 1.0)), 0.0)
        values["entropy"][layer] = -(weights * logs).sum(axis=-1).mean(axis=-1)
        values["distance"][layer] = (weights * distance).sum(axis=-1).mean(axis=-1)
        values["sink"][layer] = weights[..., sinks].sum(axis=-1).mean(axis=-1)
        values["right_to_left"][layer] = np.where(later, weights, 0.0).sum(axis=-1).mean(axis=-1)
        values["left_to_right"][layer] = np.where(earlier, weights, 0.0).sum(axis=-1).mean(axis=-1)
    return HeadStatistics(**values)
