"""Distillation losses: pure functions of student and teacher tensors.

Each loss returns a scalar mean. Where a mean runs over masked positions only (the logit losses
and the student's MLM loss), the caller passes ``denominator`` so that data-parallel processes,
which see different numbers of masked positions, still average to the global mean (see
:mod:`.objective`).

Sources:
- logit KL with temperature ``T`` and the ``T^2`` factor: Hinton et al. 2015, sec. 2; DistilBERT
  (Sanh et al. 2019, sec. 2); logit MSE: Gurgurov et al. 2025 (sec. 3.2) found it better than KL.
- hidden-state MSE through a learned projection ``W_h``: TinyBERT (Jiao et al. 2020, sec. 3.1,
  eq. 8), Cruz & Aji 2025 (sec. 3); through a fixed PCA projection: BiStil (Ansell et al. 2023,
  sec. 3.2).
- attention distribution MSE: TinyBERT (eq. 7); KL: MiniLM (Wang et al. 2020, sec. 3.1), BiStil.
- self-attention relations Q-Q, K-K, V-V: MiniLMv2 (Wang et al. 2021, sec. 3.1).
- cosine embedding loss on hidden states: DistilBERT (Sanh et al. 2019, sec. 2).
- sentence-embedding MSE, monolingual and cross-lingual on parallel text: Reimers & Gurevych 2020
  ("Making Monolingual Sentence Embeddings Multilingual using Knowledge Distillation", sec. 2,
  eq. 1); its cosine variant; in-batch contrastive InfoNCE (van den Oord et al. 2018, sec. 2.3),
  as used for sentence embeddings by SimCSE (Gao et al. 2021, sec. 2) and e5 (Wang et al. 2022, sec. 4.1).
- similarity-distribution KL over the teacher's embeddings of the batch and a memory bank: SEED
  (Fang et al. 2021, "SEED: Self-supervised Distillation for Visual Representation", sec. 3.2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _mean(x: torch.Tensor, denominator: float | None) -> torch.Tensor:
    return x.sum() / denominator if denominator is not None else x.mean()


def logit_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 1.0,
             denominator: float | None = None) -> torch.Tensor:
    """``T^2 * KL(softmax(t/T) || softmax(s/T))`` per masked position.

    Args:
        student: ``(M, V)`` student MLM logits at the M masked positions.
        teacher: ``(M, V)`` teacher MLM logits at the same positions.
        temperature: ``T > 0``; the ``T^2`` factor keeps gradient magnitudes comparable across T.
        denominator: divide the summed KL by this (default ``M``).

    Returns:
        scalar, nats per masked position.
    """
    t = F.log_softmax(teacher.float() / temperature, -1)
    s = F.log_softmax(student.float() / temperature, -1)
    kl = (t.exp() * (t - s)).sum(-1)
    return _mean(kl, denominator) * temperature**2


def logit_mse(student: torch.Tensor, teacher: torch.Tensor, denominator: float | None = None) -> torch.Tensor:
    """Mean squared error between MLM logits, averaged over the vocabulary, per masked position.

    Args:
        student, teacher: ``(M, V)`` logits at the masked positions.
        denominator: divide the per-position sum by this (default ``M``).
    """
    return _mean((student.float() - teacher.float()).pow(2).mean(-1), denominator)


def mlm_loss(student: torch.Tensor, labels: torch.Tensor, denominator: float | None = None) -> torch.Tensor:
    """The student's own masked-language-modelling cross-entropy.

    Args:
        student: ``(M, V)`` logits at the masked positions.
        labels: ``(M,)`` original token ids there.
        denominator: divide the summed cross-entropy by this (default ``M``).
    """
    return _mean(F.cross_entropy(student.float(), labels, reduction="none"), denominator)


def hidden_mse(student: torch.Tensor, teacher: torch.Tensor, proj: torch.nn.Module | None = None,
               mask: torch.Tensor | None = None) -> torch.Tensor:
    """MSE between (projected) student and teacher hidden states, per token and dimension.

    Args:
        student: ``(batch, seq, H_s)`` student hidden states.
        teacher: ``(batch, seq, H)`` target states: the teacher's, or the teacher's projected to
            ``H_s`` by a fixed PCA basis.
        proj: maps ``H_s -> H`` (learned ``nn.Linear``); ``None`` when the sizes already agree.
        mask: ``(batch, seq)`` 1 for real tokens, 0 for padding; ``None`` means all real.
    """
    s = proj(student) if proj is not None else student
    err = (s - teacher).pow(2).mean(-1)
    if mask is None:
        return err.mean()
    m = mask.to(err.dtype)
    return (err * m).sum() / m.sum().clamp_min(1)


def hidden_cosine(student: torch.Tensor, teacher: torch.Tensor, proj: torch.nn.Module | None = None) -> torch.Tensor:
    """``1 - cos(student, teacher)`` per token (DistilBERT's cosine embedding loss).

    Args:
        student: ``(batch, seq, H_s)``; teacher: ``(batch, seq, H)``; proj as in :func:`hidden_mse`.
    """
    s = proj(student) if proj is not None else student
    return (1 - F.cosine_similarity(s, teacher, dim=-1)).mean()


def embedding_mse(student: torch.Tensor, teacher: torch.Tensor, proj: torch.nn.Module | None = None) -> torch.Tensor:
    """Reimers & Gurevych 2020, eq. 1: ``mean((proj(s) - t)^2)`` between sentence embeddings, per
    sentence and dimension.

    Args:
        student: ``(B, H_s)`` the student's mean-pooled sentence embeddings.
        teacher: ``(B, H)`` the teacher's (not normalised, as in the paper).
        proj: maps ``H_s -> H``; ``None`` when the sizes agree (or the teacher's are projected).
    """
    s = proj(student) if proj is not None else student
    return (s.float() - teacher.float()).pow(2).mean()


def embedding_cosine(student: torch.Tensor, teacher: torch.Tensor, proj: torch.nn.Module | None = None) -> torch.Tensor:
    """``1 - cos(proj(s), t)`` per sentence: the direction of the embedding only, which is what
    cosine retrieval and the probes (on L2-normalised embeddings) see. Shapes as :func:`embedding_mse`."""
    s = proj(student) if proj is not None else student
    return (1 - F.cosine_similarity(s.float(), teacher.float(), dim=-1)).mean()


def _unit_candidates(student: torch.Tensor, teacher: torch.Tensor, proj: torch.nn.Module | None,
                     negatives: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """L2-normalised fp32 ``(B, H)`` student rows (through ``proj``), ``(B, H)`` teacher rows, and
    ``(B + K, H)`` candidates: the teacher rows followed by the ``(K, H)`` ``negatives`` (if any)."""
    s = F.normalize((proj(student) if proj is not None else student).float(), dim=-1)
    a = F.normalize(teacher.float(), dim=-1)
    t = torch.cat([a, F.normalize(negatives.float(), dim=-1)]) if negatives is not None and len(negatives) else a
    return s, a, t


def info_nce(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 0.05,
             proj: torch.nn.Module | None = None, negatives: torch.Tensor | None = None) -> torch.Tensor:
    """In-batch contrastive loss: student sentence ``i`` must pick teacher sentence ``i`` among the
    batch's teacher sentences (and ``negatives``), by cosine similarity / ``temperature``
    (cross-entropy, nats).

    Args:
        student: ``(B, H_s)`` student embeddings (e.g. of target-language sentences).
        teacher: ``(B, H)`` teacher embeddings of the matching sentences (e.g. their translations).
        temperature: softmax temperature (> 0).
        proj: as in :func:`embedding_mse`.
        negatives: ``(K, H)`` further teacher embeddings that no student row matches (a memory bank
            of earlier batches, as CRD, Tian et al. 2020, sec. 3.2), or None.
    """
    s, _, t = _unit_candidates(student, teacher, proj, negatives)
    logits = s @ t.T / temperature
    return F.cross_entropy(logits, torch.arange(len(s), device=s.device))


def similarity_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 0.05,
                  proj: torch.nn.Module | None = None, negatives: torch.Tensor | None = None) -> torch.Tensor:
    """SEED's similarity-distribution loss: KL(p_T || p_S), where p_T is the softmax of teacher
    sentence ``i``'s cosine similarities / ``temperature`` to every candidate (the batch's teacher
    embeddings and ``negatives``) and p_S that of student sentence ``i`` to the same candidates.

    Unlike :func:`info_nce`, whose target is one-hot, the target keeps how near the teacher puts
    sentence ``i`` to each other sentence (topic neighbours stay neighbours).

    Args:
        student: ``(B, H_s)`` student embeddings.
        teacher: ``(B, H)`` the teacher's embeddings of the matching sentences (the anchors, also candidates).
        temperature: softmax temperature (> 0) of both distributions.
        proj: as in :func:`embedding_mse`.
        negatives: ``(K, H)`` further teacher embeddings (a memory bank), or None.

    Returns:
        scalar, nats per sentence.
    """
    s, a, t = _unit_candidates(student, teacher, proj, negatives)
    log_p_t = F.log_softmax(a @ t.T / temperature, -1)
    log_p_s = F.log_softmax(s @ t.T / temperature, -1)
    return (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1).mean()


def attention_kl(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None,
                 eps: float = 1e-8) -> torch.Tensor:
    """KL(teacher || student) between attention distributions, per head and query token.

    Args:
        student: ``(batch, heads, seq, seq)`` student attention probabilities.
        teacher: ``(batch, heads, seq, seq)`` teacher probabilities of the matched heads.
        mask: ``(batch, seq)`` 1 for real query tokens; ``None`` means all real.

    Returns:
        scalar, nats per (head, query token).
    """
    kl = (teacher * ((teacher + eps).log() - (student + eps).log())).sum(-1)
    if mask is None:
        return kl.mean()
    m = mask[:, None, :].to(kl.dtype).expand_as(kl)
    return (kl * m).sum() / m.sum().clamp_min(1)


def attention_mse(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """TinyBERT's attention loss: MSE between attention maps ``(batch, heads, seq, seq)``,
    summed over keys (so its scale does not shrink with sequence length), per head and query."""
    return (student - teacher).pow(2).sum(-1).mean()


def relation_kl(student: torch.Tensor, teacher: torch.Tensor, relation_heads: int) -> torch.Tensor:
    """MiniLMv2 self-attention relation loss for one of Q, K or V.

    Both vectors are split into ``relation_heads`` heads (the widths may differ), the relation
    ``softmax(X X^T / sqrt(d_r))`` is formed per head, and KL(teacher || student) is averaged
    over heads and tokens.

    Args:
        student: ``(batch, seq, H_s)`` the student's query, key or value vectors of one layer.
        teacher: ``(batch, seq, H)`` the teacher's, same kind.
        relation_heads: must divide both ``H_s`` and ``H``.

    Raises:
        ValueError: if ``relation_heads`` divides neither width.
    """
    def rel(x: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape
        if h % relation_heads:
            raise ValueError(f"relation_heads={relation_heads} does not divide width {h}")
        d = h // relation_heads
        x = x.view(b, n, relation_heads, d).transpose(1, 2)
        return F.log_softmax(x @ x.transpose(-1, -2) / d**0.5, -1)

    t, s = rel(teacher.float()), rel(student.float())
    return (t.exp() * (t - s)).sum(-1).mean()


def attention_probs(layer: torch.nn.Module, hidden_in: torch.Tensor, num_heads: int,
                    heads: list[int] | None = None, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Recompute a BERT/XLM-R layer's self-attention distribution from the layer's input.

    The forward pass keeps the fused (SDPA) kernel; only distilled layers pay for the explicit
    softmax (MiniLM distils just the last layer, sec. 3.1).

    Args:
        layer: an encoder layer with ``attention.self.query`` / ``.key``.
        hidden_in: ``(batch, seq, H)`` the layer's input.
        num_heads: the layer's head count.
        heads: the heads to return (default all).
        attention_mask: ``(batch, seq)`` 1 for real tokens; padded keys get no attention. None for
            packed full-length chunks (general distillation).

    Returns:
        ``(batch, len(heads), seq, seq)`` probabilities.
    """
    q, k = qkv(layer, hidden_in, "qk")
    b, n, h = q.shape
    d = h // num_heads
    q = q.view(b, n, num_heads, d).transpose(1, 2)
    k = k.view(b, n, num_heads, d).transpose(1, 2)
    if heads is not None:
        idx = torch.as_tensor(heads, device=q.device)
        q, k = q.index_select(1, idx), k.index_select(1, idx)
    scores = q @ k.transpose(-1, -2) / d**0.5
    if attention_mask is not None:
        scores = scores.masked_fill(attention_mask[:, None, None, :] == 0, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1)


def qkv(layer: torch.nn.Module, hidden_in: torch.Tensor, which: str = "qkv") -> list[torch.Tensor]:
    """The layer's query/key/value vectors ``(batch, seq, heads * head_dim)`` for ``which`` in 'q','k','v'."""
    att = layer.attention.self
    mods = {"q": att.query, "k": att.key, "v": att.value}
    return [mods[c](hidden_in) for c in which]
