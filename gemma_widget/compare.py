"""`CompareWidget`: two texts (or one text read two ways) side by side, with their embeddings.

EmbeddingGemma is a bi-encoder: a query and a document are encoded separately and compared by the
cosine similarity of their embeddings, so the pair is two live `AttentionWidget`s, not one
cross-attention view. `mode="causal"` reads one text through the same weights with the model's
own (bidirectional) mask on the left and a causal mask on the right: the difference is what
later tokens tell earlier ones.

The panel above the two sides (`SimilarityPanel`, js/compare.ts) shows the similarity, the
embedding pipeline, the Matryoshka size, each side's share of right-to-left attention and each
token's contribution. Those are computed on a background thread from what each side shows, so
typing never waits for them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import anywidget
import ipywidgets
import numpy as np
import traitlets

from .applying import ApplyLoop
from .bundle import STATIC, bundle_file
from .embedding import (
    MATRYOSHKA_DIMENSIONS,
    Contributions,
    Embedding,
    PipelineError,
    SentencePipeline,
    embed_result,
    pipeline_for,
    similarity,
    to_embedding,
    to_similarity,
)
from .errors import GemmaWidgetError
from .loading import DEFAULT_MODEL, LoadedModel
from .result import AttentionResult
from .statistics import right_to_left_share
from .widget import AttentionWidget
from .worker import CoalescingWorker

MODES = ("pair", "causal")
CONTRIBUTIONS = ("similarity", "embedding")
# Kept in step on both sides while they show the same model, so one head is compared with itself.
LINKED_VIEW_TRAITS = ("layer", "head", "all_heads", "view", "scale", "statistic", "hide_special")


class SimilarityPanel(anywidget.AnyWidget):
    """The strip above a `CompareWidget`'s two sides; its state is set by the widget."""

    _esm = STATIC / "compare.js"
    _css = STATIC / "compare.css"

    dimensions = traitlets.Int(0, help="Matryoshka size the similarity uses.").tag(sync=True)
    contribution = traitlets.Enum(
        CONTRIBUTIONS, "similarity", help="What the token strips show each token adding to."
    ).tag(sync=True)
    mode = traitlets.Enum(MODES, "pair", read_only=True).tag(sync=True)
    dimension_options = traitlets.List(traitlets.Int(), read_only=True).tag(sync=True)
    similarity = traitlets.Float(None, allow_none=True, read_only=True).tag(sync=True)
    similarity_note = traitlets.Unicode("", read_only=True, help="Why there is none.").tag(
        sync=True
    )
    pipeline = traitlets.Unicode("", read_only=True, help="How embeddings are made.").tag(sync=True)
    sides = traitlets.List(traitlets.Dict(), read_only=True).tag(sync=True)


@dataclass(frozen=True)
class _Side:
    """What one side shows, read together under its lock."""

    widget: AttentionWidget
    position: str  # "left" or "right"
    result: AttentionResult | None
    loaded: LoadedModel | None
    error: str
    title: str


