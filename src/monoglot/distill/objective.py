"""What is matched to what: layer and head maps, projections, and the combined loss.

:class:`DistillModel` wraps the student and its trainable projection in one module, so that
Accelerate can wrap it whole (DDP/FSDP see every trained parameter used in ``forward``).
:func:`encoder_outputs` computes, for teacher and student alike, only what the switched-on losses
need: the mapped hidden states, attention probabilities of the distilled layers, Q/K/V of the
relation layer, and MLM logits at the masked positions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..embeddings import mean_pool
from ..artifacts import PROJECTION_FILE
from ..errors import BadInput
from . import losses as L
from .data import Sentences
from .settings import DistillSettings


@dataclass
class Maps:
    """``hidden[j]``: teacher hidden-state index matched by student hidden state ``j`` (0 = the
    embeddings' output, ``j`` = layer j's output); ``heads[j-1]``: the teacher heads matched by
    student layer ``j``'s heads; ``attention``: student layers (1-based) whose attention is distilled."""

    hidden: list[int]
    heads: list[list[int]]
    attention: list[int]

    @property
    def last(self) -> int:
        """The student's last hidden-state index (its number of layers)."""
        return len(self.hidden) - 1


def default_layer_map(teacher_layers: int, student_layers: int, kept: list[int] | None) -> list[int]:
    """Teacher hidden-state index per student hidden state (0 = embeddings): the teacher layers
    ``shrink`` copied (``kept``, 0-based, from ``monoglot.json``), else a uniform map."""
    if kept and len(kept) == student_layers and max(kept) < teacher_layers:
        return [0] + [k + 1 for k in kept]
    return [round(j * teacher_layers / student_layers) for j in range(student_layers + 1)]


def copied_layers(meta: dict) -> tuple[list[int] | None, list | None]:
    """The teacher layers (0-based) and heads a student stands for, from its ``monoglot.json``:
    what ``shrink`` copied (``layers_kept``/``heads_kept``), or for a distilled student the maps it
    was distilled with (``layer_map``/``teacher_heads``), so that continued distillation and task
    distillation compare each student layer with the same teacher layer; ``(None, None)`` if neither.
    """
    stats = meta.get("stats", {})
    if stats.get("layers_kept") is not None:
        return stats["layers_kept"], stats.get("heads_kept")
    hidden = stats.get("layer_map")
    if hidden and hidden[0] == 0 and all(k >= 1 for k in hidden[1:]):  # [0 (embeddings), teacher layer + 1, ...]
        return [k - 1 for k in hidden[1:]], stats.get("teacher_heads")
    return None, None


def build_maps(teacher_cfg, student_cfg, student_meta: dict, s: DistillSettings) -> Maps:
    """The layer and head maps: ``s.layer_map`` if given, else the teacher layers the student was
    copied from or distilled against (:func:`copied_layers`), else a uniform map.

    Raises:
        BadInput: a layer map of the wrong length or pointing at layers the teacher lacks; attention
            distillation with more student heads than teacher heads and no head map.
    """
    Lt, Ls, As = teacher_cfg.num_hidden_layers, student_cfg.num_hidden_layers, student_cfg.num_attention_heads
    kept, heads = copied_layers(student_meta)
    if s.layer_map is not None:
        if len(s.layer_map) != Ls:
            raise BadInput(f"layer_map has {len(s.layer_map)} entries but the student has {Ls} layers; give one teacher layer (1..{Lt}) per student layer")
        bad = [t for t in s.layer_map if not 1 <= t <= Lt]
        if bad:
            raise BadInput(f"layer_map points at teacher layer(s) {bad} that do not exist; the teacher has layers 1..{Lt}")
        hidden = [0] + list(s.layer_map)
    else:
        hidden = default_layer_map(Lt, Ls, kept)
    if heads and isinstance(heads[0], int):  # an older single list for every layer
        heads = [heads] * Ls
    custom = s.layer_map is not None and hidden[1:] != [k + 1 for k in (kept or [])]
    if custom or not heads or len(heads) != Ls or any(len(h) != As for h in heads):
        heads = [list(range(As))] * Ls
    if s.loss.attention > 0 and As > teacher_cfg.num_attention_heads:
        raise BadInput(f"the student has more heads ({As}) than the teacher ({teacher_cfg.num_attention_heads}); attention distillation needs a head map: use the relations loss (MiniLMv2) instead")
    attention = list(range(1, Ls + 1)) if s.attention_layers == "all" else [Ls]
    return Maps(hidden, heads, attention if s.loss.attention > 0 else [])


