"""The widget played from Python, as the front end would drive it (set_state, trait changes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import ipywidgets
import numpy as np
import pytest
import traitlets
from ipywidgets.widgets.widget import _remove_buffers
from transformers import AutoModel, AutoTokenizer

from gemma_widget import AttentionWidget, ModelNotFoundError
from gemma_widget.wire import (
    SCALE,
    WINDOW_ROWS,
    decode_attention,
    encode_attention,
    layers_to_send,
    sends_window,
)


@pytest.fixture
def widget(tiny_gemma: Path) -> AttentionWidget:
    return AttentionWidget("The cat sat.", model=str(tiny_gemma)).wait(timeout=60)


def test_constructor_returns_at_once_and_loads_behind(fresh_tiny_gemma: Path) -> None:
    w = AttentionWidget("quick", model=str(fresh_tiny_gemma))
    assert w.status == "loading"
    with pytest.raises(TimeoutError):
        w.wait(timeout=0)
    assert w.wait(timeout=60).status == "ready"


def test_ready_state_holds_tokens_shape_and_binary_attention(widget: AttentionWidget) -> None:
    assert widget.status == "ready"
    assert widget.tokens == ["<bos>", "The", " cat", " sat", "."]
    assert widget.special == [True, False, False, False, False]
    assert (widget.num_layers, widget.num_heads) == (4, 3)
    assert widget.rendered_text == "The cat sat."
    assert widget.model_info.endswith("cpu · float32")
    assert widget.attention.shape == (4, 3, 5, 5)
    sent = decode_attention(widget._attention_buffer, widget._attention_meta)  # type: ignore[arg-type]
    np.testing.assert_allclose(sent, widget.attention, atol=0.5 / SCALE + 1e-7)


def test_attention_travels_as_a_binary_buffer_not_json(widget: AttentionWidget) -> None:
    state, buffer_paths, buffers = _remove_buffers(widget.get_state())
    assert ["_attention_buffer"] in buffer_paths
    assert "_attention_buffer" not in state
    assert sum(len(b) for b in buffers) == 4 * 3 * 5 * 5 * 2


def test_typing_from_the_front_end_recomputes(widget: AttentionWidget) -> None:
    widget.set_state({"text": "A dog ran."})
    assert widget.status == "running"
    widget.wait(timeout=60)
    assert widget.tokens == ["<bos>", "A", " dog", " ran", "."]
    assert widget.rendered_text == "A dog ran."


def test_latest_text_wins_and_stale_results_are_dropped(widget: AttentionWidget) -> None:
    seen: list[str] = []
    widget.observe(lambda change: seen.append(change["new"]), "rendered_text")
    texts = ["T", "Ty", "Typ", "Typi", "Typin", "Typing fast"]
    for text in texts:
        widget.set_state({"text": text})
    widget.wait(timeout=60)
    assert widget.rendered_text == "Typing fast"
    assert seen[-1] == "Typing fast"
    assert len(seen) < len(texts)  # intermediate texts were skipped, not queued
    assert all(text in texts for text in seen)


def test_keystrokes_do_not_run_on_the_caller_thread(widget: AttentionWidget) -> None:
    threads: set[str] = set()
    original = widget._refresh

    def recording_refresh() -> None:
        threads.add(threading.current_thread().name)
        original()

    widget._worker._job = recording_refresh
    widget.set_state({"text": "off the main thread"})
    widget.wait(timeout=60)
    assert threads == {"gemma-widget"}


def test_layer_and_head_from_the_front_end(widget: AttentionWidget) -> None:
    widget.set_state({"layer": 2, "head": 1, "all_heads": True})
    assert (widget.layer, widget.head, widget.all_heads) == (2, 1, True)


def test_view_changes_from_the_page_are_not_echoed_but_text_is(
    widget: AttentionWidget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page sends slider steps late (js/view-sync.ts): an echo of an earlier step would
    move its slider back. Text is sent at once and still echoed, for other open pages."""
    sent: list[dict[str, object]] = []
    monkeypatch.setattr(widget, "_send", lambda msg, buffers=None: sent.append(msg))
    view_state = {"layer": 1, "head": 1, "all_heads": True, "view": "matrix", "scale": "log"}
    widget.set_state(view_state | {"selected_token": 0, "window_start": 0, "statistic": "entropy"})
    assert (widget.layer, widget.view) == (1, "matrix")
    assert [m for m in sent if m.get("method") == "echo_update"] == []
    widget.set_state({"text": "echoed"})
    echoes = [m for m in sent if m.get("method") == "echo_update"]
    assert [e["state"] for e in echoes] == [{"text": "echoed"}]