class CompareWidget(ipywidgets.VBox):  # type: ignore[misc]
    """Two live attention explorers and the cosine similarity of their embeddings.

    >>> c = CompareWidget("What is a cat?", "A cat is a small carnivorous mammal.")
    >>> c.wait().similarity                     # query vs document, EmbeddingGemma's prompts
    >>> c.left.text = "What is a dog?"          # each side is an AttentionWidget
    >>> CompareWidget("The bank of the river", mode="causal")   # bidirectional vs causal
    """

    def __init__(
        self,
        left_text: str = "",
        right_text: str | None = None,
        *,
        mode: str = "pair",
        model: Any = DEFAULT_MODEL,
        right_model: Any = None,
        left_prompt: str | None = None,
        right_prompt: str | None = None,
        right_mask: str | None = None,
        dimensions: int | None = None,
        contribution: str = "similarity",
        link_views: bool = True,
        **widget_options: Any,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}.")
        bundle_file("compare.js")
        pair = mode == "pair"
        if not pair and right_text is not None:
            raise ValueError("mode='causal' reads one text both ways: pass only left_text.")
        for name, instead in (("prompt", "left_prompt/right_prompt"), ("mask", "right_mask")):
            if name in widget_options:
                raise TypeError(f"CompareWidget sets each side's {name}: pass {instead}.")
        if dimensions is not None and dimensions <= 0:
            raise ValueError(f"dimensions must be a positive number, not {dimensions}.")
        self.left = AttentionWidget(
            left_text,
            model=model,
            prompt=left_prompt or ("query" if pair else "none"),
            **widget_options,
        )
        self.right = AttentionWidget(
            left_text if right_text is None else right_text,
            model=model if right_model is None else right_model,
            prompt=right_prompt or ("document" if pair else self.left.prompt),
            mask=right_mask or ("model" if pair else "causal"),
            **widget_options,
        )
        self._links: list[traitlets.link] = []
        if not pair:  # one text: typing on either side changes both
            self._links += [
                traitlets.link((self.left, "text"), (self.right, "text")),
                traitlets.link((self.left, "prompt"), (self.right, "prompt")),
            ]
        if link_views and self.left.model == self.right.model:
            self._links += [
                traitlets.link((self.left, name), (self.right, name)) for name in LINKED_VIEW_TRAITS
            ]
        self.panel = SimilarityPanel(contribution=contribution, dimensions=dimensions or 0)
        self.panel.set_trait("mode", mode)
        for side in (self.left, self.right):
            side.layout = ipywidgets.Layout(flex="1 1 0", min_width="0", margin="0 6px 0 0")
        self._state_lock = threading.RLock()
        self._done = threading.Condition(self._state_lock)
        self._generation = 0
        self._computed_generation = 0
        # The newest computed panel state not yet on screen, with its generation.
        self._pending: tuple[int, dict[str, Any]] | None = None
        self._embeddings: dict[int, tuple[AttentionResult, Embedding]] = {}
        self._applier = ApplyLoop()
        self._worker = CoalescingWorker(self._recompute, name="gemma-widget-compare")
        super().__init__(
            children=[
                self.panel,
                ipywidgets.HBox([self.left, self.right], layout=ipywidgets.Layout(width="100%")),
            ]
        )
        for side in (self.left, self.right):
            side.on_result(self._request)
            side.observe(lambda _: self._request(), names=["layer", "head"])
        self.panel.observe(lambda _: self._request(), names=["dimensions", "contribution"])
        self._request()

    # --- Python API -----------------------------------------------------------------------------
    @property
    def similarity(self) -> float | None:
        """Cosine similarity of the two embeddings shown (None while there is none)."""
        return self.panel.similarity

    @property
    def dimensions(self) -> int:
        return self.panel.dimensions

    @dimensions.setter
    def dimensions(self, value: int) -> None:
        self.panel.dimensions = value

    @property
    def contribution(self) -> str:
        return str(self.panel.contribution)

    @contribution.setter
    def contribution(self, value: str) -> None:
        self.panel.contribution = value

    @property
    def embeddings(self) -> tuple[Embedding, Embedding]:
        """Both sides' embeddings (waits for them); `.vector(dimensions)` gives the vectors."""
        self.wait()
        return self.left.embedding, self.right.embedding

    def wait(self, timeout: float | None = None) -> CompareWidget:
        """Block until both sides and the similarity are up to date; raise a side's error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        failure: GemmaWidgetError | None = None
        for side in (self.left, self.right):
            try:
                side.wait(None if deadline is None else max(deadline - time.monotonic(), 0))
            except GemmaWidgetError as exc:  # raised once the panel shows it too
                failure = failure or exc
        self._request()  # both results are applied now; make sure the panel follows them
        with self._done:
            target = self._generation
            while self._computed_generation < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"CompareWidget still computing after {timeout} s.")
                self._done.wait(remaining)
        self._apply_pending()  # a cell calling wait() holds the loop the panel is updated on
        if failure is not None:
            raise failure
        return self

    def close(self) -> None:
        """Close both sides and the panel, and stop the background thread."""
        worker = getattr(self, "_worker", None)  # absent when __init__ failed early
        if worker is not None:
            worker.close()
        links = getattr(self, "_links", [])
        for link in links:
            link.unlink()
        links.clear()  # close() runs again from __del__
        for name in ("left", "right", "panel"):
            widget = getattr(self, name, None)
            if widget is not None:
                widget.close()
        super().close()

    # --- computing (background thread) ----------------------------------------------------------
    def _request(self) -> None:
        with self._state_lock:
            self._applier.remember()
            self._generation += 1
        self._worker.poke()

    def _recompute(self) -> None:
        with self._state_lock:
            generation = self._generation
            requested = self.panel.dimensions
            contribution = self.panel.contribution
        sides = [self._snapshot(self.left, "left"), self._snapshot(self.right, "right")]
        state: dict[str, Any]
        try:
            state = self._panel_state(sides, requested, contribution)
        except Exception as exc:  # the panel says so; the two sides keep working
            state = {"similarity_note": f"Could not compute the embeddings: {exc}"}
        with self._done:
            if self._pending is None or self._pending[0] < generation:
                self._pending = (generation, state)
            self._computed_generation = max(self._computed_generation, generation)
            self._done.notify_all()
        self._applier.call(self._apply_pending)

    @staticmethod
    def _snapshot(widget: AttentionWidget, position: str) -> _Side:
        with widget._state_lock:
            error = widget.error if widget.status == "error" else ""
            result = None if error else widget._result
            title = _side_title(widget, position)
            return _Side(widget, position, result, widget._loaded, error, title)

    def _panel_state(
        self, sides: list[_Side], requested: int | None, contribution: str
    ) -> dict[str, Any]:
        pipelines: list[SentencePipeline | None] = [
            pipeline_for(side.loaded) if side.loaded is not None else None for side in sides
        ]
        pairs = zip(sides, pipelines, strict=True)
        embeddings = [self._embedding_of(side, pipeline) for side, pipeline in pairs]
        full = next((e.size for e in embeddings if e is not None), 0)
        options = [full] + [d for d in MATRYOSHKA_DIMENSIONS if d < full] if full else []
        dimensions = requested if requested and 0 < requested <= full else full
        left, right = embeddings
        same_space = (
            sides[0].loaded is not None and sides[0].loaded is sides[1].loaded
        )  # one model: one embedding space
        value: float | None = None
        note = ""
        failed = [side for side in sides if side.error]
        if failed:
            note = f"No similarity while the {failed[0].position} side has an error."
        elif left is None or right is None:
            note = "Waiting for both texts (an empty text has no embedding)."
        elif not same_space:
            note = "The two sides use different models: their embeddings live in different spaces."
        else:
            value = similarity(left, right, dimensions)
        described = [p.description for p in pipelines if p is not None]
        return {
            "similarity": value,
            "similarity_note": note,
            "dimensions": dimensions,
            "dimension_options": options,
            "pipeline": described[0] if described else "",
            "sides": [
                self._side_state(side, own, other, dimensions, contribution, same_space)
                for side, own, other in ((sides[0], left, right), (sides[1], right, left))
            ],
        }

    def _embedding_of(self, side: _Side, pipeline: SentencePipeline | None) -> Embedding | None:
        """The side's embedding, computed once per result."""
        result = side.result
        if result is None or pipeline is None or not result.tokens or result.hidden is None:
            return None
        known = self._embeddings.get(id(result))
        if known is not None and known[0] is result:
            return known[1]
        try:
            embedding = embed_result(result, pipeline)
        except PipelineError:
            return None
        if len(self._embeddings) > 8:
            self._embeddings.clear()
        self._embeddings[id(result)] = (result, embedding)
        return embedding

    @staticmethod
    def _side_state(
        side: _Side,
        own: Embedding | None,
        other: Embedding | None,
        dimensions: int,
        contribution: str,
        same_space: bool,
    ) -> dict[str, Any]:
        result = side.result
        state: dict[str, Any] = {"title": side.title, "error": side.error}
        if result is None:
            return state
        widget = side.widget
        # On its own, not through the side's statistics: those may be under way on the side's
        # worker right now, and this share costs one pass over the attention.
        statistics = right_to_left_share(result.attention)
        layer = min(widget.layer, statistics.shape[0] - 1)
        head = min(widget.head, statistics.shape[1] - 1)
        shares: Contributions | None = None
        if own is not None and contribution == "embedding":
            shares = to_embedding(own, dimensions)
        elif own is not None and other is not None and same_space:
            shares = to_similarity(own, other, dimensions)
        kinds = [
            "special" if special else "prompt" if in_prompt else "text"
            for special, in_prompt in zip(
                result.special, result.in_prompt or [False] * len(result.tokens), strict=True
            )
        ]
        if not result.causal:  # name the model's own mask by what it does
            seen = "bidirectional" if statistics.size and statistics.max() > 0 else "causal"
            state["title"] = side.title.replace("model's own mask", f"own mask: {seen}")
        state.update(
            text=result.text,
            causal=result.causal,
            tokens=result.tokens,
            kinds=kinds,
            scores=None if shares is None else np.round(shares.tokens, 6).tolist(),
            rest=None if shares is None else round(shares.rest, 6),
            right_to_left=float(statistics.mean()) if statistics.size else 0.0,
            right_to_left_head=float(statistics[layer, head]) if statistics.size else 0.0,
            layer=layer,
            head=head,
            exact=own.exact if own is not None else True,
        )
        return state

    # --- applying (kernel thread) ---------------------------------------------------------------

    def _apply_pending(self) -> None:
        with self._state_lock:
            pending, self._pending = self._pending, None
            if pending is None:
                return
            state = pending[1]
            panel = self.panel
            with panel.hold_sync():
                for name in ("similarity", "similarity_note", "dimension_options", "pipeline"):
                    if name in state:
                        panel.set_trait(name, state[name])
                if "sides" in state:
                    panel.set_trait("sides", state["sides"])
                if state.get("dimensions") and panel.dimensions != state["dimensions"]:
                    panel.dimensions = state["dimensions"]  # the observer asks again: cheap


def _side_title(widget: AttentionWidget, position: str) -> str:
    """e.g. `left · query · google/embeddinggemma-300m` or `right · causal mask · ...`."""
    parts = [position]
    if widget.prompt != "none":
        parts.append(widget.prompt)
    parts.append("causal mask" if widget.mask == "causal" else "model's own mask")
    parts.append(widget._loaded.label if widget._loaded is not None else widget.model)
    return " · ".join(parts)
