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

    Sums weighted by a fixed `[n, n]` matrix (distances, later/earlier masks) are matrix-vector
    products over each layer, and the entropy reuses one scratch array, so a 2048-token text
    makes no full-size temporary array.
    """
    layers, heads, n, _ = attention.shape
    values = {name: np.zeros((layers, heads)) for name in STATISTICS}
    if n == 0:
        return HeadStatistics(**values)
    positions = np.arange(n)
    offsets = positions[None, :] - positions[:, None]  # j - i
    weights_by = np.stack(
        [
            np.abs(offsets),  # distance
            offsets > 0,  # later tokens: right to left
            offsets < 0,  # earlier tokens: left to right
            np.broadcast_to(np.asarray(special, dtype=bool), (n, n)),  # sinks
        ]
    ).astype(np.float32)
    flat_by = weights_by.reshape(4, n * n).T  # [n*n, 4]
    scratch = np.empty((n, n), dtype=np.float32)
    for layer in range(layers):
        weights = attention[layer].astype(np.float32, copy=False)
        sums = weights.reshape(heads, n * n) @ flat_by / n  # [heads, 4], mean over rows
        values["distance"][layer] = sums[:, 0]
        values["right_to_left"][layer] = sums[:, 1]
        values["left_to_right"][layer] = sums[:, 2]
        values["sink"][layer] = sums[:, 3]
        for head in range(heads):
            np.log(weights[head], out=scratch, where=weights[head] > 0)
            scratch[weights[head] <= 0] = 0.0
            values["entropy"][layer, head] = -np.vdot(weights[head], scratch) / n
    return HeadStatistics(**values)


def right_to_left_share(attention: np.ndarray) -> np.ndarray:
    """`right_to_left` alone (`[layers, heads]`): what compare mode needs on every keystroke,
    without the entropy pass that makes `head_statistics` take 1.5 s at 2048 tokens."""
    layers, heads, n, _ = attention.shape
    shares = np.zeros((layers, heads))
    for layer in range(layers):
        shares[layer] = np.triu(attention[layer], k=1).sum(axis=(-1, -2), dtype=np.float64)
    shares /= max(n, 1)
    return shares
