"""Distillation losses on hidden states and attention distributions.

Sources: TinyBERT (Jiao et al. 2020, sec. 3.1: hidden-state MSE through a learned projection
W_h, attention-based distillation), as used for single-language students by Cruz & Aji 2025
(sec. 3) and, with bilingual data, by BiStil (Ansell et al. 2023, sec. 3.2).
"""

from __future__ import annotations

import torch


def hidden_mse(student: torch.Tensor, teacher: torch.Tensor, proj: torch.nn.Module | None,
               mask: torch.Tensor | None = None) -> torch.Tensor:
    """MSE between projected student and teacher hidden states.

    Args:
        student: ``(batch, seq, H_s)`` student hidden states.
        teacher: ``(batch, seq, H_t)`` teacher hidden states.
        proj: maps ``H_s -> H_t`` (a learned ``nn.Linear``), or ``None`` when ``H_s == H_t``.
        mask: ``(batch, seq)`` 1 for real tokens, 0 for padding; ``None`` means all real.

    Returns:
        scalar: mean squared error per real token and dimension.
    """
    s = proj(student) if proj is not None else student
    err = (s - teacher).pow(2).mean(-1)  # (batch, seq)
    if mask is None:
        return err.mean()
    m = mask.to(err.dtype)
    return (err * m).sum() / m.sum().clamp_min(1)


def attention_kl(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None,
                 eps: float = 1e-8) -> torch.Tensor:
    """KL(teacher || student) between attention distributions, averaged over heads and query tokens.

    Args:
        student: ``(batch, heads, seq, seq)`` student attention probabilities.
        teacher: ``(batch, heads, seq, seq)`` teacher attention probabilities for the matched heads.
        mask: ``(batch, seq)`` 1 for real query tokens; ``None`` means all real.

    Returns:
        scalar KL in nats per (head, query token).
    """
    kl = (teacher * ((teacher + eps).log() - (student + eps).log())).sum(-1)  # (batch, heads, seq)
    if mask is None:
        return kl.mean()
    m = mask[:, None, :].to(kl.dtype).expand_as(kl)
    return (kl * m).sum() / m.sum().clamp_min(1)


def attention_probs(layer: torch.nn.Module, hidden_in: torch.Tensor, num_heads: int,
                    heads: list[int] | None = None) -> torch.Tensor:
    """Recompute a BERT/XLM-R layer's self-attention distribution from the layer's input.

    This lets the forward pass keep the fused (SDPA) attention kernel while distillation still
    sees attention probabilities, for only the layers that are distilled (MiniLM, Wang et al.
    2020, sec. 3.1, distils the last layer's self-attention).

    Args:
        layer: an encoder layer with ``attention.self.query`` / ``.key`` projections.
        hidden_in: ``(batch, seq, H)`` the layer's input hidden states.
        num_heads: the layer's head count.
        heads: the heads to return (default all).

    Returns:
        ``(batch, len(heads), seq, seq)`` attention probabilities (no padding mask: training
        sequences are packed, full-length chunks).
    """
    att = layer.attention.self
    b, n, h = hidden_in.shape
    d = h // num_heads
    q = att.query(hidden_in).view(b, n, num_heads, d).transpose(1, 2)
    k = att.key(hidden_in).view(b, n, num_heads, d).transpose(1, 2)
    if heads is not None:
        idx = torch.as_tensor(heads, device=q.device)
        q, k = q.index_select(1, idx), k.index_select(1, idx)
    return torch.softmax(q @ k.transpose(-1, -2) / d**0.5, dim=-1)
