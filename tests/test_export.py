"""Export and interop: .npz round trip, images drawn headless, bertviz's own functions,
precomputed attention, the command line."""

from __future__ import annotations

import asyncio
import re
import struct
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
from gemma_widget.headless import BROWSER_ENV, find_browser


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
    with pytest.raises(ValueError, match=r"writes \.html .*\.npz .*\.png or \.svg"):
        widget.save(tmp_path / "figure.gif")


def test_images_without_a_browser_say_what_to_install(
    widget: AttentionWidget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BROWSER_ENV, str(tmp_path / "no-such-browser"))
    with pytest.raises(GemmaWidgetError) as caught:
        widget.save(tmp_path / "figure.png")
    assert "needs Chromium or Chrome" in caught.value.message
    assert "apt-get install chromium" in caught.value.fix
    assert "await w.save_image" in caught.value.fix
    assert not (tmp_path / "figure.png").exists()


def _browser() -> str:
    browser = find_browser()
    if browser is None:  # scripts/test.sh installs it; a bare `pytest` may run without
        pytest.skip("needs Chromium or Chrome: `bash scripts/setup.sh --browser` installs it")
    return browser


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    return width, height


def test_save_draws_each_view_as_png_and_svg_in_a_headless_browser(
    widget: AttentionWidget, tmp_path: Path
) -> None:
    _browser()
    head_svg = widget.save(tmp_path / "head.svg").read_text()
    assert head_svg.count('class="gw-image-token"') == 2 * len(widget.view_tokens)
    width = int(re.search(r'<svg[^>]* width="(\d+)"', head_svg).group(1))  # type: ignore[union-attr]
    # one path a line (their ink adds up where they cross, as on screen), weights >= 0.01
    weights = widget.wait().attention[widget.layer, widget.head]
    lines = head_svg.count('class="gw-line"')
    assert int((weights >= 0.0101).sum()) <= lines <= int((weights >= 0.0099).sum())
    png_width, _ = _png_size(widget.save(tmp_path / "head.png", scale=2).read_bytes())
    assert png_width == 2 * width  # the PNG is the SVG, rasterised at twice its size

    widget.view = "matrix"
    matrix_svg = widget.save(tmp_path / "matrix.svg").read_text()
    assert matrix_svg.count("<image ") == 1
    assert matrix_svg.count('class="gw-image-token"') == 2 * len(widget.view_tokens)
    assert "linear scale" in matrix_svg

    widget.view = "model"
    widget.statistic = "sink"
    model_svg = widget.save(tmp_path / "model.svg").read_text()
    assert model_svg.count("<image ") == widget.num_layers * widget.num_heads
    assert model_svg.count('class="gw-image-layer"') == widget.num_layers
    assert "layer 3 full" in model_svg
    assert "share on special tokens" in model_svg
    _png_size(widget.save(tmp_path / "model.png").read_bytes())


def test_image_without_a_displayed_view_says_how_to_get_one(
    widget: AttentionWidget, tmp_path: Path
) -> None:
    with pytest.raises(GemmaWidgetError) as caught:
        asyncio.run(widget.save_image(tmp_path / "figure.png", timeout=0.5))
    assert "No view of the widget answered the image request" in caught.value.message
    assert "figure.png')` draws it in a headless Chromium" in caught.value.fix
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


def test_cli_exports_the_causal_reading(tiny_gemma: Path, tmp_path: Path) -> None:
    out = tmp_path / "causal.npz"
    text = "one two three four five"
    done = run_cli(
        "export", text, "--model", str(tiny_gemma), "--mask", "causal", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    attention = load_npz(out).result.attention
    assert np.all(np.triu(attention, k=1) == 0.0)
    assert len(load_npz(out).result.tokens) == 6


def test_cli_errors_are_clear(tiny_gemma: Path, tmp_path: Path) -> None:
    missing = run_cli("export", "x", "--model", "/no/such/model", "--out", str(tmp_path / "a.npz"))
    assert missing.returncode == 1
    assert "No folder at /no/such/model." in missing.stderr
    assert "Fix: " in missing.stderr
    layer = run_cli("export", "x", "--model", str(tiny_gemma), "--layer", "9", "--out", "a.npz")
    assert layer.returncode == 1
    assert "\ngemma-widget: layer must be between 0 and 3" in layer.stderr
    assert "Traceback" not in layer.stderr
    suffix = run_cli("export", "x", "--model", str(tiny_gemma), "--out", str(tmp_path / "a.gif"))
    assert suffix.returncode == 1
    assert "--out must end in .html, .npz, .png or .svg" in suffix.stderr


def test_cli_draws_images_of_any_view(tiny_gemma: Path, tmp_path: Path) -> None:
    _browser()
    out = tmp_path / "cli.svg"
    done = run_cli("export", "The cat sat.", "--model", str(tiny_gemma), "--out", str(out),
                   "--view", "model", "--colour-scale", "log", "--words")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "drawing the image in a headless browser" in done.stderr
    assert out.read_text().count("<image ") == 4 * 3
    png = tmp_path / "cli.png"
    done = run_cli("export", "The cat sat.", "--model", str(tiny_gemma), "--out", str(png),
                   "--view", "matrix", "--image-scale", "2")  # fmt: skip
    assert done.returncode == 0, done.stderr
    width, height = _png_size(png.read_bytes())
    assert width > 100
    assert height > 100


def test_a_page_for_a_long_text_holds_the_layer_on_screen_and_says_so(
    widget: AttentionWidget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from gemma_widget import widget as widget_module

    def saved_state(page: Path) -> dict[str, object]:
        found = re.search(r'id="gemma-widget-state">(.*?)</script>', page.read_text(), re.S)
        assert found is not None
        return json.loads(found.group(1))  # type: ignore[no-any-return]

    everything = saved_state(widget.save(tmp_path / "all.html"))
    assert everything["_attention_meta"]["layers"] == [0, 4]  # type: ignore[index]
    monkeypatch.setattr(widget_module, "STANDALONE_BYTE_BUDGET", 100)
    widget.layer = 2
    one = saved_state(widget.save(tmp_path / "one.html"))
    assert one["_attention_meta"]["layers"] == [2, 3]  # type: ignore[index]
    assert "This page holds layer 2 whole" in str(one["notice"])
    # ... and the head view's window of every layer, so its layer slider still works
    window = one["_window_meta"]
    assert window["layers"] == [0, 4]  # type: ignore[index]
    assert window["rows"] == len(widget.view_tokens)  # type: ignore[index]
    assert "_window_buffer" in one["_binary"]  # type: ignore[operator]
