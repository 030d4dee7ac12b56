"""Distillation settings as data (a recipe's ``[distill]`` table or ``monoglot distill`` options)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LossWeights(BaseModel):
    """Weight of each loss term; 0 switches a term off (and skips its compute).

    See :mod:`monoglot.distill.losses` for each term's definition and source.
    """

    model_config = ConfigDict(extra="forbid")
    logits: float = Field(0.0, ge=0, description="MLM-logit distillation at masked positions (needs MLM heads: run `monoglot adapt` on a headless teacher)")
    hidden: float = Field(1.0, ge=0, description="hidden-state MSE over the layer map (TinyBERT, BiStil)")
    attention: float = Field(1.0, ge=0, description="attention-distribution loss (TinyBERT, MiniLM)")
    relations: float = Field(0.0, ge=0, description="MiniLMv2 Q-Q, K-K, V-V self-attention relations")
    cosine: float = Field(0.0, ge=0, description="cosine loss on the last hidden states (DistilBERT)")
    mlm: float = Field(0.0, ge=0, description="the student's own MLM loss (needs an MLM head; one is added if missing)")
    embedding: float = Field(0.0, ge=0, description="sentence embedding: the student's mean-pooled embedding of a target sentence against the teacher's (Reimers & Gurevych 2020), with the teacher's prompt; distance: embedding_loss")
    parallel: float = Field(0.0, ge=0, description="cross-lingual sentence embedding on parallel text: student(target) ~ teacher(source) and student(source) ~ teacher(source) (Reimers & Gurevych 2020, eq. 1); needs parallel text")
    contrastive: float = Field(0.0, ge=0, description="in-batch InfoNCE: student(target sentence) must find teacher(its source sentence, or itself without parallel text) among the batch's; with parallel text student(source sentence) too, and the two are averaged")
    similarity: float = Field(0.0, ge=0, description="SEED (Fang et al. 2021): KL between the teacher's and the student's softmax similarities (contrastive_temperature) of each sentence to the batch's teacher embeddings and the memory bank (contrastive_queue); a soft target that keeps the teacher's neighbourhoods, where contrastive's is one-hot; sentence pairs as contrastive")

    TOKEN_LEVEL: ClassVar[tuple[str, ...]] = ("logits", "hidden", "attention", "relations", "cosine", "mlm")
    SENTENCE_LEVEL: ClassVar[tuple[str, ...]] = ("embedding", "parallel", "contrastive", "similarity")

    def needs_masking(self) -> bool:
        """Whether a loss needs masked input (logit distillation or MLM on the masked tokens)."""
        return self.logits > 0 or self.mlm > 0

    def token_level(self) -> bool:
        """Whether any loss needs the packed token chunks (else only sentence batches are drawn)."""
        return any(getattr(self, k) > 0 for k in self.TOKEN_LEVEL)

    def sentence_level(self) -> bool:
        """Whether any loss needs sentence batches (with the teacher's prompt)."""
        return any(getattr(self, k) > 0 for k in self.SENTENCE_LEVEL)

    def batch_relative(self) -> bool:
        """Whether any loss compares each sentence with the batch's other sentences (and the memory
        bank): ``contrastive`` or ``similarity``."""
        return self.contrastive > 0 or self.similarity > 0


class DistillSettings(BaseModel):
    """Settings of general distillation (units: optimizer steps, sequences, tokens)."""

    model_config = ConfigDict(extra="forbid")
    steps: int = Field(300, ge=1, description="optimizer steps")
    batch_size: int = Field(16, ge=1, description="sequences per optimizer step, over all processes and accumulation steps")
    grad_accum: int = Field(1, ge=1, description="micro-batches per optimizer step (per process)")
    seq_len: int = Field(128, ge=8, description="tokens per training sequence, special tokens included")
    lr: float = Field(3e-4, gt=0)
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    weight_decay: float = Field(0.01, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    seed: int = 42
    loss: LossWeights = Field(default_factory=LossWeights)
    logit_loss: Literal["mse", "kl"] = Field("mse", description="mse (Gurgurov et al. found it better) or kl with temperature")
    temperature: float = Field(2.0, gt=0, description="softmax temperature of the logit KL (times T^2)")
    embedding_loss: Literal["mse", "cosine"] = Field("mse", description="distance of the embedding and parallel losses: mse (Reimers & Gurevych 2020) or cosine (1 - cos)")
    contrastive_temperature: float = Field(0.05, gt=0, description="softmax temperature of the in-batch contrastive loss (SimCSE's 0.05)")
    contrastive_queue: int = Field(0, ge=0, description="teacher embeddings of earlier sentence batches kept as extra negatives of the contrastive loss (a memory bank: CRD, Tian et al. 2020; MoCo, He et al. 2020); the teacher is frozen, so they are as good as in-batch ones and cost no forward pass. 0: in-batch negatives only")
    sentence_batch_size: int | None = Field(None, ge=1, description="sentences per optimizer step for the sentence losses, also the contrastive loss's in-batch candidates (default: batch_size); lets long token chunks (seq_len 512, few per step) go with many sentences")
    group_by_length: bool = Field(False, description="sentence batches of similar length (transformers' LengthGroupedSampler: blocks of 50 batches sorted by length, the batches shuffled), so that little padding is computed; the validation slice stays random")
    monolingual_share: float = Field(0.0, ge=0, lt=1, description="with parallel text: this share of the sentence pairs are target-corpus segments paired with themselves (at most `sentences`), so the sentence losses also see the target corpus's domain, not only the parallel text's")
    passage_share: float = Field(0.0, ge=0, lt=1, description="this share of the target-corpus texts of the sentence losses (monolingual_share's, or those without parallel text) are passages: consecutive segments joined to passage_words words, so the sentence losses also see the teacher's embedding of longer text (MTEB embeds MasakhaNEWS articles of up to 512 tokens); truncated at seq_len tokens")
    passage_words: int = Field(64, ge=1, description="words per passage at least (see passage_share)")
    sentences: int = Field(20000, ge=1, description="sentence losses without parallel text: at most this many target-corpus texts (segments, and passages with passage_share) are read, plus source-corpus segments in the proportion source_ratio (shuffled once; the first batches are the validation slice)")
    mask_prob: float = Field(0.15, gt=0, lt=1, description="fraction of tokens masked (80% [MASK], 10% random, 10% kept) when a logit or MLM loss is on")
    layer_map: list[int] | None = Field(None, description="teacher layer (1-based) matched by each student layer; default: the layers shrink copied, else uniform")
    hidden_projection: Literal["learned", "pca"] = Field("learned", description="where hidden sizes differ: a learned linear map student->teacher (TinyBERT), or the teacher's states projected onto a fixed PCA basis (BiStil)")
    attention_layers: Literal["last", "all"] = Field("last", description="student layers whose attention is distilled: last (MiniLM) or all (TinyBERT)")
    attention_loss: Literal["kl", "mse"] = "kl"
    relation_heads: int | None = Field(None, ge=1, description="MiniLMv2 relation heads (default: the teacher's head count)")
    dropout: float | None = Field(0.0, ge=0, lt=1, description="student dropout during distillation; None keeps the model's own. Off by default: the teacher's soft targets regularise, and on the CPU dropout masks (and the unfused attention kernel they force) cost half of the student's forward time (benchmarks/distill.py)")
    trainable: Literal["all", "mlm_head"] = Field("all", description="parameters trained: all, or only the MLM head (teacher adaptation on a frozen body)")
    precision: Literal["auto", "no", "bf16", "bf16-teacher", "fp16"] = Field("auto", description="auto: bf16 where the CPU has bf16 matrix units (AMX) or on a GPU with bf16, else fp32 (see .precision); no: fp32; bf16: the teacher in bf16 and the student under bf16 autocast with fp32 master weights; bf16-teacher: only the frozen teacher's forward in bf16, the student in fp32; fp16: Accelerate's fp16 (GPU)")
    grad_checkpointing: bool = Field(False, description="recompute the student's activations in the backward pass to save memory")
    source_ratio: float = Field(0.5, gt=0, lt=1, description="bilingual (BiStil): fraction of batches from the source corpora; 0.5 alternates one to one")
    val_batches: int = Field(4, ge=1, description="held-out batches (per language) for the validation loss")
    val_every: int = Field(0, ge=0, description="validate every N steps (0: only before and after)")
    keep_best: bool = Field(True, description="write the student of the best validation loss, not the last")
    patience: int | None = Field(None, ge=1, description="early stopping: stop after this many validations without improvement")
    checkpoint_every: int = Field(100, ge=0, description="write a resumable checkpoint every N steps (0: only when interrupted)")
    text_column: str = "text"

    @model_validator(mode="after")
    def _some_loss(self) -> "DistillSettings":
        if not any(v > 0 for v in self.loss.model_dump().values()):
            raise ValueError("every loss weight is 0; switch on at least one loss")
        return self


class AdaptSettings(BaseModel):
    """Teacher adaptation (Gurgurov et al. 2025, sec. 3.1, step 0): an MLM head trained on the
    frozen body (for a headless teacher such as e5-small), then optionally continued MLM of the
    whole teacher on the target text. A recipe's ``[adapt]`` table or ``monoglot adapt`` options."""

    model_config = ConfigDict(extra="forbid")
    head_steps: int = Field(200, ge=0, description="steps training a new MLM head on the frozen body (teachers without one, e.g. e5-small)")
    mlm_steps: int = Field(0, ge=0, description="steps of continued MLM of the whole teacher on the corpus")
    lr: float = Field(1e-4, gt=0, description="peak learning rate of both phases")
    batch_size: int = Field(16, ge=1, description="sequences per step")
    seq_len: int = Field(128, ge=8, description="tokens per sequence")

    def distill_settings(self, **update) -> DistillSettings:
        """The training settings both phases share (their loss and trainable part are set by
        :func:`monoglot.distill.adapt_teacher`); ``update``: other :class:`DistillSettings` fields."""
        return DistillSettings(lr=self.lr, batch_size=self.batch_size, seq_len=self.seq_len, **update)
