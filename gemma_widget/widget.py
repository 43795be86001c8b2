"""`AttentionWidget`: the live attention explorer, as an anywidget.

Traits hold everything a user sees or sets; the front end (js/widget.ts) mirrors them in
`js/model.ts`. The model loads and runs on a background thread (`CoalescingWorker`); results are
applied on the event loop of the thread that asked for them, never halfway through a comm
message.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import torch
import traitlets

from .applying import ApplyLoop
from .bundle import STATIC, bundle_file
from .embedding import Embedding, SentencePipeline, embed_result, pipeline_for
from .engine import compute_attention
from .errors import (
    ForwardError,
    GemmaWidgetError,
    ModelAccessError,
    ModelNotFoundError,
    TextError,
    check_text,
)
from .export import (
    STANDALONE_BYTE_BUDGET,
    as_attention_array,
    bertviz_inputs,
    save_html,
    save_npz,
)
from .headless import render_page_image
from .loading import DEFAULT_MODEL, LoadedModel, load_model, wrap_model
from .projection import Rows, project, thumbnails, token_strips, view_rows
from .prompts import PROMPTS
from .result import AttentionResult
from .statistics import STATISTICS, HeadStatistics, head_statistics
from .superseding import SupersededError
from .torch_thread import release_thread_team
from .wire import (
    encode_attention,
    encode_weights,
    encode_window,
    fills_in_later,
    layers_to_send,
    sends_window,
    token_window,
)
from .worker import CoalescingWorker

STATUSES = ("loading", "running", "ready", "error")
# Typing pauses this long before every layer of a mid-length text follows the shown one (wire.py).
FILL_IN_AFTER_S = 0.3
# Moving a long text's window (dragging its slider) pauses this long before the kernel sends it.
WINDOW_AFTER_MOVE_S = 0.15
# Statistics of longer texts are computed only while the model view shows them (or on request):
# at 2048 tokens they take 1.5 s, which would hold up the next keystroke's forward pass.
EAGER_STATISTICS_MAX_TOKENS = 512
# Up to here statistics take at most 2 ms (EG shape), less than a second message and the frame
# it costs the browser: they travel with the attention.
STATISTICS_WITH_RESULT_MAX_TOKENS = 128
VIEWS = ("head", "matrix", "model")
SCALES = ("linear", "log", "power")
MASKS = ("model", "causal")


def _parse_dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    parsed = getattr(torch, dtype, None)
    if not isinstance(parsed, torch.dtype):
        raise ValueError(f"Unknown dtype {dtype!r}: use 'float32', 'bfloat16' or 'float16'.")
    return parsed


@dataclass(frozen=True)
class _View:
    """A result as the view shows it: rows after hiding/merging, and their attention."""

    rows: Rows
    attention: np.ndarray  # [layers, heads, rows, rows]
    hide_special: bool
    merge_words: bool

    @property
    def options(self) -> dict[str, bool]:
        """What the wire metas carry, so the front end never draws merged rows as tokens."""
        return {"hide_special": self.hide_special, "merge_words": self.merge_words}


def _view_of(result: AttentionResult, *, hide_special: bool, merge_words: bool) -> _View:
    rows = view_rows(result, hide_special=hide_special, merge_words=merge_words)
    return _View(rows, project(result.attention, rows), hide_special, merge_words)


@dataclass(frozen=True)
class _Outcome:
    """What the worker produced for one generation of (text, model, view options)."""

    generation: int
    loaded: LoadedModel | None
    result: AttentionResult | None
    view: _View | None
    error: GemmaWidgetError | None


class _ImageReply:
    """A view's answer to one image request."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.data: bytes | None = None
        self.error = ""


# How the page sets how the result is viewed (layer, head, view, pin, ...): it draws the change
# first and sends it after that frame's paint, slider steps at most every 200 ms
# (js/view-sync.ts). No echo then: an echo of an earlier step would arrive while a later one
# waits to be sent and move the slider back for a moment.
_VIEW_STATE = {"sync": True, "echo_update": False}


