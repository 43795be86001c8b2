"""Compare mode: embeddings made the model's way, token contributions, the causal mask, and
`CompareWidget` on real loading paths (tiny Gemma 3 encoder, real tokenizer, real MiniLM)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from model_factory import add_sentence_transformers_modules
from transformers import AutoModel, AutoTokenizer

from gemma_widget import (
    AttentionWidget,
    CompareWidget,
    ModelNotFoundError,
    compute_attention,
    load_model,
)
from gemma_widget.embedding import (
    Embedding,
    SentencePipeline,
    embed_result,
    load_pipeline,
    pipeline_for,
    similarity,
    to_embedding,
    to_similarity,
)
from gemma_widget.prompts import PROMPTS

QUERY = "what is a cat?"
DOCUMENT = "A cat is a small carnivorous mammal."


@pytest.fixture(scope="module")
def sentence_gemma(tiny_gemma: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny encoder with EmbeddingGemma's module layout: mean pooling, 2 linear Dense
    layers (48 -> 64 -> 40), normalisation."""
    folder = Path(shutil.copytree(tiny_gemma, tmp_path_factory.mktemp("st") / "model"))
    return add_sentence_transformers_modules(folder)


@pytest.fixture(scope="module")
def tanh_gemma(tiny_gemma: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same with a non-linear head: one Dense layer with Tanh and a bias."""
    folder = Path(shutil.copytree(tiny_gemma, tmp_path_factory.mktemp("tanh") / "model"))
    return add_sentence_transformers_modules(
        folder, dense_sizes=(32,), activation="torch.nn.modules.activation.Tanh", bias=True
    )


def hand_pipeline(folder: Path, text: str) -> np.ndarray:
    """EmbeddingGemma's pipeline written out by hand: forward, mean, Dense, Dense, normalise."""
    from safetensors.torch import load_file

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, attn_implementation="eager")
    with torch.inference_mode():
        hidden = model(**tokenizer(text, return_tensors="pt")).last_hidden_state[0]
    vector = hidden.mean(0)
    for dense in ("2_Dense", "3_Dense"):
        vector = load_file(str(folder / dense / "model.safetensors"))["linear.weight"] @ vector
    return (vector / vector.norm()).numpy()


# --- pooling --------------------------------------------------------------------------------------
def test_embedding_matches_the_hand_written_pipeline(sentence_gemma: Path) -> None:
    w = AttentionWidget(QUERY, model=str(sentence_gemma), prompt="query").wait(timeout=60)
    expected = hand_pipeline(sentence_gemma, PROMPTS["query"] + QUERY)
    np.testing.assert_allclose(w.embedding.vector(), expected, atol=1e-5)
    assert w.embedding.size == 40
    assert w.embedding_pipeline.description.endswith(
        "mean pooling → Dense 48→64 → Dense 64→40 → normalise"
    )
    assert w.embedding_pipeline.own


