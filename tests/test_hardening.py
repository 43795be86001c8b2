"""Hostile text, rapid updates, many widgets, failures: a clear result or error, nothing lost."""

from __future__ import annotations

import gc
import resource
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import traitlets
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gemma_widget import AttentionWidget, ForwardError, TextError, compute_attention, load_model
from gemma_widget.cache import ResultCache

HOSTILE = [
    "",
    " ",
    "\t\n\r  \n",
    "\x00",
    "a\x00b\x07\x1b[31m",
    "日本語のテキストと中文文本",
    "\u202eevil\u202c שלום עליכם مرحبا",
    "e\u0301\u0301\u0301\u0301",
    "👩\u200d👩\u200d👧\u200d👦🏳️\u200d🌈",
    "\ufeff\u200b\u2028\u2029",
    "\U0010ffff\U000e0001",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "<script>alert(1)</script>",
    "a" * 20_000,
    "🙂" * 3_000,
]

unicode_text = st.text(
    alphabet=st.characters(codec="utf-8"),  # everything encodable: no lone surrogates
    max_size=300,
)


def check_result_is_consistent(text: str, tokens: list[str], attention: np.ndarray) -> None:
    n = len(tokens)
    assert attention.shape[-2:] == (n, n)
    if text:
        assert n >= 1
        np.testing.assert_allclose(attention.sum(axis=-1), 1.0, rtol=1e-4)
    assert np.isfinite(attention).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=unicode_text)
@example(text="")
def test_engine_gives_tokens_for_any_unicode(tiny_gemma: Path, text: str) -> None:
    result = compute_attention(load_model(str(tiny_gemma)), text)
    check_result_is_consistent(text, result.tokens, result.attention)
    assert len(result.special) == len(result.tokens) == len(result.token_ids)


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_widget_handles_hostile_text(tiny_gemma: Path, text: str) -> None:
    w = AttentionWidget(text, model=str(tiny_gemma)).wait(timeout=120)
    assert w.status == "ready"
    assert w.rendered_text == text
    check_result_is_consistent(text, w.tokens, w.attention)
    if len(text) > 10_000:
        assert "Showing the first 2048" in w.notice


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(unicode_text, min_size=1, max_size=6))
def test_widget_settles_on_the_last_of_any_burst(tiny_gemma: Path, texts: list[str]) -> None:
    w = AttentionWidget(model=str(tiny_gemma)).wait(timeout=120)
    for text in texts:
        w.set_state({"text": text})
    w.wait(timeout=120)
    assert w.status == "ready"
    assert w.rendered_text == texts[-1]
    w.close()


def test_unpaired_surrogates_are_refused_and_the_text_kept(tiny_gemma: Path) -> None:
    w = AttentionWidget("kept", model=str(tiny_gemma)).wait(timeout=60)
    with pytest.raises(traitlets.TraitError, match=r"unpaired surrogate \(U\+D800 at position 1\)"):
        w.text = "a\ud800b"
    assert w.text == "kept"
    with pytest.raises(TextError):
        compute_attention(load_model(str(tiny_gemma)), "\udfff")


def test_out_of_memory_shows_an_error_then_recovers(fresh_tiny_gemma: Path) -> None:
    """Out of memory is simulated with a real forward pre-hook that raises torch's OOM error."""
    w = AttentionWidget("short", model=str(fresh_tiny_gemma)).wait(timeout=60)
    assert w.loaded_model is not None

    def run_out_of_memory_on_long_inputs(module, args, kwargs):
        if kwargs["input_ids"].shape[-1] > 20:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    hook = w.loaded_model.model.register_forward_pre_hook(
        run_out_of_memory_on_long_inputs, with_kwargs=True
    )
    try:
        long_text = " ".join(["word"] * 40)
        w.text = long_text
        with pytest.raises(ForwardError):
            w.wait(timeout=60)
        assert w.status == "error"
        assert w.error.startswith("Out of memory running")
        assert "Shorten the text" in w.error_fix
        assert w.text == long_text  # nothing typed is lost
        assert w.rendered_text == "short"  # the last good view stays
        w.text = "short again"
        w.wait(timeout=60)
        assert w.status == "ready"
        assert w.error == ""
    finally:
        hook.remove()


def test_widgets_created_at_once_load_the_model_once(fresh_tiny_gemma: Path) -> None:
    widgets = []
    threads = [
        threading.Thread(
            target=lambda k=k: widgets.append(AttentionWidget(f"w{k}", model=str(fresh_tiny_gemma)))
        )
        for k in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for w in widgets:
        w.wait(timeout=120)
    assert len({id(w.loaded_model) for w in widgets}) == 1
    assert sorted(w.rendered_text for w in widgets) == ["w0", "w1", "w2", "w3"]


def test_closing_a_widget_stops_its_work_and_frees_its_result(tiny_gemma: Path) -> None:
    w = AttentionWidget("to be closed", model=str(tiny_gemma)).wait(timeout=60)
    other = AttentionWidget("still open", model=str(tiny_gemma)).wait(timeout=60)
    worker = w._worker
    w.close()
    assert worker._thread is not None
    worker._thread.join(timeout=10)
    assert not worker.alive
    assert w._result is None
    other.text = "works on"  # the shared model is untouched by the close
    assert other.wait(timeout=60).rendered_text == "works on"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_soak_of_1000_updates_keeps_memory_and_cache_bounded(tiny_gemma: Path) -> None:
    w = AttentionWidget(model=str(tiny_gemma)).wait(timeout=60)
    assert w.loaded_model is not None
    budget = 2_000_000
    w.loaded_model.cache = ResultCache(budget)
    # ~100 tokens: each result is ~0.5 MB, so keeping 800 of them would show as 400 MB.
    base = " ".join(["the quick brown fox jumps over a lazy dog"] * 10)
    peak_after_warmup = 0.0
    for k in range(1000):
        w.set_state({"text": base + f" {k}" * (1 + k % 7)})
        w.wait(timeout=60)
        if k == 199:
            gc.collect()
            peak_after_warmup = _rss_mb()
        assert w.loaded_model.cache.nbytes <= budget
    gc.collect()
    assert w.status == "ready"
    assert w.rendered_text.endswith(" 999" * (1 + 999 % 7))
    growth = _rss_mb() - peak_after_warmup
    assert growth < 100, f"peak RSS grew {growth:.1f} MB over 800 updates"
    assert 0 < len(w.loaded_model.cache) < 1000


def test_typing_stops_the_pass_for_text_it_overtook(fresh_tiny_gemma: Path) -> None:
    """A pass whose text was overtaken ends at its next layer (its result would never be drawn:
    the box holds newer text): only the newest text's pass runs to the end, so the widget settles
    one pass after the last key, not up to two."""
    import time

    w = AttentionWidget("warm up", model=str(fresh_tiny_gemma)).wait(timeout=60)
    model = w.loaded_model.model  # type: ignore[union-attr]
    started = threading.Event()

    def slow_layer(module: torch.nn.Module, args: object) -> None:
        started.set()
        time.sleep(0.2)

    completed: list[int] = []
    handles = [layer.register_forward_pre_hook(slow_layer) for layer in model.layers]
    handles.append(model.register_forward_hook(lambda *_: completed.append(1)))
    try:
        w.text = "a first text that typing overtakes"
        assert started.wait(timeout=30)
        w.text = "the second text"  # while the first pass is in its first layer
        w.wait(timeout=60)
    finally:
        for handle in handles:
            handle.remove()
    assert w.rendered_text == "the second text"
    assert completed == [1]  # the first pass stopped before its end; the second finished
    assert w.status == "ready"
    assert w.error == ""
