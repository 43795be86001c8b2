"""The attention engine on real loading paths: tiny Gemma 3 encoder, real tokenizers."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np
import torch

from gemma_widget import compute_attention, load_model
from gemma_widget.cache import ResultCache
from gemma_widget.loading import _load_from_source, best_device, default_dtype
from gemma_widget.prompts import PROMPTS


def test_loads_through_from_pretrained_with_eager_attention(tiny_gemma: Path) -> None:
    loaded = load_model(str(tiny_gemma))
    assert type(loaded.model).__name__ == "Gemma3TextModel"
    assert loaded.model.config._attn_implementation == "eager"
    assert loaded.model.config.use_bidirectional_attention is True
    assert (loaded.num_layers, loaded.num_heads) == (4, 3)
    assert loaded.dtype == torch.float32
    assert loaded.device == "cpu"
    assert loaded.max_length == 2048  # min(max_position_embeddings, tokenizer's 32768)
    assert loaded.layer_types[-1] == "full_attention"


def test_device_and_dtype_choice_on_this_machine() -> None:
    assert best_device() == ("cuda" if torch.cuda.is_available() else "cpu")
    assert default_dtype("cpu") == torch.float32  # float16 overflows on EmbeddingGemma


def test_attention_shape_rows_and_tokens(tiny_gemma: Path) -> None:
    result = compute_attention(load_model(str(tiny_gemma)), "The cat sat on the mat.")
    assert result.tokens == ["<bos>", "The", " cat", " sat", " on", " the", " mat", "."]
    assert result.special == [True] + [False] * 7
    assert result.attention.dtype == np.float32
    assert result.attention.shape == (4, 3, 8, 8)
    np.testing.assert_allclose(result.attention.sum(axis=-1), 1.0, rtol=1e-5)
    assert not result.truncated


def test_attention_is_bidirectional(tiny_gemma: Path) -> None:
    """Earlier tokens attend to later ones: the upper triangle carries weight, unlike GPT."""
    result = compute_attention(load_model(str(tiny_gemma)), "one two three four five")
    full_layer = result.attention[3]
    upper = np.triu(full_layer, k=1).sum(axis=(-1, -2))
    assert (upper > 0.5).all(), upper


def test_sliding_window_layers_are_local_both_ways(tiny_gemma: Path) -> None:
    """Sliding layers see a symmetric window; the full layer sees everything."""
    text = " ".join(["word"] * 30)
    attention = compute_attention(load_model(str(tiny_gemma)), text).attention
    n = attention.shape[-1]
    far = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) >= 8  # window 8
    assert attention[0][:, far].max() == 0.0
    assert attention[3][:, far].min() > 0.0


def test_readable_tokens_for_special_typed_and_whitespace(tiny_gemma: Path) -> None:
    result = compute_attention(load_model(str(tiny_gemma)), "a\nb <bos>")
    assert "\n" in result.tokens
    assert "▁" not in "".join(result.tokens)
    assert result.special[result.tokens.index("<bos>", 1)]  # typed <bos> is still special


def test_truncates_to_the_model_maximum_and_reports_it(tiny_gemma: Path) -> None:
    short = dataclasses.replace(load_model(str(tiny_gemma)), max_length=6, cache=ResultCache())
    result = compute_attention(short, "one two three four five six seven eight")
    assert len(result.tokens) == 6
    assert result.total_tokens == 9
    assert result.truncated
    assert result.attention.shape[-1] == 6


def test_empty_text_gives_no_tokens_without_a_forward_pass(tiny_gemma: Path) -> None:
    result = compute_attention(load_model(str(tiny_gemma)), "")
    assert result.tokens == []
    assert result.attention.shape == (4, 3, 0, 0)


def test_repeated_text_comes_from_the_cache(tiny_gemma: Path) -> None:
    loaded = load_model(str(tiny_gemma))
    first = compute_attention(loaded, "backspace brings me back")
    compute_attention(loaded, "backspace brings me bac")
    assert compute_attention(loaded, "backspace brings me back") is first


def test_cache_stays_within_its_byte_budget(tiny_gemma: Path) -> None:
    loaded = dataclasses.replace(load_model(str(tiny_gemma)), cache=ResultCache(200_000))
    for k in range(30):
        compute_attention(loaded, f"text number {k} " * 3)
    assert 0 < loaded.cache.nbytes <= 200_000
    assert len(loaded.cache) < 30


def test_one_model_per_source_even_when_loaded_concurrently(fresh_tiny_gemma: Path) -> None:
    calls = []

    def counting_loader(source: str, device: str, dtype: torch.dtype, trust: bool, report):
        calls.append(source)
        return _load_from_source(source, device, dtype, trust, report)

    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(load_model(str(fresh_tiny_gemma), loader=counting_loader))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert results[0] is results[1] is results[2]


def test_any_model_path_with_real_bert_weights(minilm_dir: Path) -> None:
    loaded = load_model(str(minilm_dir))
    result = compute_attention(loaded, "Attention is all you need")
    assert result.tokens[0] == "[CLS]"
    assert result.tokens[-1] == "[SEP]"
    assert result.special[0]
    assert result.special[-1]
    assert result.attention.shape == (6, 12, len(result.tokens), len(result.tokens))
    np.testing.assert_allclose(result.attention.sum(axis=-1), 1.0, rtol=1e-4)


def test_prompt_tokens_are_flagged_and_the_text_keeps_its_first_word(tiny_gemma: Path) -> None:
    result = compute_attention(load_model(str(tiny_gemma)), "hello world", PROMPTS["query"])
    assert result.tokens == [
        "<bos>", "task", ":", " search", " result", " |", " query", ":", " hello", " world",
    ]  # fmt: skip
    assert result.in_prompt == [False] + [True] * 7 + [False, False]
    assert result.prompt == "task: search result | query: "
    assert result.text == "hello world"
    plain = compute_attention(load_model(str(tiny_gemma)), "hello world")
    assert plain.in_prompt == [False] * 3
    assert plain is not result  # the cache keys on (prompt, text)


def test_attention_equals_the_explicitly_masked_forward(tiny_gemma: Path, minilm_dir: Path) -> None:
    """The engine passes no attention_mask (faster); the attention is the same as with one."""
    for source in (tiny_gemma, minilm_dir):
        loaded = load_model(str(source))
        text = "A sentence long enough to cross the sliding window of the tiny model, twice."
        result = compute_attention(loaded, text)
        ids = torch.tensor([result.token_ids])
        with torch.inference_mode():
            masked = loaded.model(
                input_ids=ids, attention_mask=torch.ones_like(ids), output_attentions=True
            ).attentions
        expected = np.stack([layer[0].numpy() for layer in masked])
        np.testing.assert_allclose(result.attention, expected, atol=1e-6)
