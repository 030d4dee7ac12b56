"""Recipes: the pipeline's settings as data (TOML), validated by pydantic.

Unknown keys and wrong types are errors (``extra="forbid"``), reported in one line with the
offending key.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .distill import AdaptSettings, DistillSettings
from .errors import BadInput, first_validation_error
from .hub import is_hub
from .shrink import ShrinkSettings
from .tasks import FinetuneSettings
from .vocab import VocabPolicy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CorpusSource(_Strict):
    """One corpus named by where it lives: a local file (relative paths under the data root), a
    Hugging Face dataset ``hf:DATASET[:CONFIG][:SPLIT]``, or both: the local file where it
    exists, else the hub dataset. Optional caps bound how much of it is read (a hub corpus can be
    far larger than the run needs)."""

    local: str | None = Field(None, description="a .txt/.tsv/.jsonl[.gz] file")
    hub: str | None = Field(None, description="hf:DATASET[:CONFIG][:SPLIT], e.g. hf:wikimedia/wikipedia:20231101.sw")
    text_column: str | None = Field(None, description="its text column (default: data.text_column)")
    max_documents: int | None = Field(None, ge=1, description="read at most this many documents")
    max_words: int | None = Field(None, ge=1, description="stop after the document that reaches this many words")

    @model_validator(mode="after")
    def _one_place(self) -> "CorpusSource":
        if not self.local and not self.hub:
            raise ValueError("a corpus needs local = \"PATH\", hub = \"hf:DATASET[:CONFIG][:SPLIT]\", or both")
        if self.hub and not is_hub(self.hub):
            raise ValueError(f"hub = {self.hub!r} must start with hf:, as in hf:wikimedia/wikipedia:20231101.sw")
        if self.local and is_hub(self.local):
            raise ValueError(f"local = {self.local!r} is a hub name; write it as hub = {self.local!r}")
        return self


def _hub_name(value: str) -> str:
    if not is_hub(value):
        raise ValueError(f"{value!r} must start with hf:, as in hf:Davlan/sib200:swh_Latn")
    return value


class DataSection(_Strict):
    """Target-language text, and for bilingual models (BiStil) source-language text. A corpus is a
    path (relative paths resolve under the data root), ``hf:DATASET[:CONFIG][:SPLIT]``, or a
    :class:`CorpusSource` table naming both places and caps (a plain string becomes a table with
    one place)."""

    corpora: list[CorpusSource] = Field(min_length=1)
    source_corpora: list[CorpusSource] = Field(default_factory=list, description="source-language text: trimming keeps its pieces too, distillation alternates batches")
    text_column: str = Field("text", description="text column of .tsv / field of .jsonl / column of hf: corpora")
    parallel: list[str] = Field(default_factory=list, description="[source file, target file]: parallel text for the cross-lingual embedding losses (distill.loss parallel/contrastive): line-aligned files or verse-aligned Bibles")

    @field_validator("parallel")
    @classmethod
    def _two_files(cls, v: list[str]) -> list[str]:
        if v and len(v) != 2:
            raise ValueError(f"parallel needs two files, source first, e.g. ['corpora/eng/bible_web.txt', 'corpora/swa/bible_suv.tsv']; got {len(v)}")
        return v

    hub_tasks: dict[str, str] = Field(default_factory=dict, description="hub fallback of a local task, FAMILY:LANG -> hf:DATASET[:CONFIG], read when the task's folder is missing from the data root")

    @field_validator("corpora", "source_corpora", mode="before")
    @classmethod
    def _plain_names(cls, v):  # "PATH" or "hf:..." is shorthand for a table with one place
        if not isinstance(v, list):
            return v
        return [({"hub": c} if is_hub(c) else {"local": c}) if isinstance(c, str) else c for c in v]

    @field_validator("hub_tasks")
    @classmethod
    def _hub_values(cls, v: dict[str, str]) -> dict[str, str]:
        for value in v.values():
            _hub_name(value)
        return v


AdaptSection = AdaptSettings  # [adapt]


class StepSection(_Strict):
    """One distillation step: the student's initialisation from its teacher, then distillation."""

    shrink: ShrinkSettings = Field(default_factory=ShrinkSettings)
    distill: DistillSettings = Field(default_factory=DistillSettings)