def mlm_head(model) -> torch.nn.Module | None:
    """The MLM head of a ``*ForMaskedLM`` model (maps ``(..., H)`` hidden states to ``(..., V)`` logits), else None."""
    return getattr(model, "cls", None) or getattr(model, "lm_head", None)


def check_model(model, role: str, s: DistillSettings) -> None:
    """Raise :class:`BadInput` if ``model`` lacks what the switched-on losses need.

    Raises:
        BadInput: a logit loss with a teacher that has no MLM head; an attention or relation loss
            with a model whose layers have no ``attention.self.query/key/value``.
    """
    if role == "teacher" and s.loss.logits > 0 and mlm_head(model) is None:
        raise BadInput("logit distillation needs a teacher with an MLM head, and this teacher has none; run `monoglot adapt` on it first (trains an MLM head on the frozen body)")
    if s.loss.attention > 0 or s.loss.relations > 0:
        layer = model.base_model.encoder.layer[0]
        if not all(hasattr(getattr(layer, "attention", None) and layer.attention.self, n) for n in ("query", "key", "value")):
            raise BadInput(f"the attention and relation losses need BERT/XLM-R style self-attention (query/key/value), which the {role} lacks; set their weights to 0")


def encoder_outputs(model, input_ids: torch.Tensor, positions: torch.Tensor | None, hidden: list[int],
                    attention: list[tuple[int, list[int] | None]], relation_layer: int | None) -> dict:
    """Run ``model`` and return what the losses need.

    Args:
        input_ids: ``(B, N)``.
        positions: ``(M,)`` flat indices of masked tokens, or None (no logits).
        hidden: hidden-state indices to return.
        attention: ``(layer (1-based), heads or None)`` pairs whose attention probabilities to return.
        relation_layer: a layer (1-based) whose Q, K, V to return, or None.

    Returns:
        ``{"hidden": [(B, N, H)], "attention": [(B, h, N, N)], "qkv": [3 x (B, N, H)], "logits": (M, V) | None}``.
    """
    base = model.base_model
    hs = base(input_ids=input_ids, output_hidden_states=True).hidden_states
    layers, nh = base.encoder.layer, base.config.num_attention_heads
    out = {"hidden": [hs[i] for i in hidden],
           "attention": [L.attention_probs(layers[j - 1], hs[j - 1], nh, h) for j, h in attention],
           "qkv": L.qkv(layers[relation_layer - 1], hs[relation_layer - 1]) if relation_layer else [],
           "logits": None}
    if positions is not None:
        out["logits"] = mlm_head(model)(hs[-1].flatten(0, 1).index_select(0, positions))
    return out


