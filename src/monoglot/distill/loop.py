"""The distill stage: load and check teacher and student, build the batches (:mod:`.data`) and the
objective (:mod:`.objective`), then run the training engine (:func:`monoglot.training.train`).

It runs through Hugging Face Accelerate, so ``accelerate launch`` (or ``torchrun``) gives DDP or
FSDP on many GPUs and nodes, with mixed precision, without code changes. Every process draws the
same global batch and trains on its slice (see :mod:`.data`), so the loss curve does not depend
on the number of processes. Checkpoints (:mod:`.checkpoint`) are written every N steps and on
SIGINT/SIGTERM; ``resume=True`` continues bit-exactly.

The same stage adapts a teacher (continued MLM, :mod:`.adapt`): then there is no teacher and the
only loss is the student's own MLM loss.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import time
from pathlib import Path
from typing import Iterable, Sequence

import torch
from safetensors.torch import save_file

from ..artifacts import (PROJECTION_FILE, atomic_dir, check_new_output, corpus_files, portable_path, read_meta, save_tokenizer,
                         settings_hash, write_meta)
from ..errors import BadInput
from ..progress import console
from ..teachers import load_tokenizer, resolve_model
from ..teachers.loader import check_seq_len, load_saved_architecture
from ..training import Keeper, Phases, TrainState, Validation, train
from . import checkpoint as ck
from .data import (Mixer, SentenceStream, Stream, mask_tokens, monolingual_sentences, shard, target_texts, token_chunks,
                   validation_slice)
from .mlm import freeze_all_but_head, with_mlm_head
from .objective import (DistillModel, Maps, build_maps, check_model, combined_loss, load_basis, mlm_head, teacher_outputs,
                        teacher_sentence_outputs)
from .precision import cpu_model, resolve_precision
from .settings import DistillSettings


def work_dir(out: str | Path) -> Path:
    """The run's work directory beside ``out``: checkpoints, best model, TensorBoard logs."""
    out = Path(out)
    return out.with_name(f"{out.name}.work")


def _load_student(path: str, s: DistillSettings):
    model = load_saved_architecture(path)
    if s.loss.needs_masking():
        model = with_mlm_head(model)
    # Parts no loss uses stay as they are (DDP must not see parameters without gradients): an MLM
    # head's own weights when no loss needs it (not the decoder tied to the embeddings), the pooler.
    body = {id(p) for p in model.base_model.parameters()}
    unused = [p for p in mlm_head(model).parameters() if id(p) not in body] if mlm_head(model) is not None and not s.loss.needs_masking() else []
    pooler = getattr(model.base_model, "pooler", None)
    for p in unused + (list(pooler.parameters()) if pooler is not None else []):
        p.requires_grad_(False)
    if s.dropout is not None:
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = s.dropout
    return model


def _per_micro_batch(name: str, size: int, world: int, grad_accum: int) -> int:
    """Rows of a global batch of ``size`` that one process takes per micro-batch.

    Raises:
        BadInput: ``size`` is not a multiple of ``world * grad_accum``.
    """
    if size % (world * grad_accum):
        raise BadInput(f"{name} {size} is not divisible by processes ({world}) x grad_accum ({grad_accum}); choose a multiple of {world * grad_accum}")
    return size // (world * grad_accum)


def _step_seed(seed: int, step: int) -> int:
    return (seed * 1_000_003 + step) % (2**63)


