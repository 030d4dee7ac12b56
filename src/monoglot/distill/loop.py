"""The general-distillation training loop (nanoGPT-style: one short loop, settings as data).

Student hidden states are matched to teacher hidden states through a learned linear projection
where the sizes differ, and student attention distributions to the matched teacher heads
(TinyBERT, Jiao et al. 2020; Cruz & Aji 2025 sec. 3; BiStil, Ansell et al. 2023 sec. 3.2).
The teacher needs no MLM head, so headless teachers such as e5-small work.
"""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import torch
from pydantic import BaseModel, ConfigDict, Field

from ..artifacts import atomic_dir, check_new_output, read_meta, save_tokenizer, write_meta
from ..errors import BadInput
from ..progress import bar
from ..teachers import load_encoder, load_tokenizer, resolve_model
from .losses import attention_kl, attention_probs, hidden_mse


class DistillSettings(BaseModel):
    """Settings of general distillation (units: steps, sequences, tokens)."""

    model_config = ConfigDict(extra="forbid")
    steps: int = Field(300, ge=1, description="optimizer steps")
    batch_size: int = Field(16, ge=1, description="sequences per step")
    seq_len: int = Field(128, ge=8, description="tokens per training sequence, special tokens included")
    lr: float = Field(3e-4, gt=0)
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    weight_decay: float = Field(0.01, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    hidden_weight: float = Field(1.0, ge=0, description="weight of the hidden-state MSE")
    attention_weight: float = Field(1.0, ge=0, description="weight of the attention KL")
    attention_layers: str = Field("last", pattern="^(last|all)$", description="student layers whose attention is distilled: last (MiniLM) or all (TinyBERT)")
    val_batches: int = Field(4, ge=1, description="held-out batches for the validation loss")
    seed: int = 42
    text_column: str = "text"


def _chunks(tokenizer, corpora: Sequence[str | Path], seq_len: int, text_column: str,
            eval_texts: Iterable[str] | None, stats) -> Iterator[list[int]]:
    from ..corpus import Decontaminator, iter_documents, iter_segments, iter_token_chunks

    decon = Decontaminator(eval_texts) if eval_texts is not None else None
    segs = (s for c in corpora for s in iter_segments(iter_documents(c, text_column=text_column, stats=stats), stats=stats))
    if decon is not None:
        segs = decon.filter(segs, stats=stats)
    return iter_token_chunks(tokenizer, segs, seq_len=seq_len)


def _batches(make_chunks, batch_size: int, skip: int) -> Iterator[torch.Tensor]:
    """Endless batches ``(batch, seq_len)``, cycling over the corpus, skipping the first ``skip`` chunks."""
    while True:
        it = itertools.islice(make_chunks(), skip, None)
        n = 0
        while batch := list(itertools.islice(it, batch_size)):
            if len(batch) < batch_size:
                break
            n += 1
            yield torch.tensor(batch)
        if n == 0:
            raise BadInput("the corpus is too small for one training batch after the validation batches; give more text or lower batch_size/val_batches")


def _maps(teacher_cfg, student_cfg, student_meta: dict) -> tuple[list[int], list[list[int]]]:
    """Teacher hidden-state index for each student hidden state (0 = embeddings), and per student
    layer the teacher heads its heads came from.

    A student written by ``shrink`` records the teacher layers and heads it copied
    (``layers_kept``, ``heads_kept``); otherwise layers are mapped uniformly and heads in order.
    """
    Lt, Ls, As = teacher_cfg.num_hidden_layers, student_cfg.num_hidden_layers, student_cfg.num_attention_heads
    stats = student_meta.get("stats", {})
    kept = stats.get("layers_kept")
    if kept and len(kept) == Ls and max(kept) < Lt:
        layer_map = [0] + [k + 1 for k in kept]
    else:
        layer_map = [round(j * Lt / Ls) for j in range(Ls + 1)]
    heads = stats.get("heads_kept")
    if heads and isinstance(heads[0], int):  # an older single list for every layer
        heads = [heads] * Ls
    if not heads or len(heads) != Ls or any(len(h) != As for h in heads):
        heads = [list(range(As))] * Ls
    if max(max(h) for h in heads) >= teacher_cfg.num_attention_heads:
        raise BadInput(f"the student has more heads ({As}) than the teacher ({teacher_cfg.num_attention_heads}); attention distillation needs a head map")
    return layer_map, heads


def distill(teacher_spec: str | Path, student_spec: str | Path, corpora: Sequence[str | Path], out: str | Path,
            settings: DistillSettings | None = None, eval_texts: Iterable[str] | None = None,
            overwrite: bool = False, progress: bool = True) -> Path:
    """Distil ``student_spec`` from ``teacher_spec`` on ``corpora`` and write the student to ``out``.

    Loss per step = hidden_weight * mean over mapped layers of :func:`hidden_mse`
    + attention_weight * mean over mapped layers of :func:`attention_kl`. AdamW with linear warmup
    and linear decay; seeded. ``eval_texts`` (every evaluation sentence in use) decontaminates the
    corpus: segments sharing an 8-word span with any of them are dropped.

    Raises:
        BadInput: teacher and student tokenizers differ, the corpus is missing/empty/too small,
            an existing ``out``.
    """
    from ..corpus import CorpusStats

    s = settings or DistillSettings()
    check_new_output(out, overwrite)
    torch.manual_seed(s.seed)
    t_path, s_path = resolve_model(teacher_spec), resolve_model(student_spec)
    tok = load_tokenizer(s_path)
    if load_tokenizer(t_path).get_vocab() != tok.get_vocab():
        raise BadInput("teacher and student tokenizers differ; shrink the student from the (trimmed) teacher so they share one vocabulary")
    teacher = load_encoder(t_path)
    student = load_encoder(s_path).train()
    for p in teacher.parameters():
        p.requires_grad_(False)
    layer_map, heads = _maps(teacher.config, student.config, read_meta(s_path))
    hs, ht = student.config.hidden_size, teacher.config.hidden_size
    proj = torch.nn.Linear(hs, ht) if hs != ht else None
    params = list(student.parameters()) + (list(proj.parameters()) if proj is not None else [])
    opt = torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay)
    warm = max(1, int(s.warmup_ratio * s.steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min((i + 1) / warm, max(0.0, (s.steps - i) / max(1, s.steps - warm))))
    cstats = CorpusStats()
    eval_texts = list(eval_texts) if eval_texts is not None else None
    make = lambda: _chunks(tok, corpora, s.seq_len, s.text_column, eval_texts, cstats)  # noqa: E731
    val = list(itertools.islice(make(), s.val_batches * s.batch_size))
    if len(val) < s.val_batches * s.batch_size:
        raise BadInput(f"the corpus gives only {len(val)} sequences of {s.seq_len} tokens, fewer than the {s.val_batches * s.batch_size} validation sequences; give more text")
    val_batches = [torch.tensor(val[i:i + s.batch_size]) for i in range(0, len(val), s.batch_size)]
    train = _batches(make, s.batch_size, skip=len(val))

    att_pairs = [(j, t) for j, t in enumerate(layer_map) if j > 0]
    if s.attention_layers == "last":
        att_pairs = att_pairs[-1:]
    tl, sl = teacher.encoder.layer, student.encoder.layer
    ta, sa = teacher.config.num_attention_heads, student.config.num_attention_heads

    def loss_fn(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            th = teacher(input_ids=ids, output_hidden_states=True).hidden_states
            tatt = [attention_probs(tl[t - 1], th[t - 1], ta, heads[j - 1]) for j, t in att_pairs]
        sh = student(input_ids=ids, output_hidden_states=True).hidden_states
        lh = sum(hidden_mse(sh[j], th[t], proj) for j, t in enumerate(layer_map)) / len(layer_map)
        la = sum(attention_kl(attention_probs(sl[j - 1], sh[j - 1], sa), tp) for (j, _), tp in zip(att_pairs, tatt)) / len(att_pairs)
        return s.hidden_weight * lh + s.attention_weight * la, lh.detach(), la.detach()

    def val_loss() -> float:
        student.eval()
        with torch.no_grad():
            v = sum(float(loss_fn(b)[0]) for b in val_batches) / len(val_batches)
        student.train()
        return v

    v0 = val_loss()
    history = []
    t0 = time.perf_counter()
    tokens = 0
    with bar("distill", s.steps, enabled=progress) as advance:
        for step in range(s.steps):
            ids = next(train)
            loss, lh, la = loss_fn(ids)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, s.max_grad_norm)
            opt.step()
            sched.step()
            tokens += ids.numel()
            if not math.isfinite(loss.item()):
                raise RuntimeError(f"distillation diverged at step {step} (loss {float(loss)}); lower lr")
            history.append({"step": step + 1, "loss": round(loss.item(), 5), "hidden": round(float(lh), 5), "attention": round(float(la), 5)})
            dt = time.perf_counter() - t0
            advance(loss=f"{loss.item():.4f}", tok_s=f"{tokens / dt:,.0f}")
    seconds = time.perf_counter() - t0
    v1 = val_loss()
    with atomic_dir(out, overwrite=overwrite) as tmp:
        student.eval().save_pretrained(tmp)
        save_tokenizer(tok, tmp)
        stats = {"val_loss_before": v0, "val_loss_after": v1, "train_loss_first": history[0]["loss"],
                 "train_loss_last": history[-1]["loss"], "tokens": tokens, "seconds": round(seconds, 1),
                 "tokens_per_second": round(tokens / seconds, 1), "layer_map": layer_map, "teacher_heads": heads,
                 "corpus": cstats.as_dict(), "history": history}
        write_meta(tmp, "distill", str(student_spec), {"teacher": str(teacher_spec), "corpora": [str(c) for c in corpora],
                   "decontaminated": eval_texts is not None, **s.model_dump()}, stats)
    return Path(out)
