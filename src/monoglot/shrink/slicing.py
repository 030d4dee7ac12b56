"""Structured slicing of a BERT / XLM-R teacher into a smaller student of the same architecture.

The student is a standard configuration (``num_hidden_layers``, ``hidden_size``,
``num_attention_heads``, ``intermediate_size``) whose every tensor is a slice (or, for the
hidden size, optionally a projection) of the teacher's:
- layers: copied from the chosen teacher layers (Cruz & Aji 2025, sec. 3);
- heads: per student layer, the kept heads of the source layer; the new head dimension is
  ``hidden / heads``, taken as the first dimensions of each kept head;
- FFN: per student layer, the kept intermediate neurons of the source layer;
- hidden size: either kept dimensions (truncation, Gurgurov et al. 2025 sec. 3.3, or ranked ones)
  or an orthonormal basis ``P`` of shape ``(H, H')`` (SVD / PCA, as BiStil, Ansell et al. 2023,
  sec. 3.3). Embeddings, position embeddings, LayerNorms, attention and FFN matrices and any MLM
  head are cut consistently.
Removing nothing gives the teacher back bit for bit.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch

from ..errors import BadInput

SUPPORTED = ("bert", "roberta", "xlm-roberta")


@dataclass
class ShrinkPlan:
    """What the student keeps of the teacher (indices 0-based, sorted).

    Attributes:
        layers: teacher layer of each student layer, ``(L',)``.
        heads: kept teacher heads per student layer, ``L'`` lists of ``A'`` heads.
        head_dim: new head dimension ``H' / A'`` (at most the teacher's).
        ffn: kept intermediate neurons per student layer, ``L'`` lists of ``F'`` neurons.
        hidden: kept hidden dimensions ``(H',)``, or ``None`` when ``basis`` is given.
        basis: ``(H, H')`` orthonormal projection of the hidden space (SVD / PCA), or ``None``.
        ln_scale: factor on projected LayerNorm weights that keeps the normalised scale
            (used with ``basis`` only).
    """

    layers: list[int]
    heads: list[list[int]]
    head_dim: int
    ffn: list[list[int]]
    hidden: list[int] | None = None
    basis: torch.Tensor | None = field(default=None, repr=False)
    ln_scale: float = 1.0

    @property
    def hidden_size(self) -> int:
        """The student's hidden size ``H'``: the kept dimensions, or the columns of the basis ``(H, H')``."""
        return len(self.hidden) if self.hidden is not None else self.basis.shape[1]

    def qkv_index(self, layer: int, teacher_head_dim: int) -> torch.Tensor:
        """Rows of Q/K/V (and columns of the attention output) kept in student layer ``layer``, shape ``(H',)``."""
        return torch.tensor([h * teacher_head_dim + j for h in self.heads[layer] for j in range(self.head_dim)])

    def shape(self) -> list[int]:
        """``[layers, hidden, heads, ffn]`` of the student."""
        return [len(self.layers), self.hidden_size, len(self.heads[0]), len(self.ffn[0])]


def full_plan(config) -> ShrinkPlan:
    """The plan that keeps everything (the identity)."""
    L, H, A, F = config.num_hidden_layers, config.hidden_size, config.num_attention_heads, config.intermediate_size
    return ShrinkPlan(list(range(L)), [list(range(A))] * L, H // A, [list(range(F))] * L, list(range(H)))


def layers_only_plan(config, layers: list[int]) -> ShrinkPlan:
    """The plan that copies ``layers`` and keeps every head, neuron and hidden dimension."""
    full = full_plan(config)
    return ShrinkPlan(layers, [full.heads[0]] * len(layers), full.head_dim, [full.ffn[0]] * len(layers), full.hidden)


def check_supported(config) -> None:
    """Raises BadInput unless ``config`` is a BERT / RoBERTa / XLM-R encoder."""
    if config.model_type not in SUPPORTED:
        raise BadInput(f"cannot shrink a {config.model_type!r} model; supported: {', '.join(SUPPORTED)}")


def axis_kinds(name: str, shape: tuple[int, ...], hidden_size: int) -> tuple[str | None, ...]:
    """What each axis of parameter ``name`` indexes: ``hidden``, ``qkv``, ``ffn`` or ``None`` (vocab, position...).

    ``name`` is relative to the base model or a head (e.g. ``encoder.layer.3.intermediate.dense.weight``,
    ``cls.predictions.decoder.weight``).

    Raises:
        BadInput: for a pooler, which shrink does not support.
    """
    if "pooler" in name:
        raise BadInput("cannot shrink a model with a pooler yet; use its bare encoder without the pooler")
    in_layer = ".layer." in f".{name}"
    if name.endswith(("attention.self.query.weight", "attention.self.key.weight", "attention.self.value.weight")):
        return ("qkv", "hidden")
    if name.endswith(("attention.self.query.bias", "attention.self.key.bias", "attention.self.value.bias")):
        return ("qkv",)
    if name.endswith("attention.output.dense.weight"):
        return ("hidden", "qkv")
    if name.endswith("intermediate.dense.weight"):
        return ("ffn", "hidden")
    if name.endswith("intermediate.dense.bias"):
        return ("ffn",)
    if in_layer and name.endswith("output.dense.weight"):
        return ("hidden", "ffn")
    if name.endswith(("decoder.weight", "word_embeddings.weight", "position_embeddings.weight",
                      "token_type_embeddings.weight")):
        return (None, "hidden")
    if len(shape) == 2 and tuple(shape) == (hidden_size, hidden_size):  # MLM transform dense
        return ("hidden", "hidden")
    if len(shape) == 1 and shape[0] == hidden_size:  # LayerNorms, biases added to the hidden states
        return ("hidden",)
    return (None,) * len(shape)  # e.g. the MLM output bias over the vocabulary


def _cut_hidden(t: torch.Tensor, axis: int, plan: ShrinkPlan, layer_norm_weight: bool) -> torch.Tensor:
    if plan.basis is None:
        return t.index_select(axis, torch.tensor(plan.hidden))
    P = plan.basis.to(t.dtype)
    if layer_norm_weight:  # diagonal of P^T diag(gamma) P, rescaled to keep the normalised scale
        return (P.pow(2).T @ t) * plan.ln_scale
    return torch.movedim(torch.tensordot(t, P, dims=([axis], [0])), -1, axis)


def cut_tensor(name: str, t: torch.Tensor, plan: ShrinkPlan, layer: int | None, hidden_size: int,
               teacher_head_dim: int) -> torch.Tensor:
    """The student's slice of teacher tensor ``t`` (parameter ``name`` of student layer ``layer``)."""
    for axis, kind in enumerate(axis_kinds(name, tuple(t.shape), hidden_size)):
        if kind == "hidden":
            t = _cut_hidden(t, axis, plan, name.endswith("LayerNorm.weight"))
        elif kind == "qkv":
            t = t.index_select(axis, plan.qkv_index(layer, teacher_head_dim))
        elif kind == "ffn":
            t = t.index_select(axis, torch.tensor(plan.ffn[layer]))
    return t.clone()


def shrink_model(model, plan: ShrinkPlan):
    """Return a new model of ``model``'s class holding the slices of ``model`` chosen by ``plan``.

    Works for bare encoders and MLM models of the BERT and XLM-R families; the result has a
    standard configuration and loads with ``from_pretrained`` once saved.

    Raises:
        BadInput: unsupported model type or a pooler.
    """
    from ..teachers.loader import new_like

    cfg = model.config
    check_supported(cfg)
    d = cfg.hidden_size // cfg.num_attention_heads
    new_cfg = copy.deepcopy(cfg)
    new_cfg.num_hidden_layers, new_cfg.hidden_size, new_cfg.num_attention_heads, new_cfg.intermediate_size = plan.shape()
    student = new_like(model, new_cfg)
    src = model.state_dict()
    prefix = model.base_model_prefix + "."
    base = prefix if any(k.startswith(prefix) for k in src) else ""
    out = {}
    for key in student.state_dict():
        name = key[len(base):] if key.startswith(base) else key
        layer = None
        skey = key
        if name.startswith("encoder.layer."):
            parts = name.split(".")
            layer = int(parts[2])
            parts[2] = str(plan.layers[layer])
            skey = base + ".".join(parts)
        out[key] = cut_tensor(name, src[skey], plan, layer, cfg.hidden_size, d)
    student.load_state_dict(out, strict=True)
    return student.eval()
