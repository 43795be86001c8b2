"""Every failure a user can hit ends in an error that names the cause and the fix."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import traitlets
from fake_hub import fake_hub
from model_factory import copy_gemma3_tokenizer

from gemma_widget import (
    AttentionWidget,
    ModelAccessError,
    ModelLoadError,
    ModelNotFoundError,
    NoAttentionError,
    load_model,
)

# Loads a model through the real hub path in a fresh interpreter, since huggingface_hub reads
# HF_ENDPOINT and HF_HUB_OFFLINE once, at import.
HUB_PROBE = textwrap.dedent(
    """
    import json, sys
    from gemma_widget import AttentionWidget
    w = AttentionWidget("hello", model=sys.argv[1])
    try:
        w.wait(timeout=120)
        raised = None
    except Exception as exc:
        raised = type(exc).__name__
    print(json.dumps({"raised": raised, "status": w.status, "error": w.error,
                      "fix": w.error_fix}))
    """
)


def probe_hub(model: str, endpoint: str) -> dict[str, str]:
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HUB_OFFLINE": "0", "HF_TOKEN": ""}
    env["HF_HUB_ETAG_TIMEOUT"] = "5"
    done = subprocess.run(
        [sys.executable, "-c", HUB_PROBE, model],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_gated_model_names_licence_page_and_login() -> None:
    with fake_hub() as endpoint:
        shown = probe_hub("acme/gated-model", endpoint)
    assert shown["raised"] == "ModelAccessError"
    assert shown["status"] == "error"
    assert "gated" in shown["error"]
    assert "huggingface.co/acme/gated-model" in shown["fix"]
    assert "hf auth login" in shown["fix"]
    assert "HF_TOKEN" in shown["fix"]


def test_unknown_hub_model_says_check_the_spelling() -> None:
    with fake_hub() as endpoint:
        shown = probe_hub("acme/no-such-model", endpoint)
    assert shown["raised"] == "ModelNotFoundError"
    assert "No model named 'acme/no-such-model'" in shown["error"]
    assert "spelling" in shown["fix"]


def test_unreachable_hub_fails_fast_with_the_offline_fix() -> None:
    with socket.socket() as closed:  # a port nothing listens on: the hub is "down"
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    shown = probe_hub("acme/anything", endpoint)
    assert shown["raised"] == "ModelNotFoundError"
    assert "could not be reached" in shown["error"]
    assert "local copy" in shown["fix"]


def test_offline_without_cache_says_how_to_get_the_model() -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        load_model("acme/not-cached-anywhere")
    assert "HF_HUB_OFFLINE is set" in caught.value.message
    assert "local copy" in caught.value.fix


def test_custom_model_code_is_not_run_unless_asked(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "not-in-transformers",
                "auto_map": {"AutoConfig": "modeling.Config", "AutoModel": "modeling.Custom"},
            }
        )
    )
    (tmp_path / "modeling.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    copy_gemma3_tokenizer(tmp_path)
    with pytest.raises(ModelLoadError) as caught:
        load_model(str(tmp_path))
    assert "ships its own Python code" in caught.value.message
    assert "trust_remote_code=True" in caught.value.fix
    assert not marker.exists()


def test_missing_local_folder() -> None:
    with pytest.raises(ModelNotFoundError, match="No folder at /no/such/folder"):
        load_model("/no/such/folder")


def test_model_without_attention(mamba_dir: Path) -> None:
    with pytest.raises(NoAttentionError) as caught:
        load_model(str(mamba_dir))
    assert "no attention heads" in caught.value.message
    assert "EmbeddingGemma" in caught.value.fix


def test_widget_shows_the_error_and_recovers_when_the_model_is_fixed(tiny_gemma: Path) -> None:
    w = AttentionWidget("still here", model="/no/such/folder")
    with pytest.raises(ModelNotFoundError):
        w.wait(timeout=60)
    assert w.status == "error"
    assert w.error == "No folder at /no/such/folder."
    assert "config.json" in w.error_fix
    assert w.text == "still here"  # nothing the user typed is lost
    w.model = str(tiny_gemma)
    w.wait(timeout=60)
    assert w.status == "ready"
    assert w.error == ""
    assert w.error_fix == ""
    assert w.rendered_text == "still here"


def test_widget_with_a_model_without_attention_keeps_working(
    mamba_dir: Path, tiny_gemma: Path
) -> None:
    w = AttentionWidget("hi", model=str(mamba_dir))
    with pytest.raises(NoAttentionError):
        w.wait(timeout=60)
    assert w.status == "error"
    w.model = str(tiny_gemma)
    assert w.wait(timeout=60).tokens == ["<bos>", "hi"]


def test_layer_and_head_out_of_range_name_the_allowed_range(tiny_gemma: Path) -> None:
    w = AttentionWidget("range", model=str(tiny_gemma)).wait(timeout=60)
    with pytest.raises(traitlets.TraitError, match=r"layer must be between 0 and 3 .*got 4"):
        w.layer = 4
    with pytest.raises(traitlets.TraitError, match=r"head must be between 0 and 2 .*got 3"):
        w.head = 3
    with pytest.raises(traitlets.TraitError):
        w.layer = -1
    assert (w.layer, w.head) == (0, 0)


def test_layer_beyond_a_newly_loaded_model_is_clamped_with_a_notice(tiny_gemma: Path) -> None:
    w = AttentionWidget("clamp", model=str(tiny_gemma), layer=10, head=1).wait(timeout=60)
    assert w.layer == 3
    assert w.head == 1
    assert "layer 10 does not exist; showing 3" in w.notice


def test_unknown_keyword_arguments_are_an_error_with_a_suggestion() -> None:
    with pytest.raises(TypeError, match=r"'modle' \(did you mean 'model'\?\)"):
        AttentionWidget(modle="x")


def test_model_access_error_is_a_gemma_widget_error() -> None:
    error = ModelAccessError("m", "f")
    assert str(error) == "m\nFix: f"