def test_embedding_matches_sentence_transformers_itself(sentence_gemma: Path) -> None:
    """The real library on the same folder: same vectors, with a prompt and truncated."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(
        str(sentence_gemma), device="cpu", model_kwargs={"attn_implementation": "eager"}
    )
    loaded = load_model(str(sentence_gemma))
    for text, prompt in ((DOCUMENT, "document"), (QUERY, "query"), ("x", "none")):
        ours = embed_result(compute_attention(loaded, text, PROMPTS[prompt]), pipeline_for(loaded))
        for size in (None, 16):
            theirs = reference.encode([PROMPTS[prompt] + text], truncate_dim=size)[0]
            np.testing.assert_allclose(ours.vector(size), theirs, atol=1e-5)


def test_non_linear_head_is_reproduced_and_labelled_linearised(tanh_gemma: Path) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(
        str(tanh_gemma), device="cpu", model_kwargs={"attn_implementation": "eager"}
    )
    loaded = load_model(str(tanh_gemma))
    pipeline = pipeline_for(loaded)
    assert "Dense 48→32 (Tanh)" in pipeline.description
    a = embed_result(compute_attention(loaded, QUERY), pipeline)
    b = embed_result(compute_attention(loaded, DOCUMENT), pipeline)
    np.testing.assert_allclose(a.vector(), reference.encode([QUERY])[0], atol=1e-5)
    assert not a.exact
    shares = to_similarity(a, b)
    assert shares.tokens.sum() + shares.rest == pytest.approx(similarity(a, b), abs=1e-5)
    assert shares.rest != 0.0  # the bias (and the linearisation error) belong to no token


def test_without_modules_the_embedding_is_mean_pooling_and_says_so(tiny_gemma: Path) -> None:
    loaded = load_model(str(tiny_gemma))
    pipeline = pipeline_for(loaded)
    assert not pipeline.own
    assert pipeline.description.startswith("mean pooling, normalised (no Sentence Transformers")
    result = compute_attention(loaded, DOCUMENT)
    assert result.hidden is not None
    mean = result.hidden.mean(0)
    np.testing.assert_allclose(
        embed_result(result, pipeline).vector(), mean / np.linalg.norm(mean), atol=1e-6
    )


def test_a_model_passed_as_an_object_gets_mean_pooling_and_says_why(tiny_gemma: Path) -> None:
    model = AutoModel.from_pretrained(tiny_gemma, attn_implementation="eager")
    w = AttentionWidget(
        "an object", model=model, tokenizer=AutoTokenizer.from_pretrained(tiny_gemma)
    )
    description = w.wait(timeout=60).embedding_pipeline.description
    assert description.startswith("mean pooling, normalised (")
    assert "was passed as an object: no folder to read modules from" in description
    assert w.embedding.size == 48


def test_a_module_it_cannot_reproduce_falls_back_and_names_it(tmp_path: Path) -> None:
    (tmp_path / "modules.json").write_text(
        json.dumps([{"idx": 0, "path": "1_LayerNorm", "type": "sentence_transformers.LayerNorm"}])
    )
    pipeline = load_pipeline(
        lambda name: (tmp_path / name) if (tmp_path / name).is_file() else None, "m"
    )
    assert not pipeline.own
    assert "it has a LayerNorm module" in pipeline.description


def test_activations_outside_torch_nn_are_refused(tmp_path: Path) -> None:
    """A config naming arbitrary code must not make us import it."""
    add_dense = [
        {"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]
    (tmp_path / "modules.json").write_text(json.dumps(add_dense))
    for folder, config in (
        ("1_Pooling", {"pooling_mode": "mean"}),
        ("2_Dense", {"in_features": 4, "out_features": 4, "activation_function": "os.system"}),
    ):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.json").write_text(json.dumps(config))
    pipeline = load_pipeline(
        lambda name: (tmp_path / name) if (tmp_path / name).is_file() else None, "m"
    )
    assert "activation 'os.system' is not a torch.nn module" in pipeline.description


def test_minilm_uses_its_own_pipeline(minilm_dir: Path) -> None:
    """The any-model path: a real BERT sentence encoder with its modules (mean, normalise)."""
    from sentence_transformers import SentenceTransformer

    loaded = load_model(str(minilm_dir))
    pipeline = pipeline_for(loaded)
    assert pipeline.own
    assert pipeline.description.endswith("mean pooling → normalise")
    ours = embed_result(compute_attention(loaded, DOCUMENT), pipeline).vector()
    theirs = SentenceTransformer(str(minilm_dir), device="cpu").encode([DOCUMENT])[0]
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


HUB_CACHE_PROBE = textwrap.dedent(
    """
    import json, sys
    from gemma_widget import load_model
    from gemma_widget.embedding import pipeline_for
    loaded = load_model(sys.argv[1])
    print(json.dumps({"from_hub": loaded.from_hub, "pipeline": pipeline_for(loaded).description}))
    """
)


def test_hub_models_read_their_modules_through_huggingface_hub(
    sentence_gemma: Path, tmp_path: Path
) -> None:
    """A hub id, offline, from a hub cache laid out as huggingface_hub writes it: the weights
    and the Sentence Transformers modules come through the same download function."""
    commit = "0" * 40
    repo = tmp_path / "hub" / "models--acme--tiny-embedding"
    shutil.copytree(sentence_gemma, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", HUB_CACHE_PROBE, "acme/tiny-embedding"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["from_hub"] is True
    assert answer["pipeline"] == (
        "Sentence Transformers pipeline of acme/tiny-embedding: "
        "mean pooling → Dense 48→64 → Dense 64→40 → normalise"
    )


# --- contributions and similarity -----------------------------------------------------------------
def test_contributions_add_up_exactly_for_a_linear_head(sentence_gemma: Path) -> None:
    loaded = load_model(str(sentence_gemma))
    pipeline = pipeline_for(loaded)
    a = embed_result(compute_attention(loaded, QUERY, PROMPTS["query"]), pipeline)
    b = embed_result(compute_attention(loaded, DOCUMENT, PROMPTS["document"]), pipeline)
    assert a.exact
    for size in (None, 16):
        to_b = to_similarity(a, b, size)
        assert to_b.rest == pytest.approx(0.0, abs=1e-6)  # no bias: every bit has a token
        assert to_b.tokens.sum() == pytest.approx(similarity(a, b, size), abs=1e-5)
        own = to_embedding(a, size)
        assert own.tokens.sum() == pytest.approx(1.0, abs=1e-5)
    assert len(to_similarity(a, b).tokens) == len(
        compute_attention(loaded, QUERY, PROMPTS["query"]).tokens
    )


def test_similarity_is_symmetric(sentence_gemma: Path) -> None:
    loaded = load_model(str(sentence_gemma))
    pipeline = pipeline_for(loaded)
    a = embed_result(compute_attention(loaded, QUERY), pipeline)
    b = embed_result(compute_attention(loaded, DOCUMENT), pipeline)
    assert similarity(a, b) == pytest.approx(similarity(b, a), abs=1e-12)
    assert similarity(a, a) == pytest.approx(1.0, abs=1e-6)
    one = CompareWidget(
        QUERY, DOCUMENT, model=str(sentence_gemma), left_prompt="none", right_prompt="none"
    )
    two = CompareWidget(
        DOCUMENT, QUERY, model=str(sentence_gemma), left_prompt="none", right_prompt="none"
    )
    assert one.wait(timeout=60).similarity == pytest.approx(
        two.wait(timeout=60).similarity, abs=1e-9
    )
    assert one.similarity == pytest.approx(similarity(a, b), abs=1e-9)


# --- causal mask ----------------------------------------------------------------------------------
LONG = "one two three four five six seven eight nine ten eleven twelve"  # > sliding window 8


def test_causal_mask_gives_an_exactly_zero_upper_triangle(
    tiny_gemma: Path, minilm_dir: Path
) -> None:
    for folder in (tiny_gemma, minilm_dir):
        loaded = load_model(str(folder))
        causal = compute_attention(loaded, LONG, causal=True).attention
        assert np.all(np.triu(causal, k=1) == 0.0)  # exactly zero, not merely small
        np.testing.assert_allclose(causal.sum(-1), 1.0, atol=1e-5)
        assert np.triu(compute_attention(loaded, LONG).attention, k=1).max() > 0.01


def test_causal_mask_is_gemma3s_own_causal_attention(tiny_gemma: Path) -> None:
    """Same weights loaded as Gemma 3 the decoder (its own causal, sliding-window masks)."""
    ours = compute_attention(load_model(str(tiny_gemma)), LONG, causal=True)
    assert len(ours.tokens) > 8  # past the sliding window, so the window is checked too
    decoder = AutoModel.from_pretrained(
        tiny_gemma, attn_implementation="eager", use_bidirectional_attention=False
    )
    with torch.inference_mode():
        out = decoder(input_ids=torch.tensor([ours.token_ids]), output_attentions=True)
    theirs = np.stack([layer[0].numpy() for layer in out.attentions])
    np.testing.assert_allclose(ours.attention, theirs, atol=1e-6)
    assert ours.hidden is not None
    np.testing.assert_allclose(ours.hidden, out.last_hidden_state[0].numpy(), atol=1e-5)


def test_causal_widget_reports_zero_right_to_left_attention(tiny_gemma: Path) -> None:
    c = CompareWidget(LONG, mode="causal", model=str(tiny_gemma)).wait(timeout=60)
    assert c.right.mask == "causal"
    assert c.right.statistics.right_to_left.max() == 0.0
    assert c.left.statistics.right_to_left.min() > 0.0
    left, right = c.panel.sides
    assert right["right_to_left"] == 0.0
    assert right["right_to_left_head"] == 0.0
    assert right["causal"] is True
    assert "causal mask" in right["title"]
    assert left["right_to_left"] > 0.05
    assert "own mask: bidirectional" in left["title"]
    assert c.similarity is not None
    assert c.similarity < 1.0


def test_the_causal_side_follows_the_text_typed_on_either_side(tiny_gemma: Path) -> None:
    c = CompareWidget("first", mode="causal", model=str(tiny_gemma)).wait(timeout=60)
    c.right.text = "typed on the right"
    c.wait(timeout=60)
    assert c.left.text == "typed on the right"
    assert [side["text"] for side in c.panel.sides] == ["typed on the right"] * 2


def test_a_causal_result_is_cached_apart_from_the_bidirectional_one(tiny_gemma: Path) -> None:
    loaded = load_model(str(tiny_gemma))
    assert compute_attention(loaded, LONG) is not compute_attention(loaded, LONG, causal=True)
    assert compute_attention(loaded, LONG, causal=True) is compute_attention(
        loaded, LONG, causal=True
    )


# --- the widget -----------------------------------------------------------------------------------
def test_both_sides_and_the_panel_run_torch_on_one_thread(
    sentence_gemma: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three threads running torch would each keep a libgomp team and slow every pass down
    (torch_thread.py): the sides' forward passes and the panel's embeddings share one."""
    threads: set[str] = set()
    loaded = load_model(str(sentence_gemma))
    hook = loaded.model.register_forward_pre_hook(
        lambda *_: threads.add(threading.current_thread().name)
    )
    embed = SentencePipeline._embed

    def recording_embed(self: SentencePipeline, *args: np.ndarray) -> Embedding:
        threads.add(threading.current_thread().name)
        return embed(self, *args)

    monkeypatch.setattr(SentencePipeline, "_embed", recording_embed)
    try:
        c = CompareWidget("a first text", "a second text", model=str(sentence_gemma))
        c.wait(timeout=60)
        c.left.text = "another first text"
        assert c.wait(timeout=60).similarity is not None
        c.close()
    finally:
        hook.remove()
    assert threads == {"gemma-widget-torch"}