class AttentionWidget(anywidget.AnyWidget):
    """Shows how the tokens of `text` attend to each other, live as the text changes.

    >>> w = AttentionWidget("The cat sat on the mat.")   # EmbeddingGemma by default
    >>> w.layer, w.head = 5, 2
    >>> w.wait().attention.shape                          # (layers, heads, tokens, tokens)
    """

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    # --- state the user sets (from Python or the front end) -------------------------------------
    text = traitlets.Unicode("", help="The text whose attention is shown.").tag(sync=True)
    model = traitlets.Unicode(DEFAULT_MODEL, help="Hub id or local path of the model.").tag(
        sync=True
    )
    layer = traitlets.Int(0, min=0, help="Layer shown, 0-based.").tag(**_VIEW_STATE)
    head = traitlets.Int(0, min=0, help="Head shown, 0-based (ignored when all_heads).").tag(
        **_VIEW_STATE
    )
    all_heads = traitlets.Bool(False, help="Overlay every head, one colour each.").tag(
        **_VIEW_STATE
    )
    prompt = traitlets.Enum(
        list(PROMPTS), "none", help="EmbeddingGemma task prompt put before the text."
    ).tag(sync=True)
    view = traitlets.Enum(
        VIEWS, "head", help="head: lines; matrix: heatmap; model: every layer and head."
    ).tag(**_VIEW_STATE)
    selected_token = traitlets.Int(
        -1, min=-1, help="Row pinned in the views (index into view_tokens); -1 for none."
    ).tag(**_VIEW_STATE)
    window_start = traitlets.Int(
        0, min=0, help="Long texts: first row of the head view's window (the view follows)."
    ).tag(**_VIEW_STATE)
    hide_special = traitlets.Bool(
        False, help="Hide special and prompt tokens; the other rows are renormalised to sum to 1."
    ).tag(**_VIEW_STATE)
    merge_words = traitlets.Bool(
        False, help="Merge sub-word pieces into words (sum over attended, mean over attending)."
    ).tag(**_VIEW_STATE)
    scale = traitlets.Enum(
        SCALES, "linear", help="Colour scale of the matrix and model views."
    ).tag(**_VIEW_STATE)
    statistic = traitlets.Enum(
        STATISTICS, "entropy", help="Per-head statistic written in the model view."
    ).tag(**_VIEW_STATE)
    mask = traitlets.Enum(
        MASKS,
        "model",
        help="model: the model's own attention mask (bidirectional for EmbeddingGemma); causal: "
        "the same weights, each token seeing only itself and the tokens before it.",
    ).tag(sync=True)

    # --- state the kernel reports (read-only) ---------------------------------------------------
    status = traitlets.Enum(STATUSES, "loading", read_only=True).tag(sync=True)
    error = traitlets.Unicode("", read_only=True, help="What went wrong.").tag(sync=True)
    error_fix = traitlets.Unicode("", read_only=True, help="How to fix it.").tag(sync=True)
    notice = traitlets.Unicode("", read_only=True, help="e.g. truncation.").tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode(), read_only=True).tag(sync=True)
    special = traitlets.List(traitlets.Bool(), read_only=True).tag(sync=True)
    prompt_mask = traitlets.List(traitlets.Bool(), read_only=True, help="Prompt tokens.").tag(
        sync=True
    )
    rendered_prompt = traitlets.Unicode("none", read_only=True).tag(sync=True)
    prompts = traitlets.Dict(PROMPTS, read_only=True, help="Prompt names and prefixes.").tag(
        sync=True
    )
    rendered_text = traitlets.Unicode("", read_only=True, help="Text of `tokens`.").tag(sync=True)
    num_layers = traitlets.Int(0, read_only=True).tag(sync=True)
    num_heads = traitlets.Int(0, read_only=True).tag(sync=True)
    model_info = traitlets.Unicode("", read_only=True, help="Model, device, dtype.").tag(sync=True)
    editable = traitlets.Bool(True, read_only=True, help="False for precomputed attention.").tag(
        sync=True
    )
    progress = traitlets.Unicode("", read_only=True, help="The loading step under way.").tag(
        sync=True
    )
    view_tokens = traitlets.List(
        traitlets.Unicode(), read_only=True, help="Rows of the view: tokens, or words."
    ).tag(sync=True)
    view_kinds = traitlets.List(traitlets.Enum(("text", "special", "prompt")), read_only=True).tag(
        sync=True
    )
    renormalised = traitlets.Bool(
        False, read_only=True, help="Rows renormalised after hiding tokens."
    ).tag(sync=True)
    head_stats = traitlets.Dict(
        read_only=True, help="{statistic: [[value per head] per layer]}; see statistics.py."
    ).tag(sync=True)
    layer_types = traitlets.List(
        traitlets.Unicode(), read_only=True, help="e.g. sliding_attention, full_attention."
    ).tag(sync=True)
    num_kv_heads = traitlets.Int(0, read_only=True, help="Key/value heads per layer.").tag(
        sync=True
    )
    _attention_buffer = traitlets.Bytes(b"", read_only=True).tag(sync=True)
    _attention_meta = traitlets.Dict(read_only=True).tag(sync=True)
    _thumbnail_buffer = traitlets.Bytes(b"", read_only=True).tag(sync=True)
    _thumbnail_meta = traitlets.Dict(read_only=True).tag(sync=True)
    _token_buffer = traitlets.Bytes(b"", read_only=True).tag(sync=True)
    _token_meta = traitlets.Dict(read_only=True).tag(sync=True)
    _window_buffer = traitlets.Bytes(b"", read_only=True).tag(sync=True)
    _window_meta = traitlets.Dict(read_only=True).tag(sync=True)

    def __init__(
        self,
        text: str = "",
        *,
        model: Any = DEFAULT_MODEL,
        tokenizer: Any = None,
        layer: int = 0,
        head: int = 0,
        all_heads: bool = False,
        prompt: str = "none",
        view: str = "head",
        selected_token: int = -1,
        hide_special: bool = False,
        merge_words: bool = False,
        scale: str = "linear",
        statistic: str = "entropy",
        mask: str = "model",
        device: str | None = None,
        dtype: torch.dtype | str | None = None,
        trust_remote_code: bool = False,
        fallback: str | None = None,
        _precomputed: AttentionResult | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise TypeError(self._unknown_arguments_message(unknown))
        bundle_file("widget.js")  # a clear error instead of a blank output when never built
        bundle_file("widget.css")
        self._device = device
        self._dtype = _parse_dtype(dtype)
        self._trust_remote_code = trust_remote_code
        self._fallback = fallback
        # The model that could not be loaded and why, while `fallback` stands in for it.
        self._failed: tuple[str, GemmaWidgetError] | None = None
        self._given: LoadedModel | None = None
        self._given_objects = (model, tokenizer) if not isinstance(model, str) else None
        self._loaded: LoadedModel | None = None
        self._result: AttentionResult | None = None
        self._view: _View | None = None
        # Statistics of one result (they follow the attention: see _refresh), and those shown.
        self._statistics: tuple[AttentionResult, HeadStatistics] | None = None
        self._statistics_shown: HeadStatistics | None = None
        self._fill_in_timer: threading.Timer | None = None
        self._window_timer: threading.Timer | None = None
        self._state_lock = threading.RLock()
        self._done = threading.Condition(self._state_lock)
        self._generation = 0
        self._finished: _Outcome | None = None
        self._pending: _Outcome | None = None
        self._worker = CoalescingWorker(self._refresh, name="gemma-widget")
        self._started = False
        self._applier = ApplyLoop()
        self._image_requests = 0
        self._image_replies: dict[int, _ImageReply] = {}
        self._result_listeners: list[Callable[[], None]] = []
        model_name = model if isinstance(model, str) else _object_name(model)
        super().__init__(
            text=text,
            model=model_name,
            layer=layer,
            head=head,
            all_heads=all_heads,
            prompt=prompt,
            view=view,
            selected_token=selected_token,
            hide_special=hide_special,
            merge_words=merge_words,
            scale=scale,
            statistic=statistic,
            mask=mask,
        )
        self.on_msg(self._answer_message)
        if _precomputed is not None:
            self._show_precomputed(_precomputed)
            return
        self._started = True
        self._request()

    @staticmethod
    def _unknown_arguments_message(unknown: dict[str, Any]) -> str:
        signature = inspect.signature(AttentionWidget.__init__)
        known = [
            name
            for name in signature.parameters
            if name not in ("self", "unknown") and not name.startswith("_")
        ]
        parts = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        return (
            f"AttentionWidget() got unknown keyword argument(s) {', '.join(parts)}; "
            f"it accepts {', '.join(known)}."
        )

    # --- Python API -----------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> AttentionWidget:
        """Block until the current text (and model) are done; raise the error if they failed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._done:
            while self._finished is None or self._finished.generation < self._generation:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(
                        f"AttentionWidget still {self.status} after {timeout} s "
                        f"(text {self.text[:40]!r})."
                    )
                self._done.wait(remaining)
            finished = self._finished
        self._apply_pending()
        self._apply_statistics()
        if finished.error is not None:
            raise finished.error
        return self

    @property
    def result(self) -> AttentionResult:
        """Everything computed for the current text (waits for it)."""
        self.wait()
        assert self._result is not None  # wait() raised otherwise
        return self._result

    @property
    def attention(self) -> np.ndarray:
        """`[layers, heads, n, n]` float32 attention of the current text (waits for it)."""
        return self.result.attention

    @property
    def token_ids(self) -> list[int]:
        return self.result.token_ids

    @property
    def view_attention(self) -> np.ndarray:
        """`[layers, heads, rows, rows]` attention as the views show it (`view_tokens` label
        the rows): with `hide_special` renormalised, with `merge_words` merged into words."""
        self.wait()
        assert self._view is not None
        return self._view.attention

    @property
    def statistics(self) -> HeadStatistics:
        """Per-head entropy, distance, sink and direction shares (`[layers, heads]` each)."""
        return self._statistics_for(self.result)

    @property
    def embedding(self) -> Embedding:
        """The sentence embedding of the current text, made by the model's own pipeline
        (`embedding.py`; `w.embedding_pipeline` says which), with each token's part of it."""
        result = self.result
        loaded = self._loaded
        if loaded is None or result.hidden is None:
            raise GemmaWidgetError(
                "This widget shows precomputed attention, so it has no embedding.",
                "Create the widget with a model: AttentionWidget(text, model=...).",
            )
        if not result.tokens:
            raise GemmaWidgetError("An empty text has no embedding.", "Type some text.")
        return embed_result(result, pipeline_for(loaded))

    @property
    def embedding_pipeline(self) -> SentencePipeline:
        """How the model turns hidden states into its embedding (read on first use)."""
        self.wait()
        if self._loaded is None:
            raise GemmaWidgetError(
                "This widget shows precomputed attention, so it has no model.",
                "Create the widget with a model: AttentionWidget(text, model=...).",
            )
        return pipeline_for(self._loaded)

    def on_result(self, callback: Callable[[], None]) -> None:
        """Call `callback()` each time a new result (or an error) is on screen, on the thread
        that applies results (the kernel's event loop in a notebook)."""
        self._result_listeners.append(callback)

    def _tell_listeners(self) -> None:
        for callback in list(self._result_listeners):
            callback()

    def _statistics_for(self, result: AttentionResult) -> HeadStatistics:
        """The statistics of `result`, computed once (they depend on nothing else)."""
        with self._state_lock:
            known = self._statistics
        if known is not None and known[0] is result:
            return known[1]
        statistics = head_statistics(result.attention, result.special)
        with self._state_lock:
            self._statistics = (result, statistics)
        return statistics

    @classmethod
    def from_attention(
        cls,
        attention: Any,
        tokens: list[str],
        *,
        text: str | None = None,
        name: str = "precomputed attention",
        layer: int = 0,
        head: int = 0,
        special: list[bool] | None = None,
    ) -> AttentionWidget:
        """Show attention computed elsewhere (no model is loaded).

        `attention` is bertviz's form, a tuple of `[1, heads, n, n]` tensors (one per layer),
        or an array `[layers, heads, n, n]` (a leading batch axis of 1 is dropped). `special`
        flags the special tokens; by default, tokens written like `<bos>` or `[CLS]`.
        """
        array = as_attention_array(attention, len(tokens))
        labels = [str(token) for token in tokens]
        flags = special if special is not None else [_looks_special(t) for t in labels]
        if len(flags) != len(labels):
            raise ValueError(f"special has {len(flags)} flags for {len(labels)} tokens.")
        shown_text = "".join(t for t, s in zip(labels, flags, strict=True) if not s)
        result = AttentionResult(
            text if text is not None else shown_text,
            labels,
            [],
            [bool(flag) for flag in flags],
            array,
            len(tokens),
        )
        return cls(result.text, model=name, layer=layer, head=head, _precomputed=result)

    def save(self, path: str | Path, *, scale: float = 1.0) -> Path:
        """Save the current text's attention: `.html` (a standalone page), `.npz` (the data),
        or `.png`/`.svg` of the current view at `scale` times its on-screen size.

        Images are drawn by the widget's own front end in a headless Chromium or Chrome (see
        `headless.py`); in a notebook, `await w.save_image(...)` asks the view on screen.
        """
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix in (".png", ".svg"):
            with tempfile.TemporaryDirectory(prefix="gemma-widget-") as folder:
                page = self.save(Path(folder) / "view.html")
                target.write_bytes(render_page_image(page, suffix[1:], scale))
            return target
        if suffix not in (".npz", ".html"):
            raise ValueError(
                f"Cannot save {target.name}: AttentionWidget.save writes .html (a standalone "
                "page), .npz (the data), .png or .svg (the current view)."
            )
        result = self.result
        layer_types = self._loaded.layer_types if self._loaded else []
        if suffix == ".npz":
            return save_npz(target, result, self.model, layer_types)
        synced = [
            name
            for name in self.trait_names(sync=True)
            if name in vars(AttentionWidget) and not name.startswith("_")
        ]
        state: dict[str, Any] = {name: getattr(self, name) for name in synced}
        assert self._view is not None  # self.result waited for it
        attention = self._view.attention
        layers = attention.shape[0]
        start, stop = 0, layers  # every layer: there is no kernel to ask for another ...
        if attention[0].nbytes // 2 * layers > STANDALONE_BYTE_BUDGET:  # ... unless too big
            start, stop = self.layer, self.layer + 1
            # The head view's window of every layer still fits: its layer slider keeps working.
            window_start, window_stop = self._window_rows(self._view)
            window, window_meta = encode_window(attention, window_start, window_stop)
            state["_window_buffer"] = window
            state["_window_meta"] = {**window_meta, **self._view.options}
            state["notice"] = " ".join(
                part
                for part in (
                    self.notice,
                    f"This page holds layer {self.layer} whole (the matrix view), and tokens "
                    f"{window_start} to {window_stop - 1} of every layer (the head view): every "
                    f"layer of this text would make a file over "
                    f"{STANDALONE_BYTE_BUDGET // 2**20} MB. Save another layer with w.layer, "
                    "another window with w.window_start, or a shorter text.",
                )
                if part
            )
        buffer, meta = encode_attention(attention, start, stop)
        state.update(
            status="ready",
            progress="",
            _attention_buffer=buffer,
            _attention_meta={**self._attention_meta, **meta},
            _thumbnail_buffer=self._thumbnail_buffer,
            _thumbnail_meta=self._thumbnail_meta,
        )
        return save_html(target, state, title=f"Attention: {result.text[:60]}")

    async def save_image(
        self, path: str | Path, *, scale: float = 1.0, timeout: float = 30.0
    ) -> Path:
        """Save the head view as drawn, `.png` or `.svg`: `await w.save_image("fig.png")`.

        Only the browser knows the fonts and layout, so a displayed view draws the image; the
        cell awaits its answer, which keeps the kernel free to receive it.
        """
        target = Path(path)
        image_format = target.suffix.lower().lstrip(".")
        if image_format not in ("png", "svg"):
            raise ValueError(f"save_image writes .png or .svg, not {target.name}.")
        reply = _ImageReply()
        with self._state_lock:
            self._image_requests += 1
            request_id = self._image_requests
            self._image_replies[request_id] = reply
        self.send({"kind": "export", "id": request_id, "format": image_format, "scale": scale})
        loop = asyncio.get_running_loop()
        answered = await loop.run_in_executor(None, reply.done.wait, timeout)
        with self._state_lock:
            self._image_replies.pop(request_id, None)
        if not answered:
            raise GemmaWidgetError(
                f"No view of the widget answered the image request within {timeout:g} s.",
                "Display the widget in a live notebook (a cell ending in `w`) and run "
                "`await w.save_image(...)` again; without a view on screen, "
                f"`w.save({str(target)!r})` draws it in a headless Chromium or Chrome.",
            )
        if reply.error or reply.data is None:
            raise GemmaWidgetError(
                f"The view could not draw the image: {reply.error or 'no data came back'}.",
                "Wait until the view shows the text (w.wait()), then save again.",
            )
        target.write_bytes(reply.data)
        return target

    def bertviz(self) -> tuple[tuple[Any, ...], list[str]]:
        """`(attention, tokens)` for `bertviz.head_view(*w.bertviz())` and `model_view`."""
        return bertviz_inputs(self.result)

    @property
    def loaded_model(self) -> LoadedModel | None:
        """The model in use once loaded (shared with other widgets on the same model)."""
        return self._loaded

    def close(self) -> None:
        """Stop the worker and let go of this widget's results (the shared model stays)."""
        worker = getattr(self, "_worker", None)  # absent when __init__ failed early
        if worker is not None:
            worker.close()
        for name in ("_fill_in_timer", "_window_timer"):
            timer = getattr(self, name, None)
            if timer is not None:
                timer.cancel()
        self._result = None
        self._view = None
        self._pending = None
        getattr(self, "_result_listeners", []).clear()
        super().close()

    # --- validation -----------------------------------------------------------------------------
    @traitlets.validate("text", "model", "prompt", "mask")
    def _check_frozen(self, proposal: dict[str, Any]) -> Any:
        name = proposal["trait"].name
        if not self.editable and proposal["value"] != getattr(self, name):
            raise traitlets.TraitError(
                f"This widget shows precomputed attention: its {name} cannot change. Create an "
                "AttentionWidget with a model to explore new text."
            )
        if name == "text":
            return self._check_text(proposal["value"])
        return proposal["value"]

    @staticmethod
    def _check_text(value: str) -> str:
        try:
            check_text(value)
        except TextError as exc:
            raise traitlets.TraitError(str(exc)) from None
        return str(value)

    @traitlets.validate("layer")
    def _check_layer(self, proposal: dict[str, Any]) -> int:
        return self._in_range("layer", proposal["value"], self.num_layers)

    @traitlets.validate("head")
    def _check_head(self, proposal: dict[str, Any]) -> int:
        return self._in_range("head", proposal["value"], self.num_heads)

    @traitlets.validate("selected_token")
    def _check_selected_token(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        rows = len(self.view_tokens)
        if rows and value >= rows:
            raise traitlets.TraitError(
                f"selected_token must be -1 (none) or between 0 and {rows - 1}, an index into "
                f"view_tokens ({rows} rows); got {value}."
            )
        return value

    def _in_range(self, name: str, value: int, count: int) -> int:
        if count and not 0 <= value < count:
            raise traitlets.TraitError(
                f"{name} must be between 0 and {count - 1} for {self.model} "
                f"({count} {name}s); got {value}."
            )
        return value

    # --- messages from the front end ------------------------------------------------------------
    def _answer_message(self, _: Any, content: Any, buffers: list[bytes]) -> None:
        """Answer the front end's liveness ping, take its image replies; ignore other kinds.

        The front end pings when its text has waited a while, to tell a slow forward pass
        (answered at once: the comm handler stays free) from a busy, interrupted or restarted
        kernel (no answer).
        """
        if not isinstance(content, dict):
            return
        if content.get("kind") == "ping":
            self.send({"kind": "pong", "id": content.get("id")})
        elif content.get("kind") == "export":
            with self._state_lock:
                reply = self._image_replies.get(content.get("id"))  # type: ignore[arg-type]
            if reply is not None and not reply.done.is_set():  # the first view to answer wins
                reply.error = str(content.get("error") or "")
                reply.data = bytes(buffers[0]) if buffers else None
                reply.done.set()

    # --- reacting to changes --------------------------------------------------------------------
    @traitlets.observe("text", "model", "prompt", "mask", "hide_special", "merge_words")
    def _on_input_change(self, change: dict[str, Any]) -> None:
        if change["name"] == "model":
            self._failed = None  # setting the model again retries it
        if self._started:
            self._request()
        elif self._result is not None:  # precomputed: no worker, and no forward pass to wait for
            with self.hold_sync():
                self._show_result(self._result, self._current_view(self._result))

    def _current_view(self, result: AttentionResult) -> _View:
        return _view_of(result, hide_special=self.hide_special, merge_words=self.merge_words)

    @traitlets.observe("view")
    def _on_view_change(self, change: dict[str, Any]) -> None:
        """The matrix view needs the whole layer on screen; the model view needs statistics that
        long texts skip while typing: compute them."""
        self._send_layer_if_missing()
        known = self._statistics
        missing = self._result is not None and (known is None or known[0] is not self._result)
        if change["new"] == "model" and self._started and missing:
            self._request()  # a cache hit: the worker computes only the statistics

    @traitlets.observe("window_start")
    def _on_window_start_change(self, change: dict[str, Any]) -> None:
        if self._view is not None and not self._window_is_current(self._view):
            self._send_window_later(self._view, WINDOW_AFTER_MOVE_S)

    @traitlets.observe("selected_token")
    def _on_selected_token_change(self, change: dict[str, Any]) -> None:
        if self._view is not None:
            self._send_token_strips(self._view)

    @traitlets.observe("layer")
    def _on_layer_change(self, change: dict[str, Any]) -> None:
        self._send_layer_if_missing()

    def _send_layer_if_missing(self) -> None:
        """The layer on screen, when the front end lacks it. The head view of a long text
        draws from the window of every layer once that has arrived: no 25 MB layer then."""
        meta = self._attention_meta
        if self._view is None or not meta:
            return
        start, stop = meta["layers"]
        if start <= self.layer < stop:
            return
        if self.view == "head" and self._window_is_current(self._view):
            return
        self._send_attention(self._view)

    def _request(self) -> None:
        """A new generation of (text, model): computed in the background, and applied on the
        event loop of the thread asking now (`applying.py`)."""
        release_thread_team()  # torch run in a cell on this thread would slow the pass down
        with self._state_lock:
            self._applier.remember()
            self._generation += 1
            standing_in = self._failed is not None and self._failed[0] == self.model
            needs_load = self._loaded is None or (
                self._loaded.name != self.model and not standing_in
            )
        self.set_trait("status", "loading" if needs_load else "running")
        self._worker.poke()

    # --- worker thread --------------------------------------------------------------------------
    def _refresh(self) -> None:
        with self._state_lock:
            generation, text, source = self._generation, self.text, self.model
            prompt = PROMPTS[self.prompt]
            causal = self.mask == "causal"
            options = {"hide_special": self.hide_special, "merge_words": self.merge_words}
            model_view = self.view == "model"
        loaded: LoadedModel | None = None
        result: AttentionResult | None = None
        view: _View | None = None
        error: GemmaWidgetError | None = None
        try:
            loaded = self._model_or_fallback(source)
            result = compute_attention(
                loaded,
                text,
                prompt,
                causal=causal,
                # Typing overtook this text: the view never draws a result for text the box no
                # longer holds, so finishing the pass would be wasted work.
                should_stop=lambda: self._generation != generation,
            )
            view = _view_of(result, **options)
            if len(result.tokens) <= STATISTICS_WITH_RESULT_MAX_TOKENS:
                self._statistics_for(result)  # cheap: in the same message as the attention
        except SupersededError:
            return  # a newer generation is queued: the worker runs again at once
        except GemmaWidgetError as exc:
            error = exc
        except Exception as exc:  # never leave the widget stuck in "running"
            error = ForwardError(f"Unexpected {type(exc).__name__}: {exc}", "Report this bug.")
        outcome = _Outcome(generation, loaded, result, view, error)
        with self._done:
            self._pending = outcome
        self._applier.call(self._apply_pending)  # the attention reaches the view first
        with self._state_lock:
            still_current = generation == self._generation
        if (
            result is not None
            and still_current
            and (model_view or len(result.tokens) <= EAGER_STATISTICS_MAX_TOKENS)
        ):
            self._statistics_for(result)  # then the model view's numbers
        with self._done:
            self._finished = outcome
            self._done.notify_all()
        self._applier.call(self._apply_statistics)

    def _apply_statistics(self) -> None:
        """Show the statistics of the result on screen once they are computed."""
        with self._state_lock:
            known = self._statistics
            if known is None or known[0] is not self._result or known[1] is self._statistics_shown:
                return
            self._statistics_shown = known[1]
            self.set_trait("head_stats", known[1].as_lists())

    def _model_or_fallback(self, source: str) -> LoadedModel:
        """The model asked for; if it cannot be had and a fallback was given, the fallback.

        A failed model is not retried on every keystroke, only when `model` is set again.
        """
        if self._failed is None or self._failed[0] != source:
            try:
                loaded = self._model_for(source)
            except (ModelAccessError, ModelNotFoundError) as exc:
                if not self._fallback or self._fallback == source:
                    raise
                self._failed = (source, exc)
            else:
                self._failed = None
                return loaded
        assert self._fallback is not None
        return self._model_for(self._fallback)

    def _model_for(self, source: str) -> LoadedModel:
        if self._loaded is not None and self._loaded.name == source:
            return self._loaded
        if self._given_objects is not None and source == _object_name(self._given_objects[0]):
            if self._given is None:
                model, tokenizer = self._given_objects
                if tokenizer is None:
                    from transformers import AutoTokenizer

                    tokenizer = AutoTokenizer.from_pretrained(source)
                self._given = wrap_model(model, tokenizer, name=source)
            return self._given

        def report(step: str) -> None:
            self._applier.call(lambda: self.set_trait("progress", f"{source}: {step}"))

        return load_model(source, self._device, self._dtype, self._trust_remote_code, report)

    # --- applying results (main thread in a kernel) ---------------------------------------------
    def _apply_pending(self) -> None:
        with self._state_lock:
            outcome, self._pending = self._pending, None
            if outcome is None or outcome.generation != self._generation:
                return  # nothing new, or stale: a newer generation is on its way
            with self.hold_sync():
                self.set_trait("progress", "")
                notices = self._adopt_model(outcome.loaded) if outcome.loaded else []
                if outcome.error is not None:
                    self.set_trait("error", outcome.error.message)
                    self.set_trait("error_fix", outcome.error.fix)
                    self.set_trait("status", "error")
                else:
                    assert outcome.result is not None
                    assert outcome.view is not None
                    assert outcome.loaded is not None
                    self._show(outcome.result, outcome.view, outcome.loaded, notices)
        self._tell_listeners()

    def _adopt_model(self, loaded: LoadedModel) -> list[str]:
        """Switch to a newly loaded model; clamp layer/head to it and say so."""
        if loaded is self._loaded:
            return []
        self._loaded = loaded
        notices = []
        self.set_trait("num_layers", loaded.num_layers)
        self.set_trait("num_heads", loaded.num_heads)
        self.set_trait("num_kv_heads", loaded.num_key_value_heads)
        self.set_trait("layer_types", loaded.layer_types)
        for name, count in (("layer", loaded.num_layers), ("head", loaded.num_heads)):
            if getattr(self, name) >= count:
                notices.append(f"{name} {getattr(self, name)} does not exist; showing {count - 1}.")
                self.set_trait(name, count - 1)
        dtype = str(loaded.dtype).removeprefix("torch.")
        self.set_trait("model_info", f"{loaded.label} · {loaded.device} · {dtype}")
        return notices

    def _show(
        self, result: AttentionResult, view: _View, loaded: LoadedModel, notices: list[str]
    ) -> None:
        failed = self._failed
        if failed is not None and loaded.name != failed[0]:
            why = failed[1]
            notices.insert(
                0,
                f"{why.message} Fix: {why.fix} Showing {loaded.label} meanwhile; set w.model "
                "again to retry.",
            )
        if result.truncated:
            notices.append(
                f"Showing the first {len(result.tokens)} of {result.total_tokens} tokens: "
                f"{loaded.name} reads at most {loaded.max_length}."
            )
        self.set_trait("notice", " ".join(notices))
        self.set_trait("error", "")
        self.set_trait("error_fix", "")
        self._show_result(result, view)

    def _show_result(self, result: AttentionResult, view: _View) -> None:
        """Tokens, attention and the text they are for, together (callers hold `hold_sync`)."""
        self._result = result
        self._view = view
        self.set_trait("tokens", result.tokens)
        self.set_trait("special", result.special)
        self.set_trait("prompt_mask", result.in_prompt or [False] * len(result.tokens))
        self.set_trait("rendered_text", result.text)
        self.set_trait("rendered_prompt", _prompt_name(result.prompt))
        self.set_trait("view_tokens", view.rows.labels)
        self.set_trait("view_kinds", view.rows.kinds)
        self.set_trait("renormalised", view.rows.renormalised)
        known = self._statistics
        if known is not None and known[0] is result:  # else they follow (_apply_statistics)
            self._statistics_shown = known[1]
            self.set_trait("head_stats", known[1].as_lists())
        elif self._statistics_shown is not None:
            self._statistics_shown = None
            self.set_trait("head_stats", {})  # never another text's numbers
        self._send_attention(view)
        self._send_thumbnails(view)
        if self.selected_token >= len(view.rows):
            self.selected_token = -1  # the row is gone with its text; the observer clears the strip
        else:
            self._send_token_strips(view)
        if self._window_meta:
            self.set_trait("_window_buffer", b"")  # it belonged to the previous result
            self.set_trait("_window_meta", {})
        self._fill_in_after_a_pause(view)
        self.set_trait("status", "ready")

    def _show_precomputed(self, result: AttentionResult) -> None:
        layers, heads, _, _ = result.attention.shape
        with self.hold_sync():
            self.set_trait("editable", False)
            self.set_trait("num_layers", layers)
            self.set_trait("num_heads", heads)
            for name, count in (("layer", layers), ("head", heads)):
                self._in_range(name, getattr(self, name), count)
            self.set_trait("model_info", f"{self.model} · {layers} layers · {heads} heads")
            self.set_trait("num_kv_heads", heads)
            self._statistics_for(result)
            self._show_result(result, self._current_view(result))
        with self._done:  # wait() returns at once
            self._finished = _Outcome(self._generation, None, result, self._view, None)

    def _send_attention(self, view: _View) -> None:
        """The view's attention: every layer while small, else the one on screen (wire.py).

        The meta names the view options, so the front end never draws merged rows as tokens.
        """
        layers, heads, n, _ = view.attention.shape
        start, stop = layers_to_send(layers, heads, n, min(self.layer, layers - 1))
        buffer, meta = encode_attention(view.attention, start, stop)
        with self.hold_sync():
            self.set_trait("_attention_buffer", buffer)
            self.set_trait("_attention_meta", {**meta, **view.options})

    def _fill_in_after_a_pause(self, view: _View) -> None:
        """Mid-length texts: every layer follows the shown one once typing pauses, so layer
        switches stop waiting for the kernel without slowing the keystrokes that come first."""
        if self._fill_in_timer is not None:
            self._fill_in_timer.cancel()
        layers, heads, n, _ = view.attention.shape
        if sends_window(layers, heads, n):
            self._send_window_later(view, FILL_IN_AFTER_S)
            return
        if not fills_in_later(layers, heads, n):
            return

        def fill_in() -> None:
            if self._view is not view or self.status != "ready":
                return  # the text (or the view options) changed meanwhile
            buffer, meta = encode_attention(view.attention, 0, layers)
            with self.hold_sync():
                self.set_trait("_attention_buffer", buffer)
                self.set_trait("_attention_meta", {**self._attention_meta, **meta})

        self._fill_in_timer = self._later(self._fill_in_timer, FILL_IN_AFTER_S, fill_in)

    def _later(
        self, pending: threading.Timer | None, delay: float, callback: Callable[[], None]
    ) -> threading.Timer:
        """Run `callback` where results are applied, `delay` seconds from now, instead of the
        `pending` timer (cancelled): a new keystroke or window move restarts the pause."""
        if pending is not None:
            pending.cancel()
        timer = threading.Timer(delay, lambda: self._applier.call(callback))
        timer.daemon = True
        timer.start()
        return timer

    def _window_rows(self, view: _View) -> tuple[int, int]:
        return token_window(view.attention.shape[2], self.window_start)

    def _window_is_current(self, view: _View) -> bool:
        """Whether the front end holds the window on screen, of every layer, for `view`."""
        meta = self._window_meta
        layers, heads, n, _ = view.attention.shape
        if not meta or self._view is not view or not sends_window(layers, heads, n):
            return False
        return bool(meta["start"] == self._window_rows(view)[0] and meta["n"] == n)

    def _send_window_later(self, view: _View, delay: float) -> None:
        """The head view's window of every layer, once typing (or the window) has paused."""

        def send() -> None:
            layers, heads, n, _ = view.attention.shape
            if self._view is not view or self.status != "ready":
                return  # the text (or the view options) changed meanwhile
            if not sends_window(layers, heads, n) or self._window_is_current(view):
                return
            start, stop = self._window_rows(view)
            buffer, meta = encode_window(view.attention, start, stop)
            with self.hold_sync():
                self.set_trait("_window_buffer", buffer)
                self.set_trait("_window_meta", {**meta, **view.options})

        self._window_timer = self._later(self._window_timer, delay, send)

    def _send_thumbnails(self, view: _View) -> None:
        """Shrunken maps of every layer and head for the model view, when the attention buffer
        does not hold every layer already (then the front end shrinks those itself)."""
        start, stop = self._attention_meta["layers"]
        if stop - start == view.attention.shape[0]:
            buffer, meta = b"", {}
        else:
            shrunk = thumbnails(view.attention)
            buffer, wire_meta = encode_attention(shrunk, 0, shrunk.shape[0])
            meta = dict(wire_meta)
        self.set_trait("_thumbnail_buffer", buffer)
        self.set_trait("_thumbnail_meta", meta)

    def _send_token_strips(self, view: _View) -> None:
        """The pinned row in every layer and head (`projection.token_strips`), or nothing."""
        index = self.selected_token
        if not 0 <= index < len(view.rows):
            buffer, meta = b"", {}
        else:
            layers, heads, n, _ = view.attention.shape
            buffer = encode_weights(token_strips(view.attention, index))
            meta = {"index": index, "layers": layers, "heads": heads, "n": n}
        with self.hold_sync():
            self.set_trait("_token_buffer", buffer)
            self.set_trait("_token_meta", meta)


_SPECIAL_TOKEN = re.compile(r"<[^<>\s]+>|\[[A-Z]+\]")


def _looks_special(token: str) -> bool:
    """`<bos>`, `</s>`, `<start_of_turn>`, `[CLS]`, `[SEP]`: how tokenizers write specials."""
    return _SPECIAL_TOKEN.fullmatch(token) is not None


def _prompt_name(prefix: str) -> str:
    return next(name for name, text in PROMPTS.items() if text == prefix)


def _object_name(model: Any) -> str:
    config = getattr(model, "config", None)
    return str(getattr(config, "name_or_path", "") or type(model).__name__)
