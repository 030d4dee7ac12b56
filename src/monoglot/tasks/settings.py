"""Fine-tuning settings as data: a recipe's ``[evaluate.finetune]`` table or ``monoglot evaluate``
options. Free of torch, so that the command line reads its defaults cheaply."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadInput


class FinetuneSettings(BaseModel):
    """Fine-tuning hyper-parameters, identical for every model so that scores are comparable.

    ``max_length`` (sub-word tokens) truncates training inputs and sequence-task eval inputs; token
    tasks are evaluated at the model's full length so that no scored word is lost.
    ``freeze_embeddings`` freezes only the word-embedding matrix.
    """

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(3, ge=1, description="fine-tuning epochs (the best on dev is tested)")
    lr: float = Field(5e-5, gt=0, description="peak learning rate (AdamW, linear warmup and decay)")
    batch_size: int = Field(16, ge=1, description="examples per optimizer step")
    max_length: int = Field(128, ge=8, description="sub-word tokens per training example at most")
    seed: int = Field(42, description="first random seed (head initialisation, batch order, dropout)")
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    weight_decay: float = Field(0.01, ge=0)
    freeze_embeddings: bool = True
    eval_every_epoch: bool = True
    patience: int | None = Field(None, ge=1, description="early stopping: stop after this many epochs without a better dev score (None: run every epoch)")
    max_train_examples: int | None = Field(None, ge=1, description="train on a seeded random sample of at most this many train examples (a compute budget, the same for every model); None: all")
    seeds: int = Field(1, ge=1, description="runs with seeds seed, seed+1, ...; the result gives mean and standard deviation")
    lr_grid: list[float] = Field(default_factory=list, description="learning rates tried; the best on DEV is used (empty: lr)")
    lr_selection: Literal["first-seed", "seed-mean"] = Field("first-seed", description="how the lr_grid's rate is chosen on dev: the first seed's dev score (one run per rate, then the other seeds at the chosen rate), or the mean dev score over all seeds (every seed at every rate: steadier on a small dev set, len(lr_grid) times the runs)")
    pooling: Literal["auto", "cls", "mean"] = Field("auto", description="what a sequence classifier reads: the first token (cls, BERT's and XLM-R's heads) or the mean over the tokens (mean, how embedding models such as e5 and monoglot's students are trained); auto: mean when the model directory pools by mean (sentence-transformers files), else cls")
    method: Literal["full", "lt-sft", "lora"] = Field("full", description="full fine-tuning, LT-SFT (BiStil), or LoRA on a frozen body (peft)")
    density: float = Field(0.1, gt=0, le=1, description="LT-SFT: fraction of the body's trainable weights kept for sparse fine-tuning")
    lora_rank: int = Field(8, ge=1)
    lora_alpha: float = Field(16.0, gt=0)
    distill_temperature: float = Field(2.0, gt=0, description="task distillation: softmax temperature of the soft cross-entropy")
    distill_alpha: float = Field(0.5, ge=0, le=1, description="task distillation: weight of the gold-label loss (1 - alpha on the teacher's soft labels)")
    distill_hidden: float = Field(0.0, ge=0, description="task distillation: weight of the hidden-state MSE")
    distill_attention: float = Field(0.0, ge=0, description="task distillation: weight of the last-layer attention KL")


def parse_lr_grid(text: str | None) -> list[float]:
    """Learning rates from ``--lr-grid`` text, comma-separated (``"5e-5,2e-4"``); None or "" gives [].

    Raises:
        BadInput: an entry that is not a number.
    """
    try:
        return [float(x) for x in text.split(",")] if text else []
    except ValueError:
        raise BadInput(f"--lr-grid {text!r}: give comma-separated numbers, e.g. 5e-5,2e-4") from None