class DistillModel(torch.nn.Module):
    """The student plus the learned hidden-state projection (``H_s -> H_t``) where sizes differ.

    ``forward(input_ids, positions)`` returns the student's :func:`encoder_outputs`. With
    ``s.contrastive_queue`` K > 0 it also holds the contrastive loss's memory bank: buffers
    ``queue`` ``(K, H)`` (the teacher's source-sentence embeddings of earlier training batches, in
    the space the teacher's targets are compared in) and ``queue_count`` (embeddings pushed so far).
    Buffers travel in the state dict, so checkpoints keep the bank and a resume is exact (under DDP
    they follow process 0, as Accelerate broadcasts buffers).
    """

    def __init__(self, student, maps: Maps, s: DistillSettings, teacher_hidden: int, basis: torch.Tensor | None):
        super().__init__()
        self.student, self.maps, self.s = student, maps, s
        hs = student.config.hidden_size
        self.proj = None
        if hs != teacher_hidden and s.hidden_projection == "learned" and (s.loss.hidden > 0 or s.loss.cosine > 0 or s.loss.sentence_level()):
            self.proj = torch.nn.Linear(hs, teacher_hidden)
            if basis is not None:  # start from the shrink basis: student states map back exactly at step 0
                with torch.no_grad():
                    self.proj.weight.copy_(basis)
                    self.proj.bias.zero_()
        if s.contrastive_queue and s.loss.batch_relative():
            dim = hs if hs != teacher_hidden and s.hidden_projection == "pca" else teacher_hidden
            self.register_buffer("queue", torch.zeros(s.contrastive_queue, dim))
            self.register_buffer("queue_count", torch.zeros((), dtype=torch.long))

    def negatives(self) -> torch.Tensor | None:
        """``(k, H)`` the memory bank's filled rows while training (None in evaluation or without
        a bank: the validation loss stays the in-batch one, comparable across settings)."""
        if not self.training or not hasattr(self, "queue"):
            return None
        return self.queue[: int(self.queue_count.clamp(max=len(self.queue)))]

    @torch.no_grad()
    def push_negatives(self, teacher_emb: torch.Tensor) -> None:
        """Add ``(B, H)`` teacher embeddings to the memory bank, oldest first out (a no-op without one)."""
        if not hasattr(self, "queue"):
            return
        k, n = len(self.queue), int(self.queue_count)
        emb = teacher_emb.detach().to(self.queue.dtype)[-k:]  # a batch larger than the bank keeps its last k
        rows = (n + len(teacher_emb) - len(emb) + torch.arange(len(emb), device=emb.device)) % k
        self.queue[rows] = emb
        self.queue_count += len(teacher_emb)

    def hidden_indices(self) -> list[int]:
        """Student hidden states the losses read: all with a hidden-state loss, the last one for
        the cosine loss alone, none otherwise."""
        if self.s.loss.hidden > 0:
            return list(range(len(self.maps.hidden)))
        return [self.maps.last] if self.s.loss.cosine > 0 else []

    def forward(self, input_ids: torch.Tensor | None, positions: torch.Tensor | None = None,
                sentences: Sentences | None = None) -> dict:
        """The student's :func:`encoder_outputs` on the token chunks ``input_ids`` (None: no
        token-level loss), plus ``emb_tgt`` / ``emb_src`` ``(B, H_s)``: mean-pooled embeddings of
        the sentence batch (``emb_src`` only with parallel text, for the parallel and contrastive losses)."""
        out = {}
        if input_ids is not None:
            rel = self.maps.last if self.s.loss.relations > 0 else None
            out = encoder_outputs(self.student, input_ids, positions, self.hidden_indices(),
                                  [(j, None) for j in self.maps.attention], rel)
        if sentences is not None:
            out["emb_tgt"] = sentence_embeddings(self.student, sentences.tgt_ids, sentences.tgt_mask)
            if sentences.src_ids is not None and (self.s.loss.parallel > 0 or self.s.loss.batch_relative()):
                out["emb_src"] = source_embeddings(self.student, sentences, out["emb_tgt"])
        return out


