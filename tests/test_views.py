"""#3's numbers against hand-computed cases: statistics, renormalisation, word merging, prompt
segments, thumbnails, token strips; and the view traits of the widget."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import traitlets

from gemma_widget import AttentionWidget, compute_attention, load_model, wire
from gemma_widget.projection import project, thumbnails, token_strips, view_rows, word_starts
from gemma_widget.result import AttentionResult
from gemma_widget.statistics import head_statistics
from gemma_widget.wire import SCALE, decode_attention

# Three tokens: <bos>, "a", "b". Row i is what token i attends to.
HAND = np.array(
    [
        [1.0, 0.0, 0.0],
        [0.5, 0.3, 0.2],
        [0.6, 0.1, 0.3],
    ],
    dtype=np.float32,
)


def _result(tokens: list[str], attention: np.ndarray, **fields: object) -> AttentionResult:
    n = len(tokens)
    special = fields.pop("special", [token.startswith("<") for token in tokens])
    return AttentionResult(
        "".join(t for t, s in zip(tokens, special, strict=True) if not s),  # type: ignore[call-overload]
        tokens,
        list(range(n)),
        special,  # type: ignore[arg-type]
        attention.reshape(1, 1, n, n) if attention.ndim == 2 else attention,
        n,
        **fields,  # type: ignore[arg-type]
    )


def test_statistics_match_a_hand_computed_head() -> None:
    stats = head_statistics(HAND[None, None], [True, False, False])
    entropy_rows = [
        0.0,
        -(0.5 * math.log(0.5) + 0.3 * math.log(0.3) + 0.2 * math.log(0.2)),
        -(0.6 * math.log(0.6) + 0.1 * math.log(0.1) + 0.3 * math.log(0.3)),
    ]
    assert stats.entropy[0, 0] == pytest.approx(sum(entropy_rows) / 3, rel=1e-6)
    # distances: row 0 -> 0; row 1 -> 0.5*1 + 0.2*1; row 2 -> 0.6*2 + 0.1*1
    assert stats.distance[0, 0] == pytest.approx((0 + 0.7 + 1.3) / 3, rel=1e-6)
    assert stats.sink[0, 0] == pytest.approx((1.0 + 0.5 + 0.6) / 3, rel=1e-6)
    # later tokens (j > i): row 0 -> 0; row 1 -> 0.2; row 2 -> nothing after it
    assert stats.right_to_left[0, 0] == pytest.approx(0.2 / 3, rel=1e-6)
    assert stats.left_to_right[0, 0] == pytest.approx((0.5 + 0.6 + 0.1) / 3, rel=1e-6)


def test_uniform_attention_has_entropy_ln_n_and_a_causal_head_none_right_to_left() -> None:
    n = 7
    uniform = np.full((n, n), 1 / n, dtype=np.float32)
    causal = np.tril(np.ones((n, n), dtype=np.float32))
    causal /= causal.sum(axis=-1, keepdims=True)
    stats = head_statistics(np.stack([uniform, causal])[None], [False] * n)
    assert stats.entropy[0, 0] == pytest.approx(math.log(n), rel=1e-6)
    assert stats.right_to_left[0, 1] == 0.0
    assert stats.right_to_left[0, 0] == pytest.approx((n - 1) / 2 / n, rel=1e-6)
    assert stats.as_lists()["entropy"][0][0] == pytest.approx(math.log(n), abs=1e-6)


def test_hiding_special_tokens_renormalises_the_remaining_rows() -> None:
    rows = view_rows(_result(["<bos>", "a", "b"], HAND), hide_special=True, merge_words=False)
    assert rows.labels == ["a", "b"]
    assert rows.renormalised
    shown = project(HAND[None, None], rows)[0, 0]
    np.testing.assert_allclose(shown, [[0.6, 0.4], [0.25, 0.75]], rtol=1e-6)


def test_nothing_hidden_leaves_the_attention_as_it_is() -> None:
    rows = view_rows(_result(["<bos>", "a", "b"], HAND), hide_special=False, merge_words=False)
    assert not rows.renormalised
    assert rows.kinds == ["special", "text", "text"]
    np.testing.assert_array_equal(project(HAND[None, None], rows)[0, 0], HAND)


def test_merging_sums_attended_pieces_and_averages_attending_pieces() -> None:
    tokens = ["<bos>", " un", "believ", "able", " cat"]
    attention = np.array(
        [
            [0.6, 0.1, 0.1, 0.1, 0.1],
            [0.2, 0.2, 0.2, 0.2, 0.2],
            [0.1, 0.4, 0.1, 0.1, 0.3],
            [0.3, 0.0, 0.3, 0.3, 0.1],
            [0.5, 0.1, 0.1, 0.1, 0.2],
        ],
        dtype=np.float32,
    )
    rows = view_rows(_result(tokens, attention), hide_special=False, merge_words=True)
    assert rows.labels == ["<bos>", " unbelievable", " cat"]
    assert rows.members == [[0], [1, 2, 3], [4]]
    merged = project(attention[None, None], rows)[0, 0]
    word_rows = attention[1:4]  # the three pieces of " unbelievable", as queries
    expected_word_row = [
        word_rows[:, 0].mean(),
        word_rows[:, 1:4].sum(axis=1).mean(),
        word_rows[:, 4].mean(),
    ]
    np.testing.assert_allclose(merged[1], expected_word_row, rtol=1e-6)
    np.testing.assert_allclose(merged[0], [0.6, 0.3, 0.1], rtol=1e-6)
    np.testing.assert_allclose(merged[2], [0.5, 0.3, 0.2], rtol=1e-6)
    np.testing.assert_allclose(merged.sum(axis=1), 1.0, rtol=1e-6)


def test_merging_after_hiding_renormalises_first() -> None:
    tokens = ["<bos>", " a", "b"]
    rows = view_rows(_result(tokens, HAND), hide_special=True, merge_words=True)
    assert rows.labels == [" ab"]
    np.testing.assert_allclose(project(HAND[None, None], rows)[0, 0], [[1.0]], rtol=1e-6)


@pytest.mark.parametrize(
    ("tokens", "text", "starts"),
    [
        # SentencePiece / byte-level BPE: a space starts a word; punctuation joins it
        (["<bos>", "Hello", ",", " world", "!"], "Hello, world!", [1, 1, 0, 1, 0]),
        # WordPiece drops spaces and marks continuations with ##
        (["[CLS]", "hello", ",", "un", "##able", "[SEP]"], "hello, unable", [1, 1, 1, 1, 0, 1]),
        # one word without spaces: every piece belongs to it
        (["<bos>", "un", "believ", "able"], "unbelievable", [1, 1, 0, 0]),
        # a newline ends a word like a space
        (["<bos>", "a", "\n", "b"], "a\nb", [1, 1, 1, 1]),
    ],
)
def test_word_starts(tokens: list[str], text: str, starts: list[int]) -> None:
    kinds = ["special" if t.startswith(("<", "[")) else "text" for t in tokens]
    assert word_starts(tokens, kinds, text) == [bool(s) for s in starts]  # type: ignore[arg-type]


def test_the_prompt_is_its_own_segment_with_the_real_tokenizer(tiny_gemma: Path) -> None:
    w = AttentionWidget("Hello world", model=str(tiny_gemma), prompt="query").wait(timeout=60)
    prompt_rows = [t for t, k in zip(w.view_tokens, w.view_kinds, strict=True) if k == "prompt"]
    assert "".join(prompt_rows) == "task: search result | query:"
    assert w.view_kinds[0] == "special"
    assert [t for t, k in zip(w.view_tokens, w.view_kinds, strict=True) if k == "text"] == [
        " Hello",
        " world",
    ]
    w.merge_words = True
    w.wait(timeout=30)
    # words never cross the prompt's end: " Hello" stays apart from "query:"
    assert w.view_tokens[-2:] == [" Hello", " world"]
    assert " query:" in w.view_tokens
    w.hide_special = True
    w.wait(timeout=30)
    assert w.view_tokens == [" Hello", " world"]
    assert w.renormalised
    np.testing.assert_allclose(w.view_attention.sum(axis=-1), 1.0, rtol=1e-5)
    w.close()


def test_thumbnails_keep_rows_stochastic_and_leave_small_maps_alone() -> None:
    rng = np.random.default_rng(0)
    raw = rng.random((2, 3, 70, 70)).astype(np.float32)
    attention = raw / raw.sum(axis=-1, keepdims=True)
    shrunk = thumbnails(attention, size=32)
    assert shrunk.shape == (2, 3, 32, 32)
    np.testing.assert_allclose(shrunk.sum(axis=-1), 1.0, rtol=1e-5)
    # the first group holds tokens 0..2 (70 split in 32 parts: six of 3, then 2s)
    np.testing.assert_allclose(
        shrunk[0, 0, 0, 0], attention[0, 0, 0:3, 0:3].sum(axis=1).mean(), rtol=1e-5
    )
    assert thumbnails(attention[..., :5, :5], size=32).shape == (2, 3, 5, 5)


def test_token_strips_hold_the_row_and_the_column_of_the_pinned_token() -> None:
    attention = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)
    strips = token_strips(attention, 1)
    assert strips.shape == (2, 2, 3, 4)
    np.testing.assert_array_equal(strips[0], attention[:, :, 1, :])
    np.testing.assert_array_equal(strips[1], attention[:, :, :, 1])


@pytest.fixture
def widget(tiny_gemma: Path) -> AttentionWidget:
    return AttentionWidget("The cat sat.", model=str(tiny_gemma)).wait(timeout=60)


def test_view_traits_validate_with_clear_errors(widget: AttentionWidget) -> None:
    with pytest.raises(traitlets.TraitError, match="view"):
        widget.view = "sideways"
    with pytest.raises(traitlets.TraitError, match=r"between 0 and 4.*view_tokens"):
        widget.selected_token = 5
    with pytest.raises(traitlets.TraitError):
        widget.selected_token = -2
    with pytest.raises(traitlets.TraitError, match="scale"):
        widget.scale = "cubic"
    with pytest.raises(traitlets.TraitError, match="statistic"):
        widget.statistic = "beauty"
    assert (widget.view, widget.selected_token, widget.scale) == ("head", -1, "linear")


def test_widget_statistics_are_those_of_its_attention(widget: AttentionWidget) -> None:
    expected = head_statistics(widget.attention, widget.special)
    np.testing.assert_allclose(widget.statistics.sink, expected.sink)
    assert widget.head_stats["right_to_left"] == expected.as_lists()["right_to_left"]
    # a bidirectional encoder: attention does flow right to left
    assert min(min(row) for row in widget.head_stats["right_to_left"]) > 0.0
    assert widget.layer_types == ["sliding_attention"] * 3 + ["full_attention"]
    assert widget.num_kv_heads == 1


def test_pinning_a_token_sends_its_strips(widget: AttentionWidget) -> None:
    assert widget._token_buffer == b""
    widget.selected_token = 2
    meta = widget._token_meta
    assert (meta["index"], meta["layers"], meta["heads"], meta["n"]) == (2, 4, 3, 5)
    strips = np.frombuffer(widget._token_buffer, dtype="<u2").reshape(2, 4, 3, 5) / SCALE
    np.testing.assert_allclose(strips[0], widget.attention[:, :, 2, :], atol=1e-4)
    np.testing.assert_allclose(strips[1], widget.attention[:, :, :, 2], atol=1e-4)
    widget.text = "Hi"  # two rows: the pin at row 2 is gone with the old text
    widget.wait(timeout=30)
    assert widget.selected_token == -1
    assert widget._token_buffer == b""


def test_long_texts_send_thumbnails_for_the_model_view(
    widget: AttentionWidget, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert widget._thumbnail_buffer == b""  # every layer is in the attention buffer already
    monkeypatch.setattr(wire, "ALL_LAYERS_BYTE_BUDGET", 100)
    widget.text = "one two three " * 15
    widget.wait(timeout=30)
    assert widget._attention_meta["layers"] == [0, 1]
    shrunk = decode_attention(widget._thumbnail_buffer, widget._thumbnail_meta)  # type: ignore[arg-type]
    assert shrunk.shape == (4, 3, 32, 32)
    np.testing.assert_allclose(shrunk, thumbnails(widget.attention), atol=1e-4)


def test_the_meta_names_the_view_options(widget: AttentionWidget) -> None:
    widget.merge_words = True
    widget.wait(timeout=30)
    assert widget._attention_meta["merge_words"] is True
    assert widget._attention_meta["hide_special"] is False
    assert widget._attention_meta["n"] == len(widget.view_tokens) == 4  # <bos> The cat sat.


def test_precomputed_attention_hides_and_merges_without_a_model() -> None:
    w = AttentionWidget.from_attention(np.stack([HAND[None]] * 2), ["<bos>", "a", "b"])
    assert w.view_tokens == ["<bos>", "a", "b"]
    w.hide_special = True
    assert w.view_tokens == ["a", "b"]
    np.testing.assert_allclose(w.view_attention[1, 0], [[0.6, 0.4], [0.25, 0.75]], rtol=1e-6)
    w.close()


def test_statistics_follow_the_attention_and_never_show_another_text(
    widget: AttentionWidget, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from gemma_widget import widget as widget_module

    release = threading.Event()

    def slow_statistics(attention: np.ndarray, special: list[bool]) -> object:
        release.wait(timeout=30)
        return head_statistics(attention, special)

    monkeypatch.setattr(widget_module, "head_statistics", slow_statistics)
    monkeypatch.setattr(widget_module, "STATISTICS_WITH_RESULT_MAX_TOKENS", 0)  # a longer text
    assert widget.head_stats  # "The cat sat."
    widget.text = "A dog."
    deadline = time.monotonic() + 30
    while widget.rendered_text != "A dog." and time.monotonic() < deadline:
        time.sleep(0.01)
    # The attention is on screen while the statistics are still being computed ...
    assert widget.rendered_text == "A dog."
    assert widget.head_stats == {}  # ... and the old text's numbers are gone
    release.set()
    widget.wait(timeout=30)
    expected = head_statistics(widget.attention, widget.special).as_lists()
    assert widget.head_stats == expected


def test_short_texts_get_their_statistics_in_the_same_update(
    widget: AttentionWidget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to STATISTICS_WITH_RESULT_MAX_TOKENS the statistics travel with the attention: the
    front end gets one state message per keystroke, not two."""
    messages: list[set[str]] = []
    send_state = widget.send_state

    def record(key: str | list[str] | None = None) -> None:
        messages.append({key} if isinstance(key, str) else set(key or []))
        send_state(key)

    monkeypatch.setattr(widget, "send_state", record)
    widget.text = "Short and sweet."
    widget.wait(timeout=30)
    with_result = [keys for keys in messages if "rendered_text" in keys]
    assert len(with_result) == 1
    assert "head_stats" in with_result[0]
    assert not [keys for keys in messages if "head_stats" in keys and "rendered_text" not in keys]
    assert widget.head_stats == head_statistics(widget.attention, widget.special).as_lists()


