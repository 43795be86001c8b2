"""Export and interop: .npz round trip, bertviz's own functions, precomputed attention."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import traitlets
from bertviz import head_view, model_view

from gemma_widget import AttentionWidget, GemmaWidgetError
from gemma_widget.export import load_npz


@pytest.fixture
def widget(tiny_gemma: Path) -> AttentionWidget:
    return AttentionWidget("The cat sat.", model=str(tiny_gemma), prompt="query").wait(timeout=60)


def test_npz_round_trip_keeps_everything(widget: AttentionWidget, tmp_path: Path) -> None:
    saved = load_npz(widget.save(tmp_path / "attention.npz"))
    assert saved.model == widget.model
    assert saved.layer_types == ["sliding_attention"] * 3 + ["full_attention"]
    assert saved.result.tokens == widget.tokens
    assert saved.result.token_ids == widget.token_ids
    assert saved.result.special == widget.special
    assert saved.result.in_prompt == widget.prompt_mask
    assert saved.result.text == "The cat sat."
    assert saved.result.prompt == "task: search result | query: "
    np.testing.assert_array_equal(saved.result.attention, widget.attention)


def test_unsupported_format_says_what_is(widget: AttentionWidget, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"writes \.html .* or \.npz .*save_image"):
        widget.save(tmp_path / "figure.gif")
    with pytest.raises(ValueError, match=r"await w\.save_image\("):
        widget.save(tmp_path / "figure.png")


def test_image_without_a_displayed_view_says_how_to_get_one(
    widget: AttentionWidget, tmp_path: Path
) -> None:
    with pytest.raises(GemmaWidgetError) as caught:
        asyncio.run(widget.save_image(tmp_path / "figure.png", timeout=0.5))
    assert "No view of the widget answered the image request" in caught.value.message
    assert "save .html" in caught.value.fix
    assert not (tmp_path / "figure.png").exists()


def test_bertviz_accepts_our_output(widget: AttentionWidget) -> None:
    attention, tokens = widget.bertviz()
    assert len(attention) == 4
    assert attention[0].shape == (1, 3, len(tokens), len(tokens))
    head = head_view(attention, tokens, html_action="return")
    model = model_view(attention, tokens, html_action="return")
    assert " cat" in head.data
    assert " cat" in model.data


def test_from_attention_shows_bertviz_style_input_without_a_model(
    widget: AttentionWidget,
) -> None:
    attention, tokens = widget.bertviz()
    shown = AttentionWidget.from_attention(attention, tokens, layer=2)
    assert shown.loaded_model is None
    assert shown.status == "ready"
    assert shown.editable is False
    assert shown.tokens == tokens
    assert (shown.num_layers, shown.num_heads, shown.layer) == (4, 3, 2)
    np.testing.assert_allclose(shown.wait().attention, widget.attention)
    with pytest.raises(traitlets.TraitError, match="precomputed attention"):
        shown.text = "something else"
    with pytest.raises(traitlets.TraitError, match="between 0 and 3"):
        shown.layer = 4


def test_from_attention_takes_arrays_and_names_the_expected_shape() -> None:
    array = np.full((2, 1, 3, 3), 1 / 3, dtype=np.float32)
    shown = AttentionWidget.from_attention(array, ["a", "b", "c"])
    assert shown.tokens == ["a", "b", "c"]
    assert shown.rendered_text == "abc"
    batched = AttentionWidget.from_attention(torch.from_numpy(array[:, None]), ["a", "b", "c"])
    assert batched.num_layers == 2
    with pytest.raises(ValueError, match=r"expected \[layers, heads, 2, 2\] for 2 tokens"):
        AttentionWidget.from_attention(array, ["a", "b"])


def test_html_page_holds_the_data_and_cannot_be_broken_by_text(
    tiny_gemma: Path, tmp_path: Path
) -> None:
    w = AttentionWidget("</script><script>alert(1)</script>", model=str(tiny_gemma))
    page = w.wait(timeout=60).save(tmp_path / "page.html").read_text()
    assert page.count("</script>") == 3  # state, bundle, bootstrap: none from the text
    assert "<script>alert(1)" not in page
    assert "GemmaWidgetView" in page
    assert "http://" not in page.replace("http://www.w3.org", "")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gemma_widget.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_exports_html_and_npz_with_progress(tiny_gemma: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.npz"
    done = run_cli("export", "The cat sat.", "--model", str(tiny_gemma), "--out", str(out),
                   "--prompt", "query", "--layer", "3", "--head", "2")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    assert "loading the tokenizer (step 1 of 3)" in done.stderr
    assert load_npz(out).result.tokens[1] == "task"
    page = tmp_path / "cli.html"
    assert run_cli("export", "x", "--model", str(tiny_gemma), "--out", str(page)).returncode == 0
    assert "GemmaWidgetView" in page.read_text()


def test_cli_errors_are_clear(tiny_gemma: Path, tmp_path: Path) -> None:
    missing = run_cli("export", "x", "--model", "/no/such/model", "--out", str(tmp_path / "a.npz"))
    assert missing.returncode == 1
    assert "No folder at /no/such/model." in missing.stderr
    assert "Fix: " in missing.stderr
    layer = run_cli("export", "x", "--model", str(tiny_gemma), "--layer", "9", "--out", "a.npz")
    assert layer.returncode == 1
    assert "\ngemma-widget: layer must be between 0 and 3" in layer.stderr
    assert "Traceback" not in layer.stderr
    suffix = run_cli("export", "x", "--model", str(tiny_gemma), "--out", str(tmp_path / "a.png"))
    assert suffix.returncode == 1
    assert "writes .html or .npz" in suffix.stderr