def sentence_embeddings(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B, H)`` mean-pooled last hidden states (:func:`monoglot.embeddings.mean_pool`) of padded sentences."""
    return mean_pool(model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state, mask)


def source_embeddings(model, sentences: Sentences, emb_tgt: torch.Tensor) -> torch.Tensor:
    """``(B, H)`` embeddings of the source sentences: ``emb_tgt`` ``(B, H)`` (the same model's
    target embeddings) on the rows whose source is the target itself, so that only the distinct
    sources are run; differentiable through both."""
    rows, ids, mask = sentences.distinct_sources()
    if len(rows) == len(emb_tgt):
        return sentence_embeddings(model, ids, mask)
    if not len(rows):
        return emb_tgt
    return emb_tgt.index_copy(0, rows, sentence_embeddings(model, ids, mask).to(emb_tgt.dtype))


def teacher_sentence_outputs(teacher, dm: DistillModel, sentences: Sentences, basis: torch.Tensor | None) -> dict:
    """The teacher's sentence embeddings for the sentence losses, under ``torch.inference_mode``:
    ``emb_src`` ``(B, H)`` of the source sentences (of the target sentences without parallel text),
    and ``emb_tgt`` of the target sentences where the embedding loss needs both (then a source that
    is its target sentence, see :meth:`Sentences.distinct_sources`, is not run again). Projected onto
    ``basis`` ``(H_t, H_s)`` with the fixed PCA projection."""
    w = dm.s.loss
    bilingual = sentences.src_ids is not None
    out = {}
    with torch.inference_mode():
        if w.embedding > 0 or not bilingual:
            out["emb_tgt"] = sentence_embeddings(teacher, sentences.tgt_ids, sentences.tgt_mask)
        if bilingual:
            out["emb_src"] = (source_embeddings(teacher, sentences, out["emb_tgt"]) if "emb_tgt" in out
                              else sentence_embeddings(teacher, sentences.src_ids, sentences.src_mask))
        out = {k: (v.float() @ basis if basis is not None else v.float()) for k, v in out.items()}
    if not bilingual:
        out["emb_src"] = out["emb_tgt"]
    return {k: v.clone() for k, v in out.items()}  # inference tensors may not be saved for backward


def sentence_terms(so: dict, to: dict, dm: DistillModel) -> dict[str, torch.Tensor]:
    """The switched-on sentence-embedding losses (Reimers & Gurevych 2020; InfoNCE) of one batch."""
    s, w, proj = dm.s, dm.s.loss, dm.proj
    dist = L.embedding_mse if s.embedding_loss == "mse" else L.embedding_cosine
    terms = {}
    if w.embedding > 0:
        terms["embedding"] = dist(so["emb_tgt"], to["emb_tgt"], proj)
    if w.parallel > 0:  # eq. 1: ||S(t) - T(s)||^2 + ||S(s) - T(s)||^2, each a mean over the batch
        terms["parallel"] = dist(so["emb_tgt"], to["emb_src"], proj) + dist(so["emb_src"], to["emb_src"], proj)
    if w.batch_relative():
        t, neg = s.contrastive_temperature, dm.negatives()

        def both_languages(loss) -> torch.Tensor:
            """S(tgt) against T(src), averaged with S(src) against T(src) where there is a source side:
            symmetric, as eq. 1; without it the source side drifts apart."""
            value = loss(so["emb_tgt"], to["emb_src"], t, proj, neg)
            return (value + loss(so["emb_src"], to["emb_src"], t, proj, neg)) / 2 if "emb_src" in so else value

        if w.contrastive > 0:  # both languages must find the teacher's embedding of the source sentence
            terms["contrastive"] = both_languages(L.info_nce)
        if w.similarity > 0:  # SEED: the teacher's similarity distribution over the batch and the bank
            terms["similarity"] = both_languages(L.similarity_kl)
    return terms


def teacher_outputs(teacher, dm: DistillModel, input_ids: torch.Tensor, positions: torch.Tensor | None,
                    basis: torch.Tensor | None) -> dict:
    """The teacher's targets for ``dm``'s student, under ``torch.inference_mode``.

    With the fixed PCA projection, teacher hidden states come back projected onto ``basis``
    ``(H_t, H_s)``.
    """
    m = dm.maps
    idx = [m.hidden[j] for j in dm.hidden_indices()]
    att = [(m.hidden[j], m.heads[j - 1]) for j in m.attention]
    rel = m.hidden[m.last] if dm.s.loss.relations > 0 else None
    with torch.inference_mode():
        out = encoder_outputs(teacher, input_ids, positions, idx, att, rel)
        # a bf16 teacher (see .precision): targets in fp32, so losses are reduced in fp32
        out = {k: [t.float() for t in v] if isinstance(v, list) else (v.float() if v is not None else None) for k, v in out.items()}
        if basis is not None:
            out["hidden"] = [h @ basis for h in out["hidden"]]
    # Inference tensors may not be saved for backward: copy the two targets that a loss multiplies
    # with a student tensor (attention KL, cosine); the others enter only through differences.
    if dm.s.attention_loss == "kl":
        out["attention"] = [a.clone() for a in out["attention"]]
    if dm.s.loss.cosine > 0:
        out["hidden"][-1] = out["hidden"][-1].clone()
    return out


def combined_loss(so: dict, to: dict, dm: DistillModel, labels: torch.Tensor | None,
                  denominator: float | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The weighted sum of the switched-on losses and each term (detached), for one micro-batch.

    ``denominator``: the masked-position count that the logit and MLM sums are divided by (see
    :mod:`.losses`); the loop passes ``global masked count / (processes * accumulation steps)``.
    """
    s, w, proj = dm.s, dm.s.loss, dm.proj
    terms: dict[str, torch.Tensor] = {}
    if "hidden" in so:  # token-level terms (no chunks are drawn when none is on)
        if w.hidden > 0:
            terms["hidden"] = sum(L.hidden_mse(a, b, proj) for a, b in zip(so["hidden"], to["hidden"])) / len(so["hidden"])
        if w.cosine > 0:
            terms["cosine"] = L.hidden_cosine(so["hidden"][-1], to["hidden"][-1], proj)
        if w.attention > 0:
            f = L.attention_kl if s.attention_loss == "kl" else L.attention_mse
            terms["attention"] = sum(f(a, b) for a, b in zip(so["attention"], to["attention"])) / len(so["attention"])
        if w.relations > 0:
            r = s.relation_heads or dm.student.config.num_attention_heads
            terms["relations"] = sum(L.relation_kl(a, b, r) for a, b in zip(so["qkv"], to["qkv"])) / 3
        if w.logits > 0:
            terms["logits"] = (L.logit_kl(so["logits"], to["logits"], s.temperature, denominator) if s.logit_loss == "kl"
                               else L.logit_mse(so["logits"], to["logits"], denominator))
        if w.mlm > 0:
            terms["mlm"] = L.mlm_loss(so["logits"], labels, denominator)
    if "emb_tgt" in so:
        terms.update(sentence_terms(so, to, dm))
    total = sum(getattr(w, k) * v for k, v in terms.items())
    return total, {k: v.detach() for k, v in terms.items()}


def load_basis(student_dir: str | Path) -> tuple[torch.Tensor | None, str | None]:
    """The ``(H_t, H_s)`` projection saved with a student narrower than its teacher (by ``shrink``,
    and by ``distill`` as the basis the student was distilled in), and how it was made (``pca``,
    ``svd``, ``importance``, ...); ``(None, None)`` if none.

    The kind is the file's own ``kind`` metadata; files written before it existed fall back to the
    shrink settings in ``monoglot.json`` (a distilled student's lack them: kind None).
    """
    from safetensors import safe_open

    f = Path(student_dir) / PROJECTION_FILE
    if not f.is_file():
        return None, None
    from ..artifacts import read_meta

    with safe_open(str(f), "pt") as fh:
        kind = (fh.metadata() or {}).get("kind") or read_meta(student_dir).get("settings", {}).get("hidden_strategy")
        return fh.get_tensor("projection"), kind
