"""Attention out of the widget: data files, a standalone page, and bertviz's input format.

- `.npz`: the float32 attention with tokens, ids, text, prompt, model and layer types; read back
  with `load_npz`.
- `.html`: one self-contained file, the widget's own front end inlined with the data, no
  kernel and no network: layer/head switching and hovering work offline.
- `bertviz_inputs`: `(attention, tokens)` exactly as `bertviz.head_view` and `model_view` take.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .bundle import bundle_file
from .result import AttentionResult

# A standalone page holds every layer while their uint16 weights stay under this (EmbeddingGemma:
# texts up to about 680 tokens); longer texts save the layer on screen, and the page says so.
STANDALONE_BYTE_BUDGET = 64 * 1024 * 1024


@dataclass(frozen=True)
class SavedAttention:
    """What an `.npz` file holds: the result, and which model produced it."""

    result: AttentionResult
    model: str
    layer_types: list[str]


def save_npz(path: Path, result: AttentionResult, model: str, layer_types: list[str]) -> Path:
    np.savez_compressed(
        path,
        attention=result.attention,
        tokens=np.array(result.tokens, dtype=str),
        token_ids=np.array(result.token_ids, dtype=np.int64),
        special=np.array(result.special, dtype=bool),
        in_prompt=np.array(result.in_prompt or [False] * len(result.tokens), dtype=bool),
        total_tokens=np.array(result.total_tokens),
        text=np.array(result.text),
        prompt=np.array(result.prompt),
        model=np.array(model),
        layer_types=np.array(layer_types, dtype=str),
    )
    return path


def load_npz(path: str | Path) -> SavedAttention:
    """Read a file written by `AttentionWidget.save("….npz")`."""
    with np.load(path, allow_pickle=False) as data:
        result = AttentionResult(
            text=str(data["text"]),
            tokens=[str(token) for token in data["tokens"]],
            token_ids=[int(i) for i in data["token_ids"]],
            special=[bool(flag) for flag in data["special"]],
            attention=np.asarray(data["attention"], dtype=np.float32),
            total_tokens=int(data["total_tokens"]),
            prompt=str(data["prompt"]),
            in_prompt=[bool(flag) for flag in data["in_prompt"]],
        )
        return SavedAttention(result, str(data["model"]), [str(t) for t in data["layer_types"]])


def as_attention_array(attention: Any, n: int) -> np.ndarray:
    """bertviz's tuple of `[1, heads, n, n]` tensors, or an array, as float32 `[L, H, n, n]`."""
    if isinstance(attention, (tuple, list)):
        layers = [np.asarray(_to_numpy(layer), dtype=np.float32) for layer in attention]
        if not layers:
            raise ValueError("attention is empty: expected one [1, heads, n, n] entry per layer")
        array = np.stack([layer[0] if layer.ndim == 4 else layer for layer in layers])
    else:
        array = np.asarray(_to_numpy(attention), dtype=np.float32)
        if array.ndim == 5 and array.shape[1] == 1:
            array = array[:, 0]
    if array.ndim != 4 or array.shape[-2:] != (n, n):
        raise ValueError(
            f"attention has shape {tuple(array.shape)}; expected [layers, heads, {n}, {n}] for "
            f"{n} tokens (or bertviz's tuple of [1, heads, {n}, {n}] tensors)."
        )
    return array


def _to_numpy(value: Any) -> Any:
    detach = getattr(value, "detach", None)
    return detach().to("cpu").float().numpy() if detach else value


def bertviz_inputs(result: AttentionResult) -> tuple[tuple[Any, ...], list[str]]:
    """`(attention, tokens)` for `bertviz.head_view` / `model_view`: one `[1, heads, n, n]`
    tensor per layer, and the token strings."""
    import torch

    layers = tuple(torch.from_numpy(layer.copy()).unsqueeze(0) for layer in result.attention)
    return layers, list(result.tokens)


def save_html(path: Path, state: dict[str, Any], title: str) -> Path:
    """Write one self-contained page showing `state` (the widget's synced traits, with every
    layer in `_attention_buffer`: there is no kernel to ask for another)."""
    binary = [name for name, value in state.items() if isinstance(value, bytes)]
    state = {
        **state,
        **{name: base64.b64encode(state[name]).decode("ascii") for name in binary},
        "_binary": binary,
        "editable": False,
        "_standalone": True,
    }
    data = json.dumps(state, ensure_ascii=True).replace("<", "\\u003c")
    script = bundle_file("standalone.js").read_text(encoding="utf-8").replace("</", "<\\/")
    css = bundle_file("widget.css").read_text(encoding="utf-8").replace("</", "<\\/")
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{css}</style>
</head>
<body>
<div id="gemma-widget"></div>
<script type="application/json" id="gemma-widget-state">{data}</script>
<script>{script}</script>
<script>
(() => {{
  const state = JSON.parse(document.getElementById("gemma-widget-state").textContent);
  for (const name of state._binary) {{
    state[name] = new DataView(Uint8Array.from(atob(state[name]), (c) => c.charCodeAt(0)).buffer);
  }}
  // `page.html#export=png&scale=2`: draw the image and leave it in the page as base64, for a
  // headless browser to read (gemma_widget/headless.py). Such a browser runs no animation frames.
  const exportRequest = /^#export=(svg|png)(?:&scale=([0-9.]+))?$/.exec(location.hash);
  if (exportRequest) {{
    window.requestAnimationFrame = (callback) => setTimeout(() => callback(performance.now()), 0);
  }}
  const exported = (reply, buffers) => {{
    const out = document.createElement("pre");
    out.id = "gemma-widget-export";
    if (reply.error || !buffers || !buffers.length) out.dataset.error = reply.error || "no image";
    else {{
      const bytes = new Uint8Array(buffers[0]);
      let binary = "";
      for (let k = 0; k < bytes.length; k += 32768) {{
        binary += String.fromCharCode(...bytes.subarray(k, k + 32768));
      }}
      out.textContent = btoa(binary);
    }}
    document.body.appendChild(out);
  }};
  const listeners = new Map();
  const model = {{
    get: (key) => state[key],
    set: (key, value) => {{
      state[key] = value;
      (listeners.get("change:" + key) || []).forEach((callback) => callback());
    }},
    on: (event, callback) => {{
      if (!listeners.has(event)) listeners.set(event, []);
      listeners.get(event).push(callback);
    }},
    off: (event, callback) => {{
      listeners.set(event, (listeners.get(event) || []).filter((f) => f !== callback));
    }},
    save_changes: () => {{}},
    send: (content, callbacks, buffers) => {{
      if (exportRequest && content && content.kind === "export") exported(content, buffers);
    }},
  }};
  GemmaWidgetView.default.render({{ model, el: document.getElementById("gemma-widget") }});
  if (exportRequest) {{
    const [, format, scale] = exportRequest;
    const ask = (tries) => {{
      const ready = document.querySelector('.gw-root[data-status="ready"]');
      if (!ready && tries > 0) return void setTimeout(() => ask(tries - 1), 10);
      const request = {{ kind: "export", id: 1, format, scale: Number(scale || 1) }};
      (listeners.get("msg:custom") || []).forEach((callback) => callback(request));
    }};
    ask(500);
  }}
}})();
</script>
</body>
</html>
"""
    path.write_text(page, encoding="utf-8")
    return path
