"""What a view shows of the attention: tokens hidden, sub-word pieces merged into words, and
small thumbnails for the model view.

Rules (documented in the README, checked by tests/test_projection.py):

- **Hiding** (`hide_special`) drops special tokens (`<bos>`, `<eos>`) and prompt tokens from rows
  and columns, then *renormalises* each remaining row to sum to 1: the weights become "share of
  the attention this token gives to the shown tokens". The view marks them as renormalised.
- **Merging** (`merge_words`) joins a word's pieces: the weight from word A to word B is the sum
  over B's pieces (attention received adds up) of the mean over A's pieces (each piece of A is
  one query). Rows still sum to 1. A word starts at a piece preceded by whitespace or starting
  with it, at a special token, and where the prompt ends; WordPiece's `##` continues a word.
- **Thumbnails** shrink an n x n map to at most `THUMBNAIL_SIZE` squared the same way, with
  consecutive tokens as the groups, so a 2048-token text costs the model view 72 x 32 x 32
  values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .result import AttentionResult

THUMBNAIL_SIZE = 32
RowKind = Literal["text", "special", "prompt"]


@dataclass(frozen=True)
class Rows:
    """The rows (and columns) of a view: each a label, a kind, and the tokens it stands for."""

    labels: list[str]
    kinds: list[RowKind]
    members: list[list[int]]
    renormalised: bool

    def __len__(self) -> int:
        return len(self.labels)


def token_kinds(result: AttentionResult) -> list[RowKind]:
    in_prompt = result.in_prompt or [False] * len(result.tokens)
    return [
        "special" if special else "prompt" if prompt else "text"
        for special, prompt in zip(result.special, in_prompt, strict=True)
    ]


def word_starts(tokens: list[str], kinds: list[RowKind], text: str) -> list[bool]:
    """Which tokens begin a word, from the tokens' text (see the module docstring).

    Tokenizers that keep spaces (SentencePiece, byte-level BPE) put the space at the start of a
    word's first piece; WordPiece drops spaces and marks a word's later pieces with `##`. A text
    with spaces whose tokens carry none came from a WordPiece-like tokenizer.
    """
    keeps_spaces = any(token[:1].isspace() for token in tokens) or not any(
        char.isspace() for char in text
    )
    starts = []
    for index, token in enumerate(tokens):
        previous = tokens[index - 1] if index else ""
        boundary = kinds[index] != kinds[index - 1] or "special" in kinds[index - 1 : index + 1]
        if index == 0 or boundary:
            starts.append(True)
        elif token.startswith("##"):
            starts.append(False)
        elif keeps_spaces:
            starts.append(token[:1].isspace() or previous[-1:].isspace())
        else:
            starts.append(True)
    return starts


def view_rows(result: AttentionResult, *, hide_special: bool, merge_words: bool) -> Rows:
    """The rows a view shows for `result`, after hiding and merging."""
    kinds = token_kinds(result)
    starts = word_starts(result.tokens, kinds, result.prompt + result.text)
    labels: list[str] = []
    row_kinds: list[RowKind] = []
    members: list[list[int]] = []
    hidden = 0
    for index, (token, kind) in enumerate(zip(result.tokens, kinds, strict=True)):
        if hide_special and kind != "text":
            hidden += 1
            continue
        piece = token[2:] if merge_words and token.startswith("##") else token
        if merge_words and members and not starts[index]:
            labels[-1] += piece
            members[-1].append(index)
            continue
        labels.append(piece)
        row_kinds.append(kind)
        members.append([index])
    return Rows(labels, row_kinds, members, renormalised=hidden > 0)


def project(attention: np.ndarray, rows: Rows) -> np.ndarray:
    """`[..., n, n]` attention as `[..., m, m]` over `rows` (hide, renormalise, merge)."""
    n = attention.shape[-1]
    if len(rows) == n and all(len(group) == 1 for group in rows.members):
        return attention  # nothing hidden or merged
    kept = np.array([index for group in rows.members for index in group], dtype=np.intp)
    shown = attention[..., kept[:, None], kept[None, :]]
    if rows.renormalised:
        totals = shown.sum(axis=-1, keepdims=True)
        shown = np.divide(shown, totals, out=np.zeros_like(shown), where=totals > 0)
    return _group(shown, [len(group) for group in rows.members])


def _group(attention: np.ndarray, sizes: list[int]) -> np.ndarray:
    """Sum columns and average rows over consecutive groups of the given sizes."""
    if all(size == 1 for size in sizes):
        return attention
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    summed = np.add.reduceat(attention, starts, axis=-1)
    grouped = np.add.reduceat(summed, starts, axis=-2)
    return (grouped / np.asarray(sizes, dtype=np.float32)[:, None]).astype(np.float32)


def thumbnails(attention: np.ndarray, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """`[layers, heads, n, n]` shrunk to at most `size` x `size` a head (rows still sum to 1)."""
    n = attention.shape[-1]
    if n <= size:
        return attention
    sizes = [len(part) for part in np.array_split(np.arange(n), size)]
    return _group(attention, sizes)


def token_strips(attention: np.ndarray, index: int) -> np.ndarray:
    """`[2, layers, heads, m]`: what row `index` attends to, and how much each row attends to it."""
    return np.stack([attention[:, :, index, :], attention[:, :, :, index]])