def test_pair_mode_defaults_and_live_updates(sentence_gemma: Path) -> None:
    c = CompareWidget(QUERY, DOCUMENT, model=str(sentence_gemma)).wait(timeout=60)
    assert (c.left.prompt, c.right.prompt) == ("query", "document")
    first = c.similarity
    assert first is not None
    c.left.text = "what is a dog?"
    assert c.wait(timeout=60).similarity != first
    left, right = c.panel.sides
    assert left["text"] == "what is a dog?"
    assert right["text"] == DOCUMENT
    assert sum(left["scores"]) == pytest.approx(c.similarity, abs=1e-4)
    assert sum(right["scores"]) == pytest.approx(c.similarity, abs=1e-4)
    assert left["tokens"][:2] == ["<bos>", "task"]
    assert left["kinds"][1] == "prompt"
    c.left.layer = 2  # linked: one head compared with itself
    assert c.right.layer == 2


def test_matryoshka_sizes_and_contribution_choice(minilm_dir: Path) -> None:
    c = CompareWidget(QUERY, DOCUMENT, model=str(minilm_dir)).wait(timeout=60)
    assert c.panel.dimension_options == [384, 256, 128]
    a, b = c.embeddings
    c.dimensions = 128
    assert c.wait(timeout=60).similarity == pytest.approx(similarity(a, b, 128), abs=1e-9)
    assert c.similarity != pytest.approx(similarity(a, b), abs=1e-6)
    c.contribution = "embedding"
    c.wait(timeout=60)
    assert sum(c.panel.sides[0]["scores"]) == pytest.approx(1.0, abs=1e-4)
    c.dimensions = 5000  # more than the model has: the full size
    assert c.wait(timeout=60).dimensions == 384


