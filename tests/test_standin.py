"""The offline stand-in and the fallback that shows it when EmbeddingGemma cannot be had."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from gemma_widget import STANDIN_SOURCE, AttentionWidget, ModelNotFoundError

ROOT = Path(__file__).resolve().parent.parent


def test_fallback_shows_why_and_what_stands_in(tiny_gemma: Path) -> None:
    w = AttentionWidget("hello", model="acme/not-cached", fallback=str(tiny_gemma))
    w.wait(timeout=60)
    assert w.status == "ready"
    assert w.rendered_text == "hello"
    assert w.notice.startswith("Cannot load acme/not-cached: HF_HUB_OFFLINE is set")
    assert "Fix: Connect to the internet" in w.notice
    assert f"Showing {tiny_gemma} meanwhile" in w.notice
    assert w.model_info.startswith(str(tiny_gemma))
    w.text = "typing does not retry the missing model"
    assert w.status == "running"  # not "loading": the stand-in stays
    w.wait(timeout=60)
    assert "Cannot load acme/not-cached" in w.notice
    w.model = str(tiny_gemma)  # the cause goes away: the notice goes with it
    w.wait(timeout=60)
    assert w.notice == ""


def test_without_fallback_the_error_stands() -> None:
    w = AttentionWidget("hello", model="acme/not-cached")
    with pytest.raises(ModelNotFoundError):
        w.wait(timeout=60)
    assert w.status == "error"


@pytest.fixture(scope="module")
def standin_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh cache, so the stand-in is really converted here (about a minute, once)."""
    cache = tmp_path_factory.mktemp("gemma-widget-cache")
    before = os.environ.get("GEMMA_WIDGET_CACHE")
    os.environ["GEMMA_WIDGET_CACHE"] = str(cache)
    yield cache
    if before is None:
        del os.environ["GEMMA_WIDGET_CACHE"]
    else:
        os.environ["GEMMA_WIDGET_CACHE"] = before


def test_standin_is_gemma3_270m_with_a_bidirectional_mask(standin_cache: Path) -> None:
    w = AttentionWidget("The cat sat on the mat.", model=STANDIN_SOURCE).wait(timeout=600)
    folder = standin_cache / "gemma-3-270m-bidirectional"
    config = json.loads((folder / "config.json").read_text())
    assert config["use_bidirectional_attention"] is True
    assert (config["num_hidden_layers"], config["num_attention_heads"]) == (18, 4)
    assert "offline stand-in, not EmbeddingGemma" in w.model_info
    assert w.tokens == ["<bos>", "The", " cat", " sat", " on", " the", " mat", "."]
    upper = np.triu(w.attention, k=1).sum(axis=(-1, -2))
    assert (upper > 0.01).all()  # every layer and head looks ahead: bidirectional
    assert not list(standin_cache.glob("gguf/*.gguf"))  # the converted folder replaced the GGUF


def test_quickstart_notebook_runs_offline_on_the_standin(standin_cache: Path) -> None:
    """The demo notebook, executed in a real kernel with no hub: it explains and falls back."""
    notebook = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [output for output in outputs if output.output_type == "error"]
    assert any(
        "application/vnd.jupyter.widget-view+json" in output.get("data", {}) for output in outputs
    )
    printed = "".join(output.get("text", "") for output in outputs)
    assert "(18, 4," in printed  # the stand-in's 18 layers and 4 heads
