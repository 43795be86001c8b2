"""Load a model and tokenizer once per kernel, on the best device, ready to return attentions.

Every widget showing the same (model, device, dtype) shares one `LoadedModel`: one copy of the
weights, one result cache, one lock so forward passes never run concurrently on it.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import torch

from .cache import ResultCache
from .errors import GemmaWidgetError, ModelNotFoundError, NoAttentionError, explain_load_error
from .result import AttentionResult
from .standin import STANDIN_LABEL, STANDIN_SOURCE, standin_dir
from .tokens import uses_byte_level_marks
from .torch_thread import run_on_passing_thread

if TYPE_CHECKING:
    from .embedding import SentencePipeline
    from .superseding import StopHooks

DEFAULT_MODEL = "google/embeddinggemma-300m"
# Beyond this, tokenizers report a "no limit" sentinel rather than a real maximum.
_NO_LIMIT = 1_000_000


@dataclass
class LoadedModel:
    """A model ready for `engine.compute_attention`, with what the widget needs to know of it."""

    name: str
    label: str  # what the widget calls it (the name, or a stand-in's honest description)
    model: Any
    tokenizer: Any
    device: str
    dtype: torch.dtype
    num_layers: int
    num_heads: int
    max_length: int
    num_key_value_heads: int  # fewer than num_heads: query heads share key/value heads (GQA)
    layer_types: list[str]
    byte_level_tokens: bool
    # Where the files came from, for the Sentence Transformers modules beside the weights
    # (embedding.py): a folder, a hub id (`from_hub`), or None for objects passed in.
    location: str | None = None
    from_hub: bool = False
    hub_online: bool = False
    pipeline: SentencePipeline | None = None  # read on first use: embedding.pipeline_for
    stop_hooks: StopHooks | None = None  # installed on the first pass: engine._stop_hooks
    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: ResultCache[AttentionResult] = field(default_factory=ResultCache)


def best_device() -> str:
    """cuda, then mps, then cpu."""
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def default_dtype(device: str) -> torch.dtype:
    """float32 except on a GPU with bfloat16: EmbeddingGemma's activations overflow float16."""
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def _looks_like_path(source: str) -> bool:
    return source.startswith(("/", "./", "../", "~")) or os.path.isabs(source)


def hub_reachable(timeout: float = 3.0) -> bool:
    """One quick connection attempt to the hub.

    Offline, huggingface_hub retries every file for about 20 s before giving up (or before
    falling back to a cached copy); asking once lets us go straight to the cache or the error.
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    endpoint = urlsplit(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def text_config(model: Any) -> Any:
    """The language model's config (a multimodal config holds it inside)."""
    config = model.config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def _max_length(model: Any, tokenizer: Any) -> int:
    limits = [getattr(text_config(model), "max_position_embeddings", None)]
    limits.append(getattr(tokenizer, "model_max_length", None))
    usable = [int(limit) for limit in limits if isinstance(limit, int) and 0 < limit < _NO_LIMIT]
    return min(usable) if usable else 512


def _use_eager_attention(model: Any) -> None:
    """Only the eager implementation returns attention weights."""
    if getattr(model.config, "_attn_implementation", "eager") != "eager":
        model.set_attn_implementation("eager")


def wrap_model(
    model: Any,
    tokenizer: Any,
    name: str,
    device: str | None = None,
    label: str | None = None,
    location: str | None = None,
) -> LoadedModel:
    """Make a `LoadedModel` from objects the caller already holds (nothing is downloaded)."""
    config = text_config(model)
    if not getattr(config, "num_attention_heads", None):
        raise NoAttentionError(
            f"{name} ({type(model).__name__}) has no attention heads, so there is no attention "
            "to show.",
            "Use a transformer with attention layers: EmbeddingGemma, Gemma 3, BERT, ...",
        )
    _use_eager_attention(model)
    model.eval()
    parameter = next(model.parameters())
    return LoadedModel(
        name=name,
        label=label or name,
        model=model,
        tokenizer=tokenizer,
        device=device or str(parameter.device),
        dtype=parameter.dtype,
        num_layers=int(config.num_hidden_layers),
        num_heads=int(config.num_attention_heads),
        num_key_value_heads=int(
            getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        ),
        max_length=_max_length(model, tokenizer),
        layer_types=list(getattr(config, "layer_types", None) or []),
        byte_level_tokens=uses_byte_level_marks(tokenizer),
        location=location,
    )


