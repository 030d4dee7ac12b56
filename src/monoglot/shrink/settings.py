"""Settings of the shrink stage (student initialisation) as data: a recipe's ``[shrink]`` table or
``monoglot shrink`` options. Free of torch, so that the command line reads its defaults cheaply."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

HEAD_STRATEGIES = ("importance", "first", "random")
FFN_STRATEGIES = ("taylor", "first", "random")
HIDDEN_STRATEGIES = ("truncate", "importance", "pca", "svd", "random")


class ShrinkSettings(BaseModel):
    """Student shape and how each dimension is chosen; a dimension left out stays as the teacher's.

    Strategies: layers ``stride | first | last | first-last | importance | "0,4,8,11"``; heads
    ``importance | first | random``; FFN ``taylor | first | random``; hidden
    ``truncate | importance | pca | svd | random``. Importance strategies read
    ``importance_sequences`` x ``seq_len`` tokens of the target text.
    """

    model_config = ConfigDict(extra="forbid")
    layers: int | None = Field(None, description="student layers (default: the teacher's)")
    hidden: int | None = Field(None, description="hidden size (default: the teacher's)")
    ffn: int | None = Field(None, description="FFN intermediate size, the same in every layer (default: the teacher's)")
    heads: int | None = Field(None, description="attention heads per layer (default: keep the head dimension, i.e. hidden / head_dim)")
    layer_strategy: str = Field("stride", description="how layers are chosen: stride, first, last, first-last, importance (greedy removal error), or a list like 0,4,8,11")
    head_strategy: str = Field("importance", description="how heads are chosen: importance (head-mask gradient, Michel et al. 2019), first, or random")
    ffn_strategy: str = Field("taylor", description="how FFN neurons are chosen: taylor (first-order Taylor importance, Gurgurov et al. 2025), first, or random")
    hidden_strategy: str = Field("pca", description="how hidden dimensions are chosen: pca (of the teacher's hidden states, BiStil), svd (of the embeddings), importance, truncate (first dims), or random")
    importance_sequences: int = Field(32, ge=1, description="sequences of target text for importance scoring")
    seq_len: int = Field(128, ge=8, description="tokens per scoring sequence")
    seed: int = Field(0, description="seed of the masking and of the random strategies")
