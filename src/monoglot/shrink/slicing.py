"""Structured slicing of a BERT / XLM-R teacher into a smaller student of the same architecture.

The student is a standard configuration (``num_hidden_layers``, ``hidden_size``,
``num_attention_heads``, ``intermediate_size``) whose every tensor is a slice of the teacher's:
- layers: copied from the teacher layers chosen by :func:`select_layers` (Cruz & Aji 2025, sec. 3);
- hidden size: the first ``hidden`` dimensions (truncation, Gurgurov et al. 2025, sec. 3.3), cut
  consistently in embeddings, LayerNorms, attention, FFN and any MLM head;
- heads: the first ``heads`` heads of each layer; the new head dimension is ``hidden / heads``,
  taken as the first dimensions of each kept head;
- FFN: the first ``ffn`` intermediate neurons of each layer.
A dimension not given stays as it is; removing nothing gives the teacher back bit for bit.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..artifacts import atomic_dir, check_new_output, save_tokenizer, write_meta
from ..errors import BadInput
from ..measure import count_parameters
from ..teachers import load_tokenizer, resolve_model
from ..teachers.loader import load_saved_architecture, new_like
from .layers import select_layers

SUPPORTED = ("bert", "roberta", "xlm-roberta")


@dataclass
class ShrinkPlan:
    """Which parts of the teacher the student keeps (all indices 0-based, sorted)."""

    layers: list[int]
    hidden: list[int]  # kept hidden dimensions, shape (H',)
    heads: list[int]  # kept heads, shape (A',)
    head_dim: int  # new head dimension H'/A'
    ffn: list[int]  # kept intermediate neurons, shape (F',)

    def qkv_index(self, teacher_head_dim: int) -> torch.Tensor:
        """Rows of Q/K/V (and columns of the attention output) that the student keeps, shape (H',)."""
        return torch.tensor([h * teacher_head_dim + j for h in self.heads for j in range(self.head_dim)])


def plan_shrink(config, layers: int | None = None, hidden: int | None = None, ffn: int | None = None,
                heads: int | None = None, layer_strategy: str = "stride") -> ShrinkPlan:
    """Check a target shape against ``config`` and return what to keep.

    If ``hidden`` is given without ``heads``, the head dimension is kept and the head count
    becomes ``hidden / head_dim`` (e.g. 384/12 heads -> hidden 256 gives 8 heads of 32).

    Raises:
        BadInput: a dimension larger than the teacher's, not positive, a hidden size the head
            count does not divide, or an unsupported model type.
    """
    if config.model_type not in SUPPORTED:
        raise BadInput(f"cannot shrink a {config.model_type!r} model; supported: {', '.join(SUPPORTED)}")
    L, H, A, F = config.num_hidden_layers, config.hidden_size, config.num_attention_heads, config.intermediate_size
    d = H // A
    layers = L if layers is None else layers
    hidden = H if hidden is None else hidden
    ffn = F if ffn is None else ffn
    if heads is None:
        heads = A if hidden == H else hidden // d if hidden % d == 0 else A
    for name, new, old in (("layers", layers, L), ("hidden", hidden, H), ("ffn", ffn, F), ("heads", heads, A)):
        if new < 1:
            raise BadInput(f"--{name} {new} must be positive")
        if new > old:
            raise BadInput(f"--{name} {new} is larger than the teacher's {old}; shrink can only remove")
    if hidden % heads:
        raise BadInput(f"--hidden {hidden} is not divisible by --heads {heads}; choose a hidden size that is a multiple of the head count")
    if hidden // heads > d:
        raise BadInput(f"--hidden {hidden} with --heads {heads} needs head dimension {hidden // heads}, larger than the teacher's {d}; use more heads")
    return ShrinkPlan(select_layers(L, layers, layer_strategy), list(range(hidden)), list(range(heads)),
                      hidden // heads, list(range(ffn)))


def _slice(t: torch.Tensor, rows=None, cols=None) -> torch.Tensor:
    if rows is not None:
        t = t.index_select(0, rows)
    if cols is not None:
        t = t.index_select(1, cols)
    return t.clone()


def shrink_model(model, plan: ShrinkPlan):
    """Return a new model of ``model``'s class holding the slices of ``model`` chosen by ``plan``.

    Works for bare encoders and MLM models of the BERT and XLM-R families.
    """
    cfg = model.config
    d = cfg.hidden_size // cfg.num_attention_heads
    hid = torch.tensor(plan.hidden)
    qkv = plan.qkv_index(d)
    ffn = torch.tensor(plan.ffn)
    new_cfg = copy.deepcopy(cfg)
    new_cfg.num_hidden_layers = len(plan.layers)
    new_cfg.hidden_size = len(plan.hidden)
    new_cfg.num_attention_heads = len(plan.heads)
    new_cfg.intermediate_size = len(plan.ffn)
    student = new_like(model, new_cfg)
    src = model.state_dict()
    base = model.base_model_prefix + "." if any(k.startswith(model.base_model_prefix + ".") for k in src) else ""
    layer_map = {str(i): str(t) for i, t in enumerate(plan.layers)}
    out = {}
    for key in student.state_dict():
        parts = key.split(".")
        skey = key
        if "layer" in parts and parts.index("layer") + 1 < len(parts) and key.startswith(base + "encoder.layer."):
            i = parts.index("layer") + 1
            parts[i] = layer_map[parts[i]]
            skey = ".".join(parts)
        t = src[skey]
        name = key[len(base):] if key.startswith(base) else key
        if name.endswith(("attention.self.query.weight", "attention.self.key.weight", "attention.self.value.weight")):
            t = _slice(t, qkv, hid)
        elif name.endswith(("attention.self.query.bias", "attention.self.key.bias", "attention.self.value.bias")):
            t = _slice(t, qkv)
        elif name.endswith("attention.output.dense.weight"):
            t = _slice(t, hid, qkv)
        elif name.endswith("intermediate.dense.weight"):
            t = _slice(t, ffn, hid)
        elif name.endswith("intermediate.dense.bias"):
            t = _slice(t, ffn)
        elif name.endswith("output.dense.weight") and ".layer." in name:
            t = _slice(t, hid, ffn)
        elif name.endswith(("decoder.weight", "word_embeddings.weight", "position_embeddings.weight",
                            "token_type_embeddings.weight")):
            t = _slice(t, None, hid)
        elif t.dim() == 2 and tuple(t.shape) == (cfg.hidden_size, cfg.hidden_size):  # MLM transform dense
            t = _slice(t, hid, hid)
        elif t.dim() == 1 and t.shape[0] == cfg.hidden_size:  # LayerNorms, output biases
            t = _slice(t, hid)
        elif "pooler" in name:
            raise BadInput("cannot shrink a model with a pooler yet; use its bare encoder without the pooler")
        out[key] = t.clone()
    student.load_state_dict(out, strict=True)
    return student.eval()


def shrink_to_dir(model_spec: str | Path, out: str | Path, layers: int | None = None, hidden: int | None = None,
                  ffn: int | None = None, heads: int | None = None, layer_strategy: str = "stride",
                  overwrite: bool = False) -> Path:
    """Shrink ``model_spec`` and write the student (with the teacher's tokenizer) to ``out``.

    Raises:
        BadInput: see :func:`plan_shrink`; an existing ``out``.
    """
    path = resolve_model(model_spec)
    check_new_output(out, overwrite)
    model = load_saved_architecture(path)
    plan = plan_shrink(model.config, layers, hidden, ffn, heads, layer_strategy)
    tok = load_tokenizer(path)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        student = shrink_model(model, plan)
        student.save_pretrained(tmp)
        save_tokenizer(tok, tmp)
        cfg = model.config
        settings = {"layers": layers, "hidden": hidden, "ffn": ffn, "heads": heads, "layer_strategy": layer_strategy,
                    "hidden_strategy": "truncate", "head_strategy": "first", "ffn_strategy": "first"}
        kept = asdict(plan)
        stats = {"teacher_shape": [cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.intermediate_size],
                 "student_shape": [len(plan.layers), len(plan.hidden), len(plan.heads), len(plan.ffn)],
                 "layers_kept": kept["layers"], "heads_kept": kept["heads"],
                 "parameters_before": count_parameters(path), "parameters_after": count_parameters(tmp)}
        write_meta(tmp, "shrink", str(model_spec), settings, stats)
    return Path(out)
