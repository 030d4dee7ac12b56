"""Importance of layers, heads, FFN neurons and hidden dimensions, measured on target text.

- Heads: the gradient of the loss with respect to a multiplicative head mask, |dL/dxi_h| summed
  over batches (Michel et al. 2019, "Are Sixteen Heads Really Better than One?", sec. 4.1).
- FFN neurons: first-order Taylor importance |sum(grad * activation)| of each intermediate
  neuron, i.e. the gradient on a neuron mask (Molchanov et al. 2017; fastformers; Gurgurov et al.
  2025, sec. 3.3).
- Hidden dimensions: the gradient on one mask of the hidden dimensions shared by every LayerNorm
  output (the embeddings' and each sublayer's), i.e. |sum over positions and layers of
  grad * state| (CoFiPruning's hidden-dimension mask, Xia et al. 2022, sec. 3.1).
- Layers: greedily drop the layer whose removal changes the model's output least (relative MSE of
  the last hidden states), re-measuring after each drop.

The loss is the MLM loss where the model has an MLM head. A headless encoder (e5-small) uses a
masked reconstruction loss instead: 15% of the tokens are replaced by the mask token and the model
must reproduce the unpruned model's last hidden states on the clean text. The reference states
come from the unpruned model, so the loss (and its gradients) are non-zero even before pruning.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import torch

from ..errors import BadInput

MASK_RATE = 0.15


def text_batches(tokenizer, corpora: Sequence[str | Path], sequences: int = 32, seq_len: int = 128,
                 batch_size: int = 8, text_column: str = "text",
                 eval_texts: Iterable[str] | None = None) -> list[torch.Tensor]:
    """The first ``sequences`` chunks of ``seq_len`` tokens of ``corpora`` as ``(batch, seq_len)`` id tensors.

    ``eval_texts`` decontaminates the text (segments sharing an 8-word span are dropped).

    Raises:
        BadInput: no corpus given, or too little text for one batch.
    """
    from ..corpus import Decontaminator, iter_documents, iter_segments, iter_token_chunks

    if not corpora:
        raise BadInput("importance scoring needs target text; pass --corpus, or choose the 'first'/'stride'/'truncate' strategies")
    segs = (s for c in corpora for s in iter_segments(iter_documents(c, text_column=text_column)))
    if eval_texts is not None:
        segs = Decontaminator(eval_texts).filter(segs)
    chunks = list(itertools.islice(iter_token_chunks(tokenizer, segs, seq_len=seq_len), sequences))
    if len(chunks) < min(batch_size, sequences):
        raise BadInput(f"the corpus gives only {len(chunks)} sequences of {seq_len} tokens for importance scoring; give more text")
    return [torch.tensor(chunks[i:i + batch_size]) for i in range(0, len(chunks), batch_size)]


def final_states(model, batches: list[torch.Tensor]) -> list[torch.Tensor]:
    """The base model's last hidden states for each batch, ``(batch, seq, H)`` each, without gradients."""
    with torch.inference_mode():
        return [model.base_model(input_ids=b).last_hidden_state.clone() for b in batches]


