"""gemma-widget: how the tokens of a text attend to each other inside EmbeddingGemma, live."""

from importlib.metadata import PackageNotFoundError, version

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

try:
    __version__ = version("gemma-widget")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "DEFAULT_MODEL",
    "STANDIN_SOURCE",
    "AttentionResult",
    "AttentionWidget",
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
