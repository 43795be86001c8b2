"""Errors a user can act on: each says what went wrong and how to fix it.

The widget shows `message` and `fix` in place; Python raises the same exception from `wait()`.
Loading failures from transformers / huggingface_hub arrive as assorted `OSError`s; this module
turns them into one of a few kinds, each with its own fix.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

HUB_URL = "https://huggingface.co"


class GemmaWidgetError(Exception):
    """Base class: `message` says what happened, `fix` what to do about it."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}\nFix: {self.fix}" if self.fix else self.message


class ModelAccessError(GemmaWidgetError):
    """The model exists but is gated, or the user is not logged in."""


class ModelNotFoundError(GemmaWidgetError):
    """No such model on the hub or on disk, or the hub cannot be reached and nothing is cached."""


class ModelLoadError(GemmaWidgetError):
    """The files were found but could not be turned into a model."""


class NoAttentionError(GemmaWidgetError):
    """The model ran but returned no attention weights."""


class TextError(GemmaWidgetError):
    """The text cannot be tokenized (it is not valid Unicode)."""


def check_text(text: str) -> None:
    """Reject unpaired surrogates: no tokenizer or JSON channel can carry them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise TextError(
            f"The text contains an unpaired surrogate (U+{ord(text[exc.start]):04X} at position "
            f"{exc.start}), which is not valid Unicode.",
            "Remove it; such characters come from broken copy-paste or from decoding bytes with "
            "errors='surrogateescape'.",
        ) from None


class ForwardError(GemmaWidgetError):
    """The forward pass failed (for example out of memory on a long text)."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it was raised from, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def gated_model_error(model: str) -> ModelAccessError:
    return ModelAccessError(
        f"{model} is a gated model: your Hugging Face account must accept its licence before "
        "the weights can be downloaded.",
        f"Accept the licence at {HUB_URL}/{model}, then log in: run `hf auth login` in a "
        "terminal, or set the HF_TOKEN environment variable (in Colab: add a secret named "
        "HF_TOKEN), and set the model again (or type) to retry.",
    )


def model_not_found_error(model: str) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"No model named {model!r}: it is not a folder on this machine and the Hugging Face Hub "
        "has no repository of that name (or it is private).",
        "Check the spelling (the default is google/embeddinggemma-300m), pass the path of a "
        "folder holding config.json, or log in (`hf auth login`) if the repository is private.",
    )


def offline_error(model: str) -> ModelNotFoundError:
    offline_flag = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false", "False")
    why = "HF_HUB_OFFLINE is set" if offline_flag else "the Hugging Face Hub could not be reached"
    return ModelNotFoundError(
        f"Cannot load {model}: {why} and the model is not in the local cache.",
        "Connect to the internet (and unset HF_HUB_OFFLINE) to download it once, or pass the "
        "path of a local copy: AttentionWidget(model='/path/to/model').",
    )


def explain_load_error(exc: BaseException, model: str) -> GemmaWidgetError:
    """Classify an exception raised while loading `model` into an error with a fix."""
    for link in _chain(exc):
        if isinstance(link, GemmaWidgetError):
            return link
        kind = type(link).__name__
        text = str(link).lower()
        if kind == "GatedRepoError" or "gated repo" in text or "is gated" in text:
            return gated_model_error(model)
        if kind in ("RepositoryNotFoundError", "RevisionNotFoundError") or (
            "not a valid model identifier" in text
        ):
            return model_not_found_error(model)
        if "trust_remote_code" in text:
            return ModelLoadError(
                f"{model} ships its own Python code, which is not run unless you ask.",
                "If you trust the repository, pass trust_remote_code=True "
                "(AttentionWidget(..., trust_remote_code=True)).",
            )
        if kind in ("LocalEntryNotFoundError", "OfflineModeIsEnabled") or (
            "couldn't connect" in text or "offline mode" in text
        ):
            return offline_error(model)
    return ModelLoadError(
        f"Could not load {model}: {type(exc).__name__}: {exc}",
        "Check that the path or hub id points at a transformers model with a tokenizer; "
        "pass tokenizer=... if the tokenizer lives elsewhere.",
    )