def relative_error(pred: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """``||pred - ref||^2 / ||ref||^2`` over every element (scalar tensor, unitless)."""
    return (pred - ref).pow(2).sum() / ref.pow(2).sum().clamp_min(1e-12)


def rank_layers_by_removal(model, batches: list[torch.Tensor], keep: int, progress=None) -> tuple[list[int], dict[int, float]]:
    """Greedy importance-based layer choice: keep ``keep`` layers of ``model``.

    Repeatedly removes the layer whose removal gives the smallest relative error of the last
    hidden states against the full model on ``batches``, until ``keep`` remain.

    Returns:
        (kept layer indices, sorted; ``{removed layer: error when it was removed}``).
    """
    encoder = model.base_model.encoder
    layers = encoder.layer
    refs = final_states(model, batches)
    kept = list(range(len(layers)))
    removed: dict[int, float] = {}
    try:
        while len(kept) > keep:
            errors = {}
            for i in kept:
                encoder.layer = torch.nn.ModuleList([layers[j] for j in kept if j != i])
                outs = final_states(model, batches)
                errors[i] = float(sum(relative_error(o, r) for o, r in zip(outs, refs)) / len(refs))
                if progress:
                    progress()
            drop = min(errors, key=errors.get)
            removed[drop] = errors[drop]
            kept.remove(drop)
    finally:
        encoder.layer = layers
    return kept, removed


@dataclass
class Importance:
    """Importance scores (non-negative; larger = more important).

    Attributes:
        heads: ``(L, A)`` per layer and head.
        ffn: ``(L, F)`` per layer and intermediate neuron.
        hidden: ``(H,)`` per hidden dimension.
        loss: ``"mlm"`` or ``"reconstruction"``.
        tokens: tokens scored.
    """

    heads: torch.Tensor
    ffn: torch.Tensor
    hidden: torch.Tensor
    loss: str
    tokens: int


def has_mlm_head(model) -> bool:
    """Whether ``model`` has an MLM head (then importance uses the MLM loss)."""
    return model.get_output_embeddings() is not None


def _masked(ids: torch.Tensor, mask_id: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace ``MASK_RATE`` of the inner positions (not the first/last special tokens) by ``mask_id``."""
    pick = torch.rand(ids.shape, generator=generator) < MASK_RATE
    pick[:, 0] = pick[:, -1] = False
    return ids.masked_fill(pick, mask_id), pick


def score_importance(model, batches: list[torch.Tensor], mask_id: int, references: list[torch.Tensor] | None = None,
                     seed: int = 0, progress=None) -> Importance:
    """Score heads, FFN neurons and hidden dimensions of ``model`` on ``batches``.

    Args:
        model: a BERT / XLM-R encoder or MLM model (not modified).
        batches: ``(batch, seq)`` token id tensors of target text.
        mask_id: the tokenizer's mask token id.
        references: per batch ``(batch, seq, H)`` last hidden states of the unpruned model, used by
            the reconstruction loss of a headless model (default: ``model``'s own, on clean text).
        seed: seed of the masking.

    Returns:
        :class:`Importance`.

    Raises:
        BadInput: ``mask_id`` is None.
    """
    if mask_id is None:
        raise BadInput("importance scoring masks tokens, but the tokenizer has no mask token; use the 'first'/'truncate' strategies")
    cfg = model.config
    L, H, A, F = cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.intermediate_size
    d = H // A
    mlm = has_mlm_head(model)
    if not mlm and references is None:
        references = final_states(model, batches)
    head_mask = torch.ones(L, A, requires_grad=True)
    ffn_mask = torch.ones(L, F, requires_grad=True)
    hidden_mask = torch.ones(H, requires_grad=True)
    hooks = [ln.register_forward_hook(lambda mod, args, out: out * hidden_mask)
             for name, ln in model.base_model.named_modules() if name.endswith("LayerNorm")]
    for i, layer in enumerate(model.base_model.encoder.layer):
        def on_context(mod, args, i=i):
            x = args[0]
            return ((x.view(*x.shape[:-1], A, d) * head_mask[i][:, None]).view_as(x),)

        def on_ffn(mod, args, i=i):
            return (args[0] * ffn_mask[i],)
        hooks.append(layer.attention.output.dense.register_forward_pre_hook(on_context))
        hooks.append(layer.output.dense.register_forward_pre_hook(on_ffn))
    heads = torch.zeros(L, A)
    ffn = torch.zeros(L, F)
    hidden = torch.zeros(H)
    g = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    grad_flags = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)  # only the masks need gradients
    tokens = 0
    try:
        for b, ids in enumerate(batches):
            inputs, picked = _masked(ids, mask_id, g)
            if mlm:
                labels = ids.masked_fill(~picked, -100)
                loss = model(input_ids=inputs, labels=labels).loss
            else:
                out = model.base_model(input_ids=inputs).last_hidden_state
                loss = relative_error(out, references[b])
            head_mask.grad = ffn_mask.grad = hidden_mask.grad = None
            loss.backward()
            heads += head_mask.grad.abs()
            ffn += ffn_mask.grad.abs()
            hidden += hidden_mask.grad.abs()
            tokens += ids.numel()
            if progress:
                progress()
    finally:
        for h in hooks:
            h.remove()
        for p, flag in zip(model.parameters(), grad_flags):
            p.requires_grad_(flag)
        model.train(was_training)
    return Importance(heads, ffn, hidden, "mlm" if mlm else "reconstruction", tokens)


def top_k(scores: torch.Tensor, k: int) -> list[int]:
    """Sorted indices of the ``k`` largest ``scores`` (ties broken by the lower index)."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    return sorted(order[:k])


def random_k(n: int, k: int, seed: int) -> list[int]:
    """Sorted ``k`` of ``range(n)`` drawn at random (the baseline of the importance ablation)."""
    return sorted(torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:k].tolist())