def test_long_text_sends_only_the_shown_layer_and_follows_layer_changes(
    widget: AttentionWidget,
) -> None:
    widget.text = " ".join(["token"] * 500)
    widget.wait(timeout=120)
    n = len(widget.tokens)
    assert layers_to_send(4, 3, n, 0) == (0, 1)
    assert widget._attention_meta["layers"] == [0, 1]
    widget.layer = 3
    assert widget._attention_meta["layers"] == [3, 4]
    sent = decode_attention(widget._attention_buffer, widget._attention_meta)  # type: ignore[arg-type]
    np.testing.assert_allclose(sent[0], widget.attention[3], atol=0.5 / SCALE + 1e-7)


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_very_long_text_sends_its_window_of_every_layer(widget: AttentionWidget) -> None:
    """Past the background budget the head view's window of every layer follows the result,
    so a layer switch in the head view needs nothing from the kernel; the matrix view asks."""
    widget.text = " ".join(["token"] * 1300)
    widget.wait(timeout=120)
    n = len(widget.view_tokens)
    assert sends_window(4, 3, n)
    wait_until(lambda: bool(widget._window_meta))
    meta = widget._window_meta
    assert (meta["start"], meta["rows"], meta["n"], meta["layers"]) == (0, WINDOW_ROWS, n, [0, 4])
    window = np.frombuffer(widget._window_buffer, "<u2").reshape(4, 3, WINDOW_ROWS, WINDOW_ROWS)
    expected = widget.view_attention[:, :, :WINDOW_ROWS, :WINDOW_ROWS]
    np.testing.assert_allclose(window / SCALE, expected, atol=0.5 / SCALE + 1e-7)

    before = widget._attention_buffer
    widget.layer = 2  # the head view draws it from the window: no whole layer is sent
    assert widget._attention_buffer is before
    widget.window_start = 600  # the front end moved the window: that window follows
    wait_until(lambda: widget._window_meta.get("start") == 600)
    widget.window_start = 10_000  # past the end: the last full window, as the front end shows
    wait_until(lambda: widget._window_meta.get("start") == n - WINDOW_ROWS)
    widget.view = "matrix"  # the heatmap needs every row of the layer on screen
    assert widget._attention_meta["layers"] == [2, 3]

    widget.text += " more"
    widget.wait(timeout=120)  # a new result never travels with the old text's window
    assert widget._window_meta == {} or widget._window_meta["n"] == len(widget.view_tokens)


def test_short_text_sends_every_layer_so_switches_need_no_kernel(widget: AttentionWidget) -> None:
    before = widget._attention_buffer
    assert widget._attention_meta["layers"] == [0, 4]
    widget.layer = 3
    assert widget._attention_buffer is before


def test_wire_round_trip_keeps_weights_within_half_a_step() -> None:
    rng = np.random.default_rng(0)
    attention = rng.dirichlet(np.ones(7), size=(2, 3, 7)).astype(np.float32)
    buffer, meta = encode_attention(attention, 1, 2)
    assert meta == {"layers": [1, 2], "heads": 3, "n": 7, "dtype": "uint16"}
    assert len(buffer) == 3 * 7 * 7 * 2
    np.testing.assert_allclose(decode_attention(buffer, meta)[0], attention[1], atol=0.5 / SCALE)


def test_empty_text_is_ready_with_no_tokens(widget: AttentionWidget) -> None:
    widget.text = ""
    widget.wait(timeout=60)
    assert widget.status == "ready"
    assert widget.tokens == []
    assert widget.attention.shape == (4, 3, 0, 0)


def test_link_and_observe_work(widget: AttentionWidget) -> None:
    layer_slider = ipywidgets.IntSlider(min=0, max=widget.num_layers - 1)
    ipywidgets.link((layer_slider, "value"), (widget, "layer"))
    layer_slider.value = 2
    assert widget.layer == 2
    widget.layer = 1
    assert layer_slider.value == 1
    statuses: list[str] = []
    widget.observe(lambda change: statuses.append(change["new"]), "status")
    widget.text = "observed"
    widget.wait(timeout=60)
    assert statuses[0] == "running"
    assert statuses[-1] == "ready"


def test_model_and_tokenizer_objects_the_user_already_has(tiny_gemma: Path) -> None:
    model = AutoModel.from_pretrained(tiny_gemma, attn_implementation="sdpa")
    tokenizer = AutoTokenizer.from_pretrained(tiny_gemma)
    w = AttentionWidget("own objects", model=model, tokenizer=tokenizer).wait(timeout=60)
    assert w.loaded_model is not None
    assert w.loaded_model.model is model
    assert model.config._attn_implementation == "eager"  # switched so attentions come back
    assert w.tokens == ["<bos>", "own", " objects"]


def test_two_widgets_share_one_loaded_model(tiny_gemma: Path, widget: AttentionWidget) -> None:
    other = AttentionWidget("second", model=str(tiny_gemma)).wait(timeout=60)
    assert other.loaded_model is widget.loaded_model


def test_close_stops_the_worker(tiny_gemma: Path) -> None:
    w = AttentionWidget("closing", model=str(tiny_gemma)).wait(timeout=60)
    worker = w._worker
    w.close()
    worker._thread.join(timeout=10)  # type: ignore[union-attr]
    assert not worker.alive


def test_loading_reports_each_step_then_clears(fresh_tiny_gemma: Path) -> None:
    steps: list[str] = []
    w = AttentionWidget("progress", model="/not/yet")
    with pytest.raises(ModelNotFoundError):
        w.wait(timeout=60)
    w.observe(lambda change: steps.append(change["new"]), "progress")
    w.model = str(fresh_tiny_gemma)  # a model never loaded before: every step is seen
    w.wait(timeout=60)
    source = str(fresh_tiny_gemma)
    assert f"{source}: loading the tokenizer (step 1 of 3)" in steps
    assert f"{source}: loading the weights (step 2 of 3)" in steps
    assert steps[-1] == ""
    assert w.progress == ""


def test_prompt_trait_prefixes_the_text_and_is_validated(widget: AttentionWidget) -> None:
    widget.set_state({"prompt": "document"})
    widget.wait(timeout=60)
    assert widget.rendered_prompt == "document"
    assert widget.rendered_text == "The cat sat."
    assert widget.tokens[1:7] == ["title", ":", " none", " |", " text", ":"]
    assert widget.prompt_mask == [False] + [True] * 6 + [False] * 4
    assert widget.prompts["document"] == "title: none | text: "
    with pytest.raises(traitlets.TraitError, match="expected any of"):
        widget.prompt = "querry"
    assert widget.prompt == "document"