def test_a_side_with_an_error_shows_it_and_recovers(sentence_gemma: Path) -> None:
    c = CompareWidget(QUERY, DOCUMENT, model=str(sentence_gemma), right_model="/no/such/model")
    with pytest.raises(ModelNotFoundError, match="No folder at /no/such/model"):
        c.wait(timeout=60)
    assert c.similarity is None
    assert c.panel.sides[1]["error"] == "No folder at /no/such/model."
    assert c.panel.similarity_note == "No similarity while the right side has an error."
    assert c.right.text == DOCUMENT  # nothing typed is lost
    c.right.model = str(sentence_gemma)
    c.wait(timeout=60)
    assert c.similarity is not None
    assert all(not side["error"] for side in c.panel.sides)


def test_different_models_have_no_common_similarity(sentence_gemma: Path, minilm_dir: Path) -> None:
    c = CompareWidget("hello", "hello", model=str(sentence_gemma), right_model=str(minilm_dir))
    c.wait(timeout=60)
    assert c.similarity is None
    assert "different models" in c.panel.similarity_note
    assert c.left.num_layers != c.right.num_layers
    c.left.layer = 2  # different models: the sides' layers are not linked
    assert c.right.layer == 0


def test_an_empty_side_has_no_similarity_and_says_why(tiny_gemma: Path) -> None:
    c = CompareWidget(QUERY, "", model=str(tiny_gemma)).wait(timeout=60)
    assert c.similarity is None
    assert "empty text" in c.panel.similarity_note
    c.right.text = "now there is one"
    assert c.wait(timeout=60).similarity is not None


