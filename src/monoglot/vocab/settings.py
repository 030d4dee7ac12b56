"""Vocabulary-trimming settings as data: a recipe's ``[trim]`` table or ``monoglot trim`` options.
Free of torch, so that the command line reads its defaults cheaply."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class VocabPolicy(BaseModel):
    """Which pieces to keep (see :mod:`monoglot.vocab.select` for how the conditions compose)."""

    model_config = ConfigDict(extra="forbid")
    min_count: int = Field(1, ge=1, description="occurrences over all corpora")
    min_doc_freq: int | None = Field(None, ge=1, description="documents (corpus segments) containing the piece")
    min_rel_freq: float | None = Field(None, gt=0, lt=1, description="relative frequency reached in any corpus")
    coverage: float | None = Field(None, gt=0, le=1, description="fraction of token occurrences to cover")
    top_n: int | None = Field(None, ge=1, description="at most this many pieces (before the always-keep set)")
    keep_chars: bool = Field(True, description="always keep the single-character pieces of every character seen")
    keep_tokens: list[str] = Field(default_factory=list, description="pieces to always keep")
    pieces_file: str | None = Field(None, description="keep exactly these pieces (.txt one per line, or a .json list)")
