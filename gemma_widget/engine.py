"""Text in, attention out: tokenize, run one forward pass, collect the attention of every layer.

No widget code here, so scripts, tests and benchmarks use exactly what the widget uses.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .errors import ForwardError, NoAttentionError, check_text
from .loading import LoadedModel, text_config
from .masks import causal_attention_mask
from .result import AttentionResult
from .superseding import StopCheck, StopHooks, SupersededError
from .tokens import readable_token
from .torch_thread import run_on_torch_thread


class _Tokens(NamedTuple):
    ids: list[int]
    special: list[bool]
    in_prompt: list[bool]
    total: int  # before truncation


def _tokenize(loaded: LoadedModel, full_text: str, prompt_chars: int) -> _Tokens:
    """Tokenize once (twice only past the model's maximum); flag special and prompt tokens.

    A token belongs to the prompt when all its characters do: SentencePiece glues the prompt's
    trailing space to the text's first word, and that token is the text's.
    """
    tokenizer = loaded.tokenizer
    options: dict[str, bool | int] = {
        "return_special_tokens_mask": True,
        "return_offsets_mapping": prompt_chars > 0,
    }
    encoding = tokenizer(full_text, **options)
    total = len(encoding["input_ids"])
    if total > loaded.max_length:  # rare: tokenize again, letting the tokenizer keep <eos> etc.
        options.update(truncation=True, max_length=loaded.max_length)
        encoding = tokenizer(full_text, **options)
    ids = [int(i) for i in encoding["input_ids"]]
    special_ids = set(tokenizer.all_special_ids)
    special = [
        bool(flag) or token_id in special_ids
        for flag, token_id in zip(encoding["special_tokens_mask"], ids, strict=True)
    ]
    offsets = encoding.get("offset_mapping") or [(0, 0)] * len(ids)
    in_prompt = [
        prompt_chars > 0 and not is_special and end <= prompt_chars
        for is_special, (_, end) in zip(special, offsets, strict=True)
    ]
    return _Tokens(ids, special, in_prompt, total)


class _Forward(NamedTuple):
    attention: np.ndarray  # [layers, heads, n, n] float32
    hidden: np.ndarray | None  # [n, hidden] float32: the last hidden state, for embeddings


def _forward(
    loaded: LoadedModel, ids: list[int], causal: bool, should_stop: StopCheck | None
) -> _Forward:
    """One forward pass; the attention of every layer copied into one float32 array.

    `should_stop` is asked before each layer; when it says yes, `SupersededError` ends the pass.
    """
    input_ids = torch.tensor([ids], device=loaded.device)
    # No attention_mask for the model's own: one unpadded sequence needs none, and passing an
    # all-ones mask makes transformers build the eager mask the slow way (5 ms a call on Gemma 3).
    mask = (
        causal_attention_mask(text_config(loaded.model), len(ids), loaded.dtype, loaded.device)
        if causal
        else None
    )
    try:
        with loaded.lock, torch.inference_mode(), _stop_hooks(loaded).stoppable(should_stop):
            outputs = loaded.model(input_ids=input_ids, attention_mask=mask, output_attentions=True)
    except SupersededError:
        raise
    except torch.OutOfMemoryError as exc:
        raise ForwardError(
            f"Out of memory running {loaded.name} on {len(ids)} tokens ({loaded.device}).",
            "Shorten the text, close other widgets or notebooks, or load the model on another "
            "device (AttentionWidget(device='cpu')).",
        ) from exc
    except Exception as exc:
        raise ForwardError(
            f"The forward pass of {loaded.name} failed on {len(ids)} tokens: "
            f"{type(exc).__name__}: {exc}",
            "Try another text; if it keeps failing, check that the model is an encoder or "
            "decoder that takes input_ids.",
        ) from exc
    attentions = getattr(outputs, "attentions", None)
    if not attentions or any(layer is None for layer in attentions):
        raise NoAttentionError(
            f"{loaded.name} returned no attention weights.",
            "Use a transformer that supports output_attentions with the eager attention "
            "implementation (EmbeddingGemma, Gemma 3, BERT, ...); models without attention "
            "(Mamba, RWKV) have nothing to show.",
        )
    first = attentions[0]
    stacked = np.empty((len(attentions), first.shape[1], len(ids), len(ids)), dtype=np.float32)
    for index, layer in enumerate(attentions):
        stacked[index] = layer[0].to(torch.float32).cpu().numpy()
    last = getattr(outputs, "last_hidden_state", None)
    hidden = None if last is None else last[0].to(torch.float32).cpu().numpy()
    return _Forward(stacked, hidden)


def _stop_hooks(loaded: LoadedModel) -> StopHooks:
    """The model's layer hooks, installed on its first pass (the caller holds its lock)."""
    if loaded.stop_hooks is None:
        loaded.stop_hooks = StopHooks(loaded.model)
    return loaded.stop_hooks


def compute_attention(
    loaded: LoadedModel,
    text: str,
    prompt: str = "",
    *,
    causal: bool = False,
    should_stop: StopCheck | None = None,
) -> AttentionResult:
    """The attention of `prompt + text` under `loaded`; from the cache when seen recently.

    `prompt` is a task prefix such as EmbeddingGemma's `task: search result | query: `
    (see `prompts.PROMPTS`); its tokens are flagged in `AttentionResult.in_prompt`. `causal`
    runs the same weights under a causal mask (`masks.py`) instead of the model's own.
    `should_stop` lets the caller abandon the pass between layers (`superseding.py`).
    """
    key = (prompt, text, causal)
    cached = loaded.cache.get(key)
    if cached is not None:
        return cached
    check_text(prompt + text)  # only texts that passed it are ever cached
    if text == "":
        empty = np.zeros((loaded.num_layers, loaded.num_heads, 0, 0), dtype=np.float32)
        return AttentionResult(text, [], [], [], empty, 0, prompt, [], causal=causal)
    tokenized = _tokenize(loaded, prompt + text, len(prompt))
    forward = run_on_torch_thread(lambda: _forward(loaded, tokenized.ids, causal, should_stop))
    pieces = loaded.tokenizer.convert_ids_to_tokens(tokenized.ids)
    tokens = [readable_token(piece, loaded.byte_level_tokens) for piece in pieces]
    result = AttentionResult(
        text,
        tokens,
        tokenized.ids,
        tokenized.special,
        forward.attention,
        tokenized.total,
        prompt,
        tokenized.in_prompt,
        hidden=forward.hidden,
        causal=causal,
    )
    loaded.cache.put(key, result)
    return result