class EvaluateSection(_Strict):
    """Downstream tasks, tested the same way for every model: frozen-encoder probes with MTEB's
    protocol (``method = "probe"``, the default) or fine-tuning (``"finetune"``).

    ``tasks = None`` (the default): every task that exists under the data root for the recipe's
    languages (:func:`monoglot.pipeline.default_tasks`)."""

    method: Literal["probe", "finetune"] = Field("probe", description="probe: frozen encoder, MTEB's protocol (minutes); finetune: fine-tune every model on every task")
    tasks: list[str] | None = Field(None, description="task specs; None: the tasks under the data root for the recipe's languages")
    finetune: FinetuneSettings = Field(default_factory=FinetuneSettings)
    teacher_lr_grid: list[float] | None = Field(None, description="learning rates tried for the teacher and the trimmed teacher (default: finetune.lr_grid); base-size models have well-known rates")
    deploy: bool = Field(False, description="also export the final student's task models to ONNX (fp32 and int8) and score them with onnxruntime (needs method = \"finetune\")")

    @model_validator(mode="after")
    def _deploy_needs_finetune(self) -> "EvaluateSection":
        if self.deploy and self.method != "finetune":
            raise ValueError('deploy = true exports fine-tuned task models; set method = "finetune" or deploy = false')
        return self


class MeasureSection(_Strict):
    """CPU throughput measurement (same run, same threads for every model)."""

    batch_size: int = 32
    seq_len: int = 128
    batches: int = 3
    threads: int | None = None


class Recipe(_Strict):
    """A whole pipeline: teacher -> trim -> [adapt] -> [assistant: shrink, distill] -> shrink ->
    distill -> evaluate -> report. ``shrink``/``distill`` make the final student."""

    name: str
    languages: list[str] = Field(default_factory=list, description="ISO 639-1 codes for the model cards, e.g. [\"sw\"]")
    license: str = Field("mit", description="license of the output models (e5-small is MIT)")
    teacher: str = "e5-small"
    out: str = "out"
    data: DataSection
    trim: VocabPolicy = Field(default_factory=VocabPolicy)
    adapt: AdaptSection | None = None
    assistant: StepSection | None = Field(None, description="two-step distillation: teacher -> assistant -> student (Gurgurov et al.)")
    shrink: ShrinkSettings = Field(default_factory=ShrinkSettings)
    distill: DistillSettings = Field(default_factory=DistillSettings)
    evaluate: EvaluateSection = Field(default_factory=EvaluateSection)
    measure: MeasureSection = Field(default_factory=MeasureSection)


def apply_overrides(raw: dict, overrides: Sequence[str]) -> dict:
    """Set recipe keys from ``KEY=VALUE`` strings, in order, in the raw (not yet validated) recipe.

    KEY is dotted (``distill.steps``, ``distill.loss.embedding``, ``name``); missing tables are
    created. VALUE is a TOML value (``2400``, ``1e-3``, ``true``, ``["a", "b"]``, ``"text"``); a
    bare word that is not TOML is taken as a string (``name=swahili-2400``). The result is
    validated like the file, so an unknown key or a wrong type is reported the same way.

    Raises:
        BadInput: an item without ``=`` or with an empty key, or a KEY that goes through a value
            that is not a table.
    """
    for item in overrides:
        key, sep, value = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise BadInput(f"--set {item!r}: expected KEY=VALUE with a dotted key, e.g. distill.steps=1200")
        try:
            parsed = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value.strip()
        node = raw
        for i, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise BadInput(f"--set {item!r}: '{'.'.join(parts[:i + 1])}' is a value, not a table; check the key")
        node[parts[-1]] = parsed
    return raw


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    """Read and validate a recipe TOML file, with ``overrides`` (``KEY=VALUE``, see
    :func:`apply_overrides`) applied before validation.

    Raises:
        BadInput: missing file, invalid TOML, a malformed override, an unknown key or a wrong type
            (names the key).
    """
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"recipe {path} does not exist; pass a TOML recipe such as recipes/swahili.toml")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise BadInput(f"recipe {path} is not valid TOML: {e}") from e
    raw = apply_overrides(raw, overrides)
    try:
        return Recipe.model_validate(raw)
    except ValidationError as e:
        kind, where, what = first_validation_error(e)
        if kind == "extra_forbidden":
            raise BadInput(f"recipe {path}: unknown key '{where}'; remove it or check its spelling") from e
        raise BadInput(f"recipe {path}: '{where}': {what}") from e