def distill(teacher_spec: str | Path | None, student_spec: str | Path, corpora: Sequence[str | Path], out: str | Path,
            settings: DistillSettings | None = None, *, source_corpora: Sequence[str | Path] = (),
            eval_texts: Iterable[str] | None = None, parallel: tuple[str | Path, str | Path] | None = None,
            overwrite: bool = False, resume: bool = False, progress: bool = True) -> Path:
    """Distil ``student_spec`` from ``teacher_spec`` on ``corpora`` and write the student to ``out``.

    Loss per step: the weighted sum of the switched-on terms of :class:`LossWeights` (see
    :func:`~monoglot.distill.objective.combined_loss`). AdamW with linear warmup and decay; seeded.
    ``source_corpora`` (BiStil) adds a second language: batches alternate between the languages
    at ``settings.source_ratio``. ``parallel`` (source file, target file; see
    :func:`monoglot.parallel.read_parallel`) gives the sentence pairs of the cross-lingual
    embedding losses; without it the sentence losses use target-corpus segments. ``eval_texts`` (every evaluation sentence in use) decontaminates
    the corpora: segments sharing an 8-word span with any of them are dropped. ``teacher_spec=None``
    trains the student alone (teacher adaptation by MLM).

    Work directory ``<out>.work``: checkpoints, ``best.safetensors``, TensorBoard logs (copied to
    ``out/runs`` at the end). ``resume=True`` continues from its newest checkpoint.

    Raises:
        BadInput: tokenizers differ; a bad layer map; a loss that needs an MLM head or attention the
            model lacks; a corpus too small for the validation slice or one batch; a batch size not
            divisible by processes x accumulation; a checkpoint from another configuration; an
            existing ``out``; checkpoints present without ``resume``. All before any training.
        Interrupted: SIGINT/SIGTERM (after writing a checkpoint).
    """
    from accelerate import Accelerator

    from ..corpus import CorpusStats

    s = settings or DistillSettings()
    check_new_output(out, overwrite)
    out, work = Path(out), work_dir(out)
    if teacher_spec is None and any(v > 0 for k, v in s.loss.model_dump().items() if k != "mlm"):
        raise BadInput("without a teacher only the MLM loss can be trained; give a teacher or set the other loss weights to 0")
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state()  # a run in the same process (pipeline, two steps) may use other precision
    # without a GPU, processes started by torchrun / accelerate launch form a gloo group on the CPU
    precision, precision_reason = resolve_precision(s.precision)
    acc = Accelerator(mixed_precision="no" if precision == "bf16-teacher" else precision, log_with="tensorboard", project_dir=str(work),
                      cpu=not torch.cuda.is_available())
    world, rank = acc.num_processes, acc.process_index
    sentence_batch = s.sentence_batch_size or s.batch_size
    micro = _per_micro_batch("batch_size", s.batch_size, world, s.grad_accum)
    sentence_micro = _per_micro_batch("sentence_batch_size", sentence_batch, world, s.grad_accum)

    # ---- models: load and check everything before any compute
    s_path = resolve_model(student_spec)
    tok = load_tokenizer(s_path)
    teacher = None
    if teacher_spec is not None:
        t_path = resolve_model(teacher_spec)
        if load_tokenizer(t_path).get_vocab() != tok.get_vocab():
            raise BadInput("teacher and student tokenizers differ; shrink the student from the (trimmed) teacher so they share one vocabulary")
        teacher = load_saved_architecture(t_path).to(acc.device)
        if precision in ("bf16", "bf16-teacher"):  # frozen: inference only, so its weights may be bf16 themselves
            teacher = teacher.to(torch.bfloat16)
        for p in teacher.parameters():
            p.requires_grad_(False)
        check_model(teacher, "teacher", s)
    student = _load_student(s_path, s)
    check_model(student, "student", s)
    check_seq_len(student.config, s.seq_len, "student")
    t_cfg = teacher.config if teacher is not None else student.config
    maps = build_maps(t_cfg, student.config, read_meta(s_path), s) if teacher is not None else Maps([], [], [])
    if s.loss.relations > 0:
        r = s.relation_heads or student.config.num_attention_heads
        if t_cfg.hidden_size % r or student.config.hidden_size % r:
            raise BadInput(f"relation_heads {r} must divide both hidden sizes ({t_cfg.hidden_size}, {student.config.hidden_size}); set relation_heads")

    # ---- data
    cstats = CorpusStats()
    eval_list = list(eval_texts) if eval_texts is not None else None
    langs = {"target": list(corpora), **({"source": list(source_corpora)} if source_corpora else {})}
    streams, val = {}, {}
    for name, cs in langs.items():
        make = (lambda cs=cs: token_chunks(tok, cs, s.seq_len, s.text_column, eval_list, cstats))
        val[name] = validation_slice(make, s.val_batches, s.batch_size, s.seq_len, name)
        streams[name] = Stream(make, s.batch_size, reserved=s.val_batches * s.batch_size, name=name)
        streams[name].peek()  # fails now if no training batch is left after the validation slice
    mixer = Mixer(streams["target"], streams.get("source"), s.source_ratio)
    if not s.loss.token_level():
        val = {}
    sentences, pstats, sentence_counts = None, None, None
    if s.loss.parallel > 0 and parallel is None:
        raise BadInput("the parallel loss needs parallel text; give --parallel SOURCE_FILE,TARGET_FILE (recipe: [data] parallel = [source, target]) or set its weight to 0")
    if s.loss.sentence_level():
        from ..prompts import model_prompts
        from ..parallel import ParallelStats, read_parallel

        if parallel is not None:
            pstats = ParallelStats()
            pairs = read_parallel(parallel[0], parallel[1], text_column=s.text_column, eval_texts=eval_list, stats=pstats)
            mono = []
            if s.monolingual_share > 0:  # a sentence is its own translation: S(t) ~ T(t) in every sentence loss
                n = min(s.sentences, round(len(pairs) * s.monolingual_share / (1 - s.monolingual_share)))
                mono = [(g, g) for g in target_texts(corpora, s.text_column, eval_list, n, s.passage_share, s.passage_words)]
            pairs += mono
        else:
            pairs = mono = monolingual_sentences(corpora, source_corpora, s.sentences, s.source_ratio, s.text_column, eval_list,
                                                 s.passage_share, s.passage_words)
        sentence_counts = {"pairs": len(pairs), "monolingual": len(mono)}
        prompt = model_prompts(t_path).get("query", "")
        sentences = SentenceStream(tok, pairs, sentence_batch, s.val_batches * sentence_batch, s.seq_len, prompt, s.seed,
                                   group_by_length=s.group_by_length)
        val["sentences"] = sentences.validation(s.val_batches)

    # ---- projection, optimizer, schedule
    torch.manual_seed(s.seed)
    random.seed(s.seed)
    basis, kind = load_basis(s_path)
    hs, ht = student.config.hidden_size, t_cfg.hidden_size
    fixed = None
    if teacher is not None and hs != ht and s.hidden_projection == "pca":
        if kind == "pca" and basis is not None:
            fixed = basis
        else:  # the teacher's states on the first training batch
            from ..shrink.basis import hidden_states_sample, pca_basis

            fixed = pca_basis(hidden_states_sample(teacher, [streams["target"].peek()]), hs)
        fixed = fixed.float().to(acc.device)
    dm = DistillModel(student, maps, s, ht, basis if s.hidden_projection == "learned" else None)
    if s.trainable == "mlm_head":
        freeze_all_but_head(student)
    if s.grad_checkpointing:
        if hasattr(student, "activation_checkpointing_enable"):  # transformers 5
            student.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            student.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    params = [p for p in dm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay, fused=True)  # one kernel, CPU or GPU
    warm = max(1, int(s.warmup_ratio * s.steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min((i + 1) / warm, max(0.0, (s.steps - i) / max(1, s.steps - warm))))

    # ---- resume or start
    fingerprint = {"settings": settings_hash({k: v for k, v in s.model_dump().items() if k != "checkpoint_every"}),
                   "teacher": str(teacher_spec), "student": str(student_spec),
                   "corpora": settings_hash({k: [str(c) for c in v] for k, v in langs.items()},
                                            [str(p) for p in parallel] if parallel else None),
                   "decontaminated": settings_hash(eval_list)}
    found = ck.checkpoints(work)
    run = TrainState()
    if resume and found:
        state, model_state, opt_state, rng = ck.load_checkpoint(found[-1], rank, fingerprint)
        dm.load_state_dict(model_state)
        opt.load_state_dict(opt_state)
        sched.load_state_dict({**state["scheduler"], "lr_lambdas": [None]})
        torch.set_rng_state(rng)
        mixer.load_state(state["data"])
        if sentences is not None:
            sentences.position = state["data"]["sentences"]
        run = TrainState.from_dict(state["run"])
        if acc.is_main_process:
            console.print(f"  distill: resuming at step {run.step} from {found[-1]}")
    elif found:
        raise BadInput(f"{work} holds checkpoints of an earlier run; pass --resume to continue it, or delete {work} to start over")
    elif resume and acc.is_main_process:
        console.print(f"  distill: no checkpoint in {work}; starting from step 0")
    work.mkdir(parents=True, exist_ok=True)

    dm, opt = acc.prepare(dm, opt)
    raw = acc.unwrap_model(dm)
    special = set(tok.all_special_ids)
    masking = s.loss.needs_masking()
    acc.init_trackers("runs")

    def masked(ids: torch.Tensor, seed: int):
        if not masking:
            return ids
        return mask_tokens(ids, torch.Generator().manual_seed(seed), tok.mask_token_id, len(tok), special, s.mask_prob)

    def micro_loss(model, batch, denominator, sent=None, timed=lambda name: contextlib.nullcontext()):
        """The loss of one micro-batch: token chunks ``batch`` (None: no token-level loss) and
        sentence pairs ``sent`` (None: no sentence loss)."""
        ids = pos = None
        if batch is not None:
            ids = (batch.input_ids if masking else batch).to(acc.device)
            pos = batch.positions.to(acc.device) if masking else None
        sent = sent.to(acc.device) if sent is not None else None
        with acc.autocast():
            with timed("teacher forward"):
                to = {}
                if teacher is not None and ids is not None:
                    to = teacher_outputs(teacher, raw, ids, pos, fixed)
                if sent is not None:
                    to.update(teacher_sentence_outputs(teacher, raw, sent, fixed))
            with timed("student forward + loss"):
                so = model(ids, pos, sent)
                out = combined_loss(so, to if teacher is not None else None, raw,
                                    batch.labels.to(acc.device) if masking and batch is not None else None, denominator)
            if raw.training and "emb_src" in to:  # this batch's targets become later batches' negatives
                raw.push_negatives(to["emb_src"])
            return out

    def val_loss() -> dict[str, float]:
        dm.eval()
        res = {}
        with torch.no_grad():
            for name, batches in val.items():
                tot = 0.0
                for i, b in enumerate(batches):
                    if name == "sentences":
                        tot += float(micro_loss(raw, None, None, b)[0])
                        continue
                    mb = masked(b, _step_seed(s.seed, -1 - i))
                    denom = max(1, len(mb.positions)) if masking else None
                    tot += float(micro_loss(raw, mb, denom)[0])
                res[name] = tot / len(batches)
        dm.train()
        return res

    def save_best() -> None:
        st = acc.get_state_dict(dm)  # every process takes part (FSDP gathers the shards); the main one writes
        if acc.is_main_process:
            ck.save_best(work, st)

    def checkpoint(step: int) -> Path:
        state = {"fingerprint": fingerprint, "scheduler": {k: v for k, v in sched.state_dict().items() if k != "lr_lambdas"},
                 "data": {**mixer.state(), **({"sentences": sentences.position} if sentences else {})}, "run": run.as_dict()}
        return ck.save_checkpoint(work, step, acc, acc.get_state_dict(dm), opt, state)

    def step(i: int) -> dict:
        """One optimizer step's forward and backward: every micro-batch of this process."""
        with timed("data"):
            lang, ids, batch, sent = "sentences", None, None, None
            if s.loss.token_level():
                lang, ids = mixer.next(i)
                batch = masked(ids, _step_seed(s.seed, i))
            if sentences is not None:
                sent = sentences.next()
        denom = max(1, len(batch.positions)) / (world * s.grad_accum) if masking else None
        losses, parts = [], {}
        for a in range(s.grad_accum):
            lo = (a * world + rank) * micro
            mb = shard(batch, lo, lo + micro) if batch is not None else None
            slo = (a * world + rank) * sentence_micro
            ms = sent.rows(slo, slo + sentence_micro) if sent is not None else None
            with contextlib.nullcontext() if a == s.grad_accum - 1 else acc.no_sync(dm):
                loss, terms = micro_loss(dm, mb, denom, ms, timed)
                with timed("student backward"):
                    acc.backward(loss / s.grad_accum)
            losses.append(loss.detach())
            for k, v in terms.items():
                parts[k] = parts.get(k, 0) + v.float() / s.grad_accum
        loss = torch.stack([torch.stack(losses).mean(), *parts.values()])
        if world > 1:  # the global batch's mean of each term
            loss = acc.reduce(loss, "mean")
        run.tokens += (ids.numel() if ids is not None else 0) + (sent.tokens() if sent is not None else 0)
        return {"lang": lang, "loss": round(loss[0].item(), 6), **{k: round(float(x), 6) for k, x in zip(parts, loss[1:])}}

    def validate() -> tuple[float, dict[str, float]]:
        v = val_loss()
        return sum(v.values()) / len(v), v

    def any_process(stop: bool) -> bool:
        flag = torch.tensor(float(stop), device=acc.device)
        return (acc.reduce(flag, "sum") if world > 1 else flag).item() > 0

    def load_best() -> None:
        from safetensors.torch import load_file

        raw.load_state_dict(load_file(str(work / "best.safetensors")))

    timed = Phases(run.phases, acc.device)
    t_resume, tok0 = time.perf_counter(), run.tokens
    keep = Keeper(save_best, load_best) if s.keep_best and s.val_every else None
    dm.train()
    run = train(step, opt, sched, s.steps, state=run, clip=lambda: acc.clip_grad_norm_(params, s.max_grad_norm),
                validation=Validation(validate, every=s.val_every, patience=s.patience, before=True, keep=keep, last_wins_ties=True),
                checkpoint=checkpoint, checkpoint_every=s.checkpoint_every, log=lambda rec, i: acc.log(rec, step=i),
                show=lambda st: {"tok_s": f"{(st.tokens - tok0) / max(1e-9, time.perf_counter() - t_resume):,.0f}"},
                any_process=any_process, description="adapt" if teacher is None else "distill",
                progress=progress and acc.is_main_process, device=acc.device)
    final = {k: x for k, x in run.validations[-1].items() if k != "step"}
    chosen = run.best["step"] if keep is not None else run.step
    if acc.is_main_process:
        h = run.history
        with atomic_dir(out, overwrite=overwrite) as tmp:
            raw.student.eval().save_pretrained(tmp)
            save_tokenizer(tok, tmp)
            if fixed is not None:  # the basis the student was distilled in: task distillation's hidden-state loss reads it
                save_file({"projection": fixed.float().contiguous()}, str(tmp / PROJECTION_FILE), metadata={"kind": "pca"})
            if (work / "runs").is_dir():
                shutil.copytree(work / "runs", tmp / "runs")
            stats = {"val_loss_before": {k: v for k, v in run.validations[0].items() if k != "step"}, "val_loss_after": final, "chosen_step": chosen,
                     "stopped_early": run.stopped_early, "steps_run": run.step,
                     "train_loss_first": h[0]["loss"], "train_loss_last": h[-1]["loss"], "tokens": run.tokens,
                     "seconds": round(run.seconds, 1), "tokens_per_second": round(run.tokens / max(run.seconds, 1e-9), 1),
                     "processes": world, "precision": precision, "precision_reason": precision_reason, "cpu": cpu_model(),
                     **({"parallel_text": pstats.as_dict()} if pstats else {}),
                     **({"sentences": sentence_counts} if sentence_counts else {}), "seconds_by_phase": {k: round(v, 2) for k, v in run.phases.items()}, "layer_map": maps.hidden, "teacher_heads": maps.heads,
                     "corpus": cstats.as_dict(), "validations": run.validations, "history": h}
            write_meta(tmp, "distill" if teacher is not None else "adapt", str(student_spec),
                       {"teacher": str(teacher_spec), "corpora": [portable_path(c) for c in corpora],
                        "source_corpora": [portable_path(c) for c in source_corpora], "decontaminated": eval_list is not None,
                        "parallel": [portable_path(p) for p in parallel] if parallel else None,
                        **s.model_dump()}, stats, corpus_files=corpus_files([*corpora, *source_corpora]))
    acc.wait_for_everyone()
    acc.end_training()
    if acc.is_main_process:
        shutil.rmtree(work, ignore_errors=True)
    return out
