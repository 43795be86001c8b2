"""Sentence embeddings made the model's own way, split into what each token contributes.

EmbeddingGemma's embedding is its Sentence Transformers pipeline: mean pooling over the last
hidden state, two Dense layers (768 -> 3072 -> 768) and normalisation. When those modules sit
next to the weights (`modules.json`, `1_Pooling/`, `2_Dense/`, ...), `load_pipeline` reads them;
otherwise the embedding is plain mean pooling and says so.

Pooling is a sum over tokens and, for EmbeddingGemma, the Dense layers are linear, so the vector
before normalisation is exactly a sum of per-token parts. Those parts say how much each token
moves the embedding, and how much it adds to a pair's cosine similarity (the contributions sum
to it). A non-linear head (e.g. Tanh) is linearised at the pooled vector, and labelled so.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .torch_thread import run_on_torch_thread

# Sentence Transformers pooling modes, old-style config keys first (as saved before v5).
_LEGACY_MODES = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
POOLING_MODES = tuple(_LEGACY_MODES.values())
# Matryoshka sizes offered besides the full one (EmbeddingGemma was trained for these).
MATRYOSHKA_DIMENSIONS = (768, 512, 256, 128)
_IDENTITY = "torch.nn.modules.linear.Identity"
# Modules that change nothing at inference time.
_NO_OPS = {"Transformer", "Dropout"}


if TYPE_CHECKING:
    from .loading import LoadedModel
    from .result import AttentionResult


class PipelineError(ValueError):
    """The Sentence Transformers modules next to the weights cannot be reproduced here."""


@dataclass(frozen=True)
class DenseLayer:
    """One Sentence Transformers `Dense` module: activation(weight @ x + bias) (+ residual)."""

    weight: torch.Tensor  # [out, in]
    bias: torch.Tensor | None
    activation: str  # dotted path of a torch.nn module, as saved
    residual: torch.Tensor | None = None  # [out, in] when in != out; identity when in == out
    use_residual: bool = False

    @property
    def linear(self) -> bool:
        return self.activation == _IDENTITY

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = _activation(self.activation)(self.linear_part(x) + self._bias())
        return out + self._residual(x)

    def linear_part(self, x: torch.Tensor) -> torch.Tensor:
        """weight @ x (+ the residual's projection), without the bias: maps token parts."""
        return x @ self.weight.T + (self._residual(x) if self.linear else 0)

    def _bias(self) -> torch.Tensor | float:
        return 0.0 if self.bias is None else self.bias

    def _residual(self, x: torch.Tensor) -> torch.Tensor | float:
        if not self.use_residual:
            return 0.0
        return x if self.residual is None else x @ self.residual.T


def _activation(path: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """A torch.nn activation named by its dotted path; nothing outside torch.nn is imported."""
    name = path.rsplit(".", 1)[-1]
    module = getattr(torch.nn, name, None) if path.startswith("torch.nn.") else None
    if not (isinstance(module, type) and issubclass(module, torch.nn.Module)):
        raise PipelineError(f"activation {path!r} is not a torch.nn module")
    instance: Callable[[torch.Tensor], torch.Tensor] = module()
    return instance


@dataclass(frozen=True)
class Embedding:
    """One text's embedding: the vector before normalisation is `parts.sum(0) + rest`.

    `parts[i]` is token i's share (`[n, size]`); `rest` is what no token owns (biases, and the
    linearisation error of a non-linear head). `exact` is False when the head was linearised.
    """

    parts: np.ndarray
    rest: np.ndarray
    unnormalised: np.ndarray
    normalise: bool
    exact: bool

    @property
    def size(self) -> int:
        return int(self.unnormalised.shape[0])

    def vector(self, dimensions: int | None = None) -> np.ndarray:
        """What Sentence Transformers' `encode(..., truncate_dim=dimensions)` returns."""
        full = self.unnormalised
        if self.normalise:
            full = full / max(float(np.linalg.norm(full)), 1e-12)
        return full[: dimensions or self.size]


@dataclass(frozen=True)
class SentencePipeline:
    """Pooling, Dense layers and normalisation, as the model's Sentence Transformers config says."""

    modes: tuple[str, ...]
    include_prompt: bool
    dense: tuple[DenseLayer, ...]
    normalise: bool
    description: str  # what the widget shows: which pipeline, and why when it is a fallback
    own: bool  # True: the model's own modules; False: mean pooling in their absence

    @property
    def linear(self) -> bool:
        return all(layer.linear for layer in self.dense)

    def embed(self, hidden: np.ndarray, pooled: np.ndarray) -> Embedding:
        """The embedding of one text from its last hidden state `[n, d]`.

        `pooled` flags the tokens pooling reads (all of them, or all but the prompt when the
        config excludes it).
        """
        return run_on_torch_thread(lambda: self._embed(hidden, pooled))

    def _embed(self, hidden: np.ndarray, pooled: np.ndarray) -> Embedding:
        states = torch.from_numpy(np.asarray(hidden, dtype=np.float32))
        keep = torch.from_numpy(np.asarray(pooled, dtype=bool))
        if not bool(keep.any()):
            raise PipelineError("no token left to pool")
        with torch.no_grad():
            parts = torch.cat([_mode_parts(mode, states, keep) for mode in self.modes], dim=1)
            pooled_vector = parts.sum(0)
            output = self._head(pooled_vector)
            if self.dense and self.linear:
                parts = parts @ self._linear_map.T
            elif self.dense:
                jacobian = torch.autograd.functional.jacobian(  # type: ignore[no-untyped-call]
                    self._head, pooled_vector
                )
                parts = parts @ jacobian.T
            rest = output - parts.sum(0)
        return Embedding(
            parts=parts.numpy(),
            rest=rest.numpy(),
            unnormalised=output.numpy(),
            normalise=self.normalise,
            exact=self.linear,
        )

    @cached_property
    def _linear_map(self) -> torch.Tensor:
        """A linear head's Dense layers as one matrix (without biases): EmbeddingGemma's
        768 -> 3072 -> 768 becomes 768 x 768, so mapping 2048 token parts costs 4x less."""
        with torch.no_grad():
            mapped = torch.eye(self.dense[0].weight.shape[1])
            for layer in self.dense:
                mapped = layer.linear_part(mapped)
        return mapped.T

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.dense:
            x = layer(x)
        return x


def _mode_parts(mode: str, states: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Each token's share of one pooling mode's output (`[n, d]`, summing to it)."""
    n = states.shape[0]
    kept = keep.to(states.dtype)
    count = float(kept.sum())
    if mode == "mean":
        weights = kept / count
    elif mode == "mean_sqrt_len_tokens":
        weights = kept / math.sqrt(count)
    elif mode == "weightedmean":
        positions = kept * torch.arange(1, n + 1, dtype=states.dtype)
        weights = positions / positions.sum()
    elif mode in ("cls", "lasttoken"):
        index = torch.nonzero(keep).flatten()
        weights = torch.zeros(n, dtype=states.dtype)
        weights[index[0] if mode == "cls" else index[-1]] = 1.0
    elif mode == "max":  # each dimension belongs to the token that holds its maximum
        masked = states.masked_fill(~keep[:, None], float("-inf"))
        winners = masked.argmax(0)
        owner = torch.zeros_like(states)
        owner[winners, torch.arange(states.shape[1])] = 1.0
        return owner * states
    else:
        raise PipelineError(f"pooling mode {mode!r} is not one of {', '.join(POOLING_MODES)}")
    return weights[:, None] * states


def mean_pooling(why: str) -> SentencePipeline:
    """The fallback: mean over every token, normalised, labelled with why it is used."""
    return SentencePipeline(
        modes=("mean",),
        include_prompt=True,
        dense=(),
        normalise=True,
        description=f"mean pooling, normalised ({why})",
        own=False,
    )


FileGetter = Callable[[str], Path | None]


def load_pipeline(get_file: FileGetter, name: str) -> SentencePipeline:
    """The pipeline described by `modules.json`, reading files through `get_file`.

    `get_file("1_Pooling/config.json")` returns a local path or None when the file does not
    exist. Without `modules.json` the embedding is mean pooling, labelled as such; a pipeline
    with a module this cannot reproduce falls back the same way and says which module.
    """
    modules_file = get_file("modules.json")
    if modules_file is None:
        return mean_pooling(f"no Sentence Transformers modules next to the weights of {name}")
    try:
        return _read_pipeline(json.loads(modules_file.read_text()), get_file, name)
    except (PipelineError, OSError, KeyError, TypeError, ValueError) as exc:
        return mean_pooling(
            f"the Sentence Transformers pipeline of {name} is not reproducible: {exc}"
        )


def _read_pipeline(
    modules: list[dict[str, Any]], get_file: FileGetter, name: str
) -> SentencePipeline:
    modes: tuple[str, ...] = ()
    include_prompt = True
    dense: list[DenseLayer] = []
    normalise = False
    steps: list[str] = []
    for module in sorted(modules, key=lambda entry: int(entry.get("idx", 0))):
        kind = str(module["type"]).rsplit(".", 1)[-1]
        folder = str(module.get("path", ""))
        if kind in _NO_OPS:
            continue
        if kind == "Pooling":
            modes, include_prompt = _read_pooling(_read_json(get_file, folder, "config.json"))
            steps.append(
                " + ".join(modes) + " pooling" + ("" if include_prompt else " (text only)")
            )
        elif kind == "Dense":
            layer = _read_dense(get_file, folder)
            dense.append(layer)
            out_size, in_size = layer.weight.shape
            activation = "" if layer.linear else f" ({layer.activation.rsplit('.', 1)[-1]})"
            steps.append(f"Dense {in_size}→{out_size}{activation}")
        elif kind == "Normalize":
            normalise = True
            steps.append("normalise")
        else:
            raise PipelineError(f"it has a {kind} module")
    if not modes:
        raise PipelineError("it has no Pooling module")
    return SentencePipeline(
        modes=modes,
        include_prompt=include_prompt,
        dense=tuple(dense),
        normalise=normalise,
        description=f"Sentence Transformers pipeline of {name}: " + " → ".join(steps),
        own=True,
    )


def _read_json(get_file: FileGetter, folder: str, file: str) -> dict[str, Any]:
    path = get_file(f"{folder}/{file}" if folder else file)
    if path is None:
        raise PipelineError(f"{folder}/{file} is missing")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _read_pooling(config: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
    mode = config.get("pooling_mode")
    if mode is None:
        modes = tuple(value for key, value in _LEGACY_MODES.items() if config.get(key)) or ("mean",)
    else:
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
    for each in modes:
        if each not in POOLING_MODES:
            raise PipelineError(f"pooling mode {each!r} is unknown")
    return modes, bool(config.get("include_prompt", True))


def _read_dense(get_file: FileGetter, folder: str) -> DenseLayer:
    config = _read_json(get_file, folder, "config.json")
    activation = str(config.get("activation_function") or "torch.nn.modules.activation.Tanh")
    _activation(activation)  # refuse anything outside torch.nn before reading weights
    state = _read_weights(get_file, folder)
    bias = state.get("linear.bias") if config.get("bias", True) else None
    return DenseLayer(
        weight=state["linear.weight"].to(torch.float32),
        bias=None if bias is None else bias.to(torch.float32),
        activation=activation,
        residual=state.get("residual.weight"),
        use_residual=bool(config.get("use_residual", False)),
    )


def _read_weights(get_file: FileGetter, folder: str) -> dict[str, torch.Tensor]:
    safetensors = get_file(f"{folder}/model.safetensors")
    if safetensors is not None:
        from safetensors.torch import load_file

        return load_file(str(safetensors))
    pickled = get_file(f"{folder}/pytorch_model.bin")
    if pickled is None:
        raise PipelineError(f"{folder} has no model.safetensors or pytorch_model.bin")
    state: dict[str, torch.Tensor] = torch.load(pickled, map_location="cpu", weights_only=True)
    return state


def similarity(a: Embedding, b: Embedding, dimensions: int | None = None) -> float:
    """Cosine similarity of two embeddings truncated to `dimensions` (Matryoshka)."""
    x, y = a.vector(dimensions), b.vector(dimensions)
    return float(x @ y / max(float(np.linalg.norm(x) * np.linalg.norm(y)), 1e-12))


@dataclass(frozen=True)
class Contributions:
    """Per-token shares of a number: `tokens.sum() + rest` equals it."""

    tokens: np.ndarray
    rest: float


def to_similarity(a: Embedding, b: Embedding, dimensions: int | None = None) -> Contributions:
    """What each token of `a` adds to cos(a, b): its part projected on b's direction over |a|."""
    size = dimensions or a.size
    other = b.vector(size)
    direction = other / max(float(np.linalg.norm(other)), 1e-12)
    length = max(float(np.linalg.norm(a.unnormalised[:size])), 1e-12)
    tokens = a.parts[:, :size] @ direction / length
    return Contributions(tokens, float(a.rest[:size] @ direction / length))


def to_embedding(a: Embedding, dimensions: int | None = None) -> Contributions:
    """What each token adds to its own embedding: its part along the embedding, summing to 1."""
    size = dimensions or a.size
    whole = a.unnormalised[:size]
    energy = max(float(whole @ whole), 1e-24)
    return Contributions(a.parts[:, :size] @ whole / energy, float(a.rest[:size] @ whole / energy))


_pipelines_lock = threading.Lock()


def pipeline_for(loaded: LoadedModel) -> SentencePipeline:
    """The pipeline of a loaded model, read once (from its folder, or the hub's copy of it)."""
    with _pipelines_lock:
        if loaded.pipeline is None and loaded.location is None:
            why = f"{loaded.label} was passed as an object: no folder to read modules from"
            loaded.pipeline = mean_pooling(why)
        elif loaded.pipeline is None:
            loaded.pipeline = load_pipeline(_file_getter(loaded), loaded.label)
        return loaded.pipeline


def _file_getter(loaded: LoadedModel) -> FileGetter:
    location = loaded.location
    assert location is not None
    if not loaded.from_hub:
        folder = Path(location)
        return lambda name: (folder / name) if (folder / name).is_file() else None

    def from_hub(name: str) -> Path | None:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

        try:
            return Path(hf_hub_download(location, name, local_files_only=not loaded.hub_online))
        except (EntryNotFoundError, LocalEntryNotFoundError):
            return None

    return from_hub


def pooled_tokens(result: AttentionResult, pipeline: SentencePipeline) -> np.ndarray:
    """Which tokens pooling reads: all, or (when the config excludes the prompt) all but the
    leading special and prompt tokens, as Sentence Transformers counts its prompt length."""
    keep = np.ones(len(result.tokens), dtype=bool)
    if pipeline.include_prompt or not result.prompt:
        return keep
    for index, (special, in_prompt) in enumerate(
        zip(result.special, result.in_prompt, strict=True)
    ):
        if not (special or in_prompt):
            break
        keep[index] = False
    return keep


def embed_result(result: AttentionResult, pipeline: SentencePipeline) -> Embedding:
    """The embedding of a computed text (its last hidden state must have been kept)."""
    if result.hidden is None:
        raise PipelineError("this result has no hidden states (precomputed attention)")
    if not result.tokens:
        raise PipelineError("the text is empty")
    return pipeline.embed(result.hidden, pooled_tokens(result, pipeline))