def test_bad_arguments_are_clear_errors(tiny_gemma: Path) -> None:
    with pytest.raises(ValueError, match="mode must be one of pair, causal"):
        CompareWidget("x", mode="sideways", model=str(tiny_gemma))
    with pytest.raises(ValueError, match="pass only left_text"):
        CompareWidget("x", "y", mode="causal", model=str(tiny_gemma))
    with pytest.raises(TypeError, match="pass left_prompt/right_prompt"):
        CompareWidget("x", "y", model=str(tiny_gemma), prompt="query")
    with pytest.raises(ValueError, match="dimensions must be a positive number, not 0"):
        CompareWidget("x", "y", model=str(tiny_gemma), dimensions=0)


def test_close_stops_both_sides(tiny_gemma: Path) -> None:
    c = CompareWidget("a", "b", model=str(tiny_gemma)).wait(timeout=60)
    c.close()
    assert c.left._result is None
    assert c.right._result is None
    assert c.panel.comm is None
    assert c.left.comm is None


def test_compare_notebook_runs_in_a_real_kernel(
    sentence_gemma: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """notebooks/compare.ipynb, executed by nbclient: `wait()` inside a cell (which holds the
    kernel's event loop) still gets the similarity, and both widgets are displayed."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("GEMMA_WIDGET_MODEL", str(sentence_gemma))
    root = Path(__file__).resolve().parent.parent
    notebook = nbformat.read(root / "notebooks" / "compare.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    views = [
        out for out in outputs if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
    ]
    # the two widgets, and no stray progress bar from loading the model on a background thread
    assert [out["data"]["text/plain"][:14] for out in views] == ["CompareWidget("] * 2
    printed = "".join(out.get("text", "") for out in outputs)
    assert "cosine similarity 0." in printed or "cosine similarity -0." in printed
    assert "at 40 dimensions" in printed
    assert "mean pooling → Dense 48→64 → Dense 64→40 → normalise" in printed
    assert printed.rstrip().endswith(" 0.0")  # the causal side's right-to-left share