Progress = Callable[[str], None]


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Silence transformers' and huggingface_hub's tqdm bars while a widget loads a model.

    Loading runs on a background thread, so in a notebook each bar (an ipywidget) lands in
    whichever cell happens to be running; the widget shows its own loading steps instead.
    """
    from transformers.utils import logging as transformers_logging

    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def _ignore_progress(step: str) -> None:
    pass


def _load_from_source(
    source: str,
    device: str,
    dtype: torch.dtype,
    trust_remote_code: bool = False,
    report: Progress = _ignore_progress,
) -> LoadedModel:
    """Load through transformers, saying each step (the first load can take minutes)."""
    from transformers import AutoModel, AutoTokenizer

    label: str | None = None
    hub_id = False
    if source == STANDIN_SOURCE:
        report("converting the offline stand-in from its GGUF file (first use only, ~1 min)")
        location, label = str(standin_dir()), STANDIN_LABEL
    elif _looks_like_path(source):
        location = str(Path(source).expanduser())
        if not Path(location).exists():
            raise ModelNotFoundError(
                f"No folder at {source}.",
                "Pass the path of a folder holding config.json and the weights, or a hub id such "
                "as google/embeddinggemma-300m.",
            )
    else:
        location, hub_id = source, True
    if hub_id:
        report("checking the Hugging Face Hub")
    cached_only = hub_id and not hub_reachable()
    with _no_progress_bars():
        try:
            report("loading the tokenizer (step 1 of 3)")
            tokenizer = AutoTokenizer.from_pretrained(
                location, local_files_only=cached_only, trust_remote_code=trust_remote_code
            )
            report(
                "downloading and loading the weights (step 2 of 3)"
                if hub_id and not cached_only
                else "loading the weights (step 2 of 3)"
            )
            model = AutoModel.from_pretrained(
                location,
                attn_implementation="eager",
                dtype=dtype,
                local_files_only=cached_only,
                trust_remote_code=trust_remote_code,
            )
        except Exception as exc:
            raise explain_load_error(exc, source) from exc
    report(f"moving the model to {device} (step 3 of 3)")
    model.to(device)
    loaded = wrap_model(
        model, tokenizer, name=source, device=device, label=label, location=location
    )
    loaded.from_hub, loaded.hub_online = hub_id, hub_id and not cached_only
    return loaded


_Key = tuple[str, str, str, bool]
_registry: dict[_Key, LoadedModel] = {}
_key_locks: dict[_Key, threading.Lock] = {}
_registry_lock = threading.Lock()


def load_model(
    source: str,
    device: str | None = None,
    dtype: torch.dtype | None = None,
    trust_remote_code: bool = False,
    report: Progress = _ignore_progress,
    loader: Callable[[str, str, torch.dtype, bool, Progress], LoadedModel] = _load_from_source,
) -> LoadedModel:
    """The shared `LoadedModel` for `source`, loading it on first use.

    Two widgets asking at once load it once; a failed load is not remembered, so asking again
    after fixing the cause (logging in, going online) retries. `trust_remote_code` runs a
    repository's own Python code: off unless the caller asks. `report` hears each loading
    step, for a progress line.
    """
    device = device or best_device()
    dtype = dtype or default_dtype(device)
    key = (source, device, str(dtype), trust_remote_code)
    with _registry_lock:
        if key in _registry:
            return _registry[key]
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _registry_lock:
            if key in _registry:
                return _registry[key]
        try:
            loaded = run_on_passing_thread(
                lambda: loader(source, device, dtype, trust_remote_code, report)
            )
        except GemmaWidgetError:
            raise
        except Exception as exc:
            raise explain_load_error(exc, source) from exc
        with _registry_lock:
            _registry[key] = loaded
        return loaded


def forget_models() -> None:
    """Drop every shared model (frees memory; the next widget loads afresh)."""
    with _registry_lock:
        _registry.clear()
