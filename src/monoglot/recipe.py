"""Recipes: the pipeline's settings as data (TOML), validated by pydantic.

Unknown keys and wrong types are errors (``extra="forbid"``), reported in one line with the
offending key.
"""

from __future__ import annotations

import sys
from pathlib import Path

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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
    """Target-language text, and for bilingual models (BiStil) source-language text; relative
    paths resolve under the data root."""

    corpora: list[str] = Field(min_length=1)
    source_corpora: list[str] = Field(default_factory=list, description="source-language text: trimming keeps its pieces too, distillation alternates batches")
    text_column: str = "text"


class AdaptSection(_Strict):
    """Teacher adaptation (Gurgurov et al. step 0): an MLM head trained on the frozen body (for a
    headless teacher), then optionally continued MLM of the whole teacher on the target text."""

    head_steps: int = Field(200, ge=0)
    mlm_steps: int = Field(0, ge=0)
    lr: float = Field(1e-4, gt=0)
    batch_size: int = Field(16, ge=1)
    seq_len: int = Field(128, ge=8)


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
