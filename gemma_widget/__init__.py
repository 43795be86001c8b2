"""gemma-widget: how the tokens of a text attend to each other inside EmbeddingGemma, live.

Names load on first use, so `import gemma_widget.nodelay` in a Jupyter server does not pull
torch and transformers into the server process.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compare import CompareWidget
    from .engine import compute_attention
    from .errors import (
        ForwardError,
        GemmaWidgetError,
        ModelAccessError,
        ModelLoadError,
        ModelNotFoundError,
        NoAttentionError,
        TextError,
    )
    from .loading import DEFAULT_MODEL, LoadedModel, load_model
    from .result import AttentionResult
    from .standin import STANDIN_SOURCE
    from .widget import AttentionWidget

_HOMES = {
    "CompareWidget": "compare",
    "compute_attention": "engine",
    "ForwardError": "errors",
    "GemmaWidgetError": "errors",
    "ModelAccessError": "errors",
    "ModelLoadError": "errors",
    "ModelNotFoundError": "errors",
    "NoAttentionError": "errors",
    "TextError": "errors",
    "DEFAULT_MODEL": "loading",
    "LoadedModel": "loading",
    "load_model": "loading",
    "AttentionResult": "result",
    "STANDIN_SOURCE": "standin",
    "AttentionWidget": "widget",
}

try:
    __version__ = version("gemma-widget")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'gemma_widget' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)


__all__ = [
    "DEFAULT_MODEL",
    "STANDIN_SOURCE",
    "AttentionResult",
    "AttentionWidget",
    "CompareWidget",
    "ForwardError",
    "GemmaWidgetError",
    "LoadedModel",
    "ModelAccessError",
    "ModelLoadError",
    "ModelNotFoundError",
    "NoAttentionError",
    "TextError",
    "__version__",
    "compute_attention",
    "load_model",
]
