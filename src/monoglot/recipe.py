"""Recipes: the pipeline's settings as data (TOML), validated by pydantic.

Unknown keys and wrong types are errors (``extra="forbid"``), reported in one line with the
offending key.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .distill import DistillSettings
from .errors import BadInput, first_validation_error
from .shrink import ShrinkSettings
from .tasks import FinetuneSettings
from .vocab import VocabPolicy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSection(_Strict):
    """Target-language text; relative paths resolve under the data root."""

    corpora: list[str] = Field(min_length=1)
    text_column: str = "text"


class EvaluateSection(_Strict):
    """Downstream tasks, fine-tuned and tested the same way for every model."""

    tasks: list[str] = Field(default_factory=lambda: ["sib200:swh_Latn", "masakhapos:swa"])
    finetune: FinetuneSettings = Field(default_factory=FinetuneSettings)


class MeasureSection(_Strict):
    """CPU throughput measurement (same run, same threads for every model)."""

    batch_size: int = 32
    seq_len: int = 128
    batches: int = 3
    threads: int | None = None


class Recipe(_Strict):
    """A whole pipeline: teacher -> trim -> shrink -> distill -> evaluate -> report."""

    name: str
    teacher: str = "e5-small"
    out: str = "out"
    data: DataSection
    trim: VocabPolicy = Field(default_factory=VocabPolicy)
    shrink: ShrinkSettings = Field(default_factory=ShrinkSettings)
    distill: DistillSettings = Field(default_factory=DistillSettings)
    evaluate: EvaluateSection = Field(default_factory=EvaluateSection)
    measure: MeasureSection = Field(default_factory=MeasureSection)


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe TOML file.

    Raises:
        BadInput: missing file, invalid TOML, an unknown key or a wrong type (names the key).
    """
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"recipe {path} does not exist; pass a TOML recipe such as recipes/swahili.toml")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise BadInput(f"recipe {path} is not valid TOML: {e}") from e
    try:
        return Recipe.model_validate(raw)
    except ValidationError as e:
        kind, where, what = first_validation_error(e)
        if kind == "extra_forbidden":
            raise BadInput(f"recipe {path}: unknown key '{where}'; remove it or check its spelling") from e
        raise BadInput(f"recipe {path}: '{where}': {what}") from e
