"""How attention travels to the front end. Mirrored by `js/wire.ts`; change both together.

Attention weights lie in [0, 1], so they are sent as little-endian uint16 fixed point
(`round(weight * 65535)`): 2 bytes a value with an error under 1e-5, where a JSON list costs about
22. The buffer is row-major `[layers, heads, n, n]` for the layers `meta["layers"] = [start, stop)`.
Short texts send every layer, so layer switches never wait for the kernel; longer texts send the
layer on screen first, then every layer once typing pauses (while that stays under
`BACKGROUND_BYTE_BUDGET`); past that, the kernel sends another layer when the layer changes.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

SCALE = 65535
# The head view's level of detail (mirrors js/layout.ts): past WINDOW_FROM rows it shows a
# window of WINDOW_ROWS rows, and the kernel sends that window of every layer in the background.
WINDOW_FROM = 256
WINDOW_ROWS = 128
ALL_LAYERS_BYTE_BUDGET = 4 * 1024 * 1024  # above this, send the current layer first
BACKGROUND_BYTE_BUDGET = 16 * 1024 * 1024  # every layer after a pause, up to this (EG: n <= 341)


class WireMeta(TypedDict):
    """Describes `_attention_buffer`; mirrored by `AttentionMeta` in js/wire.ts."""

    layers: list[int]  # [start, stop): which layers the buffer holds
    heads: int
    n: int
    dtype: str


def _all_bytes(num_layers: int, heads: int, n: int) -> int:
    return num_layers * heads * n * n * 2


def layers_to_send(num_layers: int, heads: int, n: int, layer: int) -> tuple[int, int]:
    """Every layer while the payload stays small; otherwise the one on screen."""
    if _all_bytes(num_layers, heads, n) <= ALL_LAYERS_BYTE_BUDGET:
        return 0, num_layers
    return layer, layer + 1


def fills_in_later(num_layers: int, heads: int, n: int) -> bool:
    """True when the first message holds one layer and every layer may follow after a pause."""
    return ALL_LAYERS_BYTE_BUDGET < _all_bytes(num_layers, heads, n) <= BACKGROUND_BYTE_BUDGET


def token_window(n: int, start: int) -> tuple[int, int]:
    """The rows `[start, end)` the head view shows for `n` rows (js/layout.ts `tokenWindow`)."""
    if n <= WINDOW_FROM:
        return 0, n
    first = min(max(0, start), n - WINDOW_ROWS)
    return first, first + WINDOW_ROWS


def sends_window(num_layers: int, heads: int, n: int) -> bool:
    """True when the head view is windowed and every layer never reaches the front end: then
    the window of every layer follows after a pause (EG: 2.4 MB, against 604 MB for all of a
    2048-token text), so layer switches in the head view stop waiting for the kernel."""
    return n > WINDOW_FROM and _all_bytes(num_layers, heads, n) > BACKGROUND_BYTE_BUDGET


def encode_window(attention: np.ndarray, start: int, stop: int) -> tuple[bytes, dict[str, object]]:
    """Rows and columns `[start, stop)` of every layer: `[layers, heads, rows, rows]` uint16."""
    layers, heads, n, _ = attention.shape
    window = np.ascontiguousarray(attention[:, :, start:stop, start:stop])
    meta = {
        "layers": [0, layers],
        "heads": heads,
        "n": n,
        "start": start,
        "rows": stop - start,
        "dtype": "uint16",
    }
    return encode_weights(window), meta


def encode_weights(weights: np.ndarray) -> bytes:
    """Any array of weights in [0, 1] as uint16 fixed point bytes, row-major."""
    fixed = np.empty(weights.shape, dtype="<u2")
    np.rint(np.clip(weights, 0.0, 1.0) * SCALE, out=fixed, casting="unsafe")
    return fixed.tobytes()


def encode_attention(attention: np.ndarray, start: int, stop: int) -> tuple[bytes, WireMeta]:
    """Encode layers `[start, stop)` of a `[layers, heads, n, n]` array for the front end."""
    _, heads, n, _ = attention.shape
    meta: WireMeta = {"layers": [start, stop], "heads": heads, "n": n, "dtype": "uint16"}
    return encode_weights(attention[start:stop]), meta


def decode_attention(buffer: bytes, meta: WireMeta) -> np.ndarray:
    """Inverse of `encode_attention` (used by tests and anyone reading the synced state)."""
    start, stop = meta["layers"]
    n = meta["n"]
    fixed = np.frombuffer(buffer, dtype="<u2").reshape(stop - start, meta["heads"], n, n)
    return fixed.astype(np.float32) / SCALE