def test_mid_length_texts_get_every_layer_once_typing_pauses(
    widget: AttentionWidget, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from gemma_widget import widget as widget_module

    monkeypatch.setattr(wire, "ALL_LAYERS_BYTE_BUDGET", 100)  # one layer first ...
    monkeypatch.setattr(wire, "BACKGROUND_BYTE_BUDGET", 10**9)  # ... then all of them
    monkeypatch.setattr(widget_module, "FILL_IN_AFTER_S", 0.2)
    widget.text = "one two three four"
    widget.wait(timeout=30)
    assert widget._attention_meta["layers"] == [0, 1]
    widget.text = "one two three four five"  # typing goes on: the first text never fills in
    widget.wait(timeout=30)
    assert widget._attention_meta["layers"] == [0, 1]
    time.sleep(0.6)
    assert widget._attention_meta["layers"] == [0, 4]
    assert widget._attention_meta["n"] == len(widget.view_tokens)
    sent = decode_attention(widget._attention_buffer, widget._attention_meta)  # type: ignore[arg-type]
    np.testing.assert_allclose(sent, widget.view_attention, atol=1e-4)
    before = widget._attention_buffer
    widget.layer = 3  # already in the browser: nothing is sent
    assert widget._attention_buffer is before


def test_long_texts_compute_statistics_only_for_the_model_view(
    widget: AttentionWidget, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gemma_widget import widget as widget_module

    monkeypatch.setattr(widget_module, "EAGER_STATISTICS_MAX_TOKENS", 3)  # "long" from 4 tokens
    monkeypatch.setattr(widget_module, "STATISTICS_WITH_RESULT_MAX_TOKENS", 0)
    widget.text = "A longer text."
    widget.wait(timeout=30)
    assert widget.head_stats == {}  # typing is not held up by them
    widget.view = "model"  # the model view shows them: computed now
    widget.wait(timeout=30)
    assert widget.head_stats == head_statistics(widget.attention, widget.special).as_lists()
    widget.view = "head"
    widget.text = "Another longer text."
    widget.wait(timeout=30)
    assert widget.head_stats == {}
    np.testing.assert_allclose(  # Python computes them on request
        widget.statistics.entropy, head_statistics(widget.attention, widget.special).entropy
    )


def test_right_to_left_share_alone_equals_the_full_statistic(tiny_gemma: Path) -> None:
    from gemma_widget.statistics import right_to_left_share

    result = compute_attention(load_model(str(tiny_gemma)), "one two three four five six")
    full = head_statistics(result.attention, result.special).right_to_left
    np.testing.assert_allclose(right_to_left_share(result.attention), full, atol=1e-6)
    causal = compute_attention(load_model(str(tiny_gemma)), "one two three", causal=True)
    assert right_to_left_share(causal.attention).max() == 0.0
