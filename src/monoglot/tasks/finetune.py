"""Fine-tune a model directory on one task and score it: the same recipe for every model.

Recipe: a fresh classification head (seeded), AdamW with linear warmup/decay, length-bucketed
batches with dynamic padding, the word-embedding matrix frozen by default, the best epoch chosen
on the DEV split by the task's primary metric (:attr:`TaskData.metric`: macro-F1 for sequence tasks,
entity F1 for BIO-tagged token tasks such as NER, accuracy for other token tasks), that state
scored on TEST.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import BadInput
from ..positions import max_sequence_length
from .metrics import accuracy, entity_scores, macro_f1, token_accuracy
from .pooling import resolve_pooling, use_mean_pooling
from .readers import TaskData, load_task
from .settings import FinetuneSettings


@dataclass
class Encoded:
    """One split, tokenized: ``ids[i]`` sub-word ids; ``labels[i]`` a class id (sequence) or a
    per-sub-word list with -100 off first sub-words (token); ``first[i]`` (token tasks) the sub-word
    position of each word's first piece, -1 if truncated away; ``truncated`` counts truncated
    examples (sequence) or words (token)."""

    ids: list[list[int]]
    labels: list
    first: list[list[int]] | None
    truncated: int


def encode(tokenizer, task: TaskData, split: str, max_length: int) -> Encoded:
    """Tokenize one split of ``task`` with truncation to ``max_length`` sub-words."""
    examples = task.splits[split]
    label_id = {label: i for i, label in enumerate(task.labels)}
    if task.kind == "sequence":
        texts = [text for text, _ in examples]
        ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
        full = tokenizer(texts, truncation=False)["input_ids"] if texts else []
        truncated = sum(len(a) < len(b) for a, b in zip(ids, full))
        return Encoded(ids, [label_id[label] for _, label in examples], None, truncated)
    enc = tokenizer([tokens for tokens, _ in examples], is_split_into_words=True, truncation=True, max_length=max_length)
    all_labels, all_first, truncated = [], [], 0
    for i, (tokens, tags) in enumerate(examples):
        first = [-1] * len(tokens)
        labels = [-100] * len(enc["input_ids"][i])
        prev = None
        for pos, w in enumerate(enc.word_ids(i)):
            if w is not None and w != prev:
                first[w] = pos
                labels[pos] = label_id[tags[w]]
            prev = w
        truncated += first.count(-1)
        all_labels.append(labels)
        all_first.append(first)
    return Encoded(enc["input_ids"], all_labels, all_first, truncated)


def with_unlabeled(train: Encoded, tokenizer, texts: list[str], max_length: int) -> Encoded:
    """``train`` (a sequence task's) followed by ``texts`` tokenized with truncation to ``max_length``
    sub-words, labelled -100 (no gold label: the transfer set of task distillation, see
    :mod:`.transfer`); truncated texts are not counted in ``truncated``."""
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"] if texts else []
    return Encoded(train.ids + ids, train.labels + [-100] * len(ids), None, train.truncated)


def batches(lengths: list[int], batch_size: int, rng: random.Random | None) -> list[list[int]]:
    """Group example indices into batches of similar length to minimise padding.

    With ``rng``: shuffle, sort within chunks of 50 batches, cut, shuffle the batches (training).
    Without: sort everything by length (evaluation; deterministic).
    """
    order = list(range(len(lengths)))
    if rng is None:
        order.sort(key=lambda i: lengths[i])
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(order)
    chunk = batch_size * 50
    out = []
    for c in range(0, len(order), chunk):
        part = sorted(order[c:c + chunk], key=lambda i: lengths[i])
        out.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(out)
    return out


def collate(data: Encoded, idx: list[int], pad_id: int, token: bool) -> dict[str, torch.Tensor]:
    """Pad the examples ``idx`` to the batch's longest: ``input_ids``/``attention_mask``/``labels``,
    each ``[batch, longest]`` (``labels`` is ``[batch]`` for sequence tasks)."""
    width = max(len(data.ids[i]) for i in idx)
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    labels = torch.full((len(idx), width), -100, dtype=torch.long) if token else torch.tensor([data.labels[i] for i in idx])
    for row, i in enumerate(idx):
        n = len(data.ids[i])
        ids[row, :n] = torch.tensor(data.ids[i])
        mask[row, :n] = 1
        if token:
            labels[row, :n] = torch.tensor(data.labels[i])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def predict(model, data: Encoded, pad_id: int, batch_size: int, token: bool) -> list:
    """Class-id predictions: one int per example (sequence) or a list per sentence with one int per
    word, ``None`` for words truncated away (token)."""
    model.eval()
    preds: list = [None] * len(data.ids)
    with torch.inference_mode():
        for idx in batches([len(x) for x in data.ids], batch_size, None):
            b = collate(data, idx, pad_id, token)
            best = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits.argmax(-1).tolist()
            for row, i in enumerate(idx):
                preds[i] = [best[row][p] if p >= 0 else None for p in data.first[i]] if token else best[row]
    return preds


def score(task: TaskData, split: str, preds: list) -> dict[str, float]:
    """Metrics of ``preds`` (class ids, as from :func:`predict`) against ``task.splits[split]``,
    fractions in [0, 1], always including ``task.metric`` (the primary one):

    - sequence tasks: ``accuracy``, ``macro_f1``;
    - entity tasks (``task.metric == "entity_f1"``, BIO tags): ``entity_f1``, ``entity_precision``,
      ``entity_recall`` (seqeval) and word ``accuracy``;
    - other token tasks: ``accuracy`` and ``upos_accuracy`` (the same number).

    Words truncated away (``None``) count as wrong (as ``O`` for entities).
    """
    names = task.labels
    gold = [y for _, y in task.splits[split]]
    if task.kind == "sequence":
        pred = [names[p] for p in preds]
        return {"accuracy": accuracy(gold, pred), "macro_f1": macro_f1(gold, pred)}
    pred = [[names[p] if p is not None else None for p in sent] for sent in preds]
    acc = token_accuracy(gold, pred)
    if task.metric == "entity_f1":
        ent = entity_scores(gold, pred)
        return {"entity_f1": ent["f1"], "entity_precision": ent["precision"], "entity_recall": ent["recall"],
                "accuracy": acc}
    return {"accuracy": acc, "upos_accuracy": acc}


def majority_label(task: TaskData) -> str:
    """The most frequent train label (ties: first in ``labels``)."""
    if task.kind == "sequence":
        counts = Counter(y for _, y in task.splits["train"])
    else:
        counts = Counter(t for _, tags in task.splits["train"] for t in tags)
    return max(task.labels, key=lambda label: (counts[label], -task.labels.index(label)))


def majority_baseline(task: TaskData) -> float:
    """Test accuracy of always predicting the most frequent train label (ties: first in ``labels``)."""
    top = majority_label(task)
    if task.kind == "sequence":
        gold = [y for _, y in task.splits["test"]]
    else:
        gold = [t for _, tags in task.splits["test"] for t in tags]
    return accuracy(gold, [top] * len(gold))


def majority_score(task: TaskData, split: str) -> float:
    """The primary metric (:attr:`TaskData.metric`) on ``split`` of always predicting the majority
    label: the score a model has while it has not started to learn the task."""
    top = task.labels.index(majority_label(task))
    examples = task.splits[split]
    preds = [top] * len(examples) if task.kind == "sequence" else [[top] * len(tags) for _, tags in examples]
    return score(task, split, preds)[task.metric]


@contextlib.contextmanager
def _quiet_transformers():
    from transformers.utils import logging as hf_logging
    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def load_for_task(model_dir: str | Path, task: TaskData, seed: int, pooling: str = "cls"):
    """Load ``(tokenizer, model)`` with a fresh ``len(task.labels)``-way head, seeded by ``seed``,
    through monoglot's one loading path (:func:`monoglot.teachers.loader.load_pretrained`:
    safetensors only unless pickles are allowed). A sequence head reads the first token
    (``pooling="cls"``) or the mean over the tokens (``"mean"``; ``"auto"``: the directory's own
    pooling), see :mod:`.pooling`.

    Raises:
        BadInput: the model or tokenizer cannot be loaded, a token task gets a slow tokenizer, or
            ``pooling="mean"`` a model family without first-token heads (:func:`.pooling.resolve_pooling`).
    """
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    from ..teachers.loader import load_pretrained, load_tokenizer

    cls = AutoModelForSequenceClassification if task.kind == "sequence" else AutoModelForTokenClassification
    with _quiet_transformers():
        tokenizer = load_tokenizer(model_dir, require_fast=False)
        torch.manual_seed(seed)
        model = load_pretrained(cls, model_dir, num_labels=len(task.labels), ignore_mismatched_sizes=True,
                                id2label=dict(enumerate(task.labels)),
                                label2id={label: i for i, label in enumerate(task.labels)})
    if task.kind == "token" and not getattr(tokenizer, "is_fast", False):
        raise BadInput(f"model {model_dir} has no fast tokenizer (tokenizer.json); token tasks need word_ids()")
    if task.kind == "sequence" and resolve_pooling(pooling, model_dir, model.config) == "mean":
        use_mean_pooling(model)
    return tokenizer, model


def fit(model, task: TaskData, train: Encoded, dev: Encoded, settings: FinetuneSettings, pad_id: int, *,
        extra_loss: Callable | None = None, after_step: Callable[[], None] | None = None,
        progress: bool = True, label: str | None = None) -> dict[str, Any]:
    """Train ``model`` on ``train`` for ``settings.epochs`` epochs (fewer with ``settings.patience``:
    early stopping on dev, counting only epochs whose dev score beats the majority class's, since
    on an imbalanced task such as AfriSenti a model predicts the majority class for several epochs
    before it learns) and keep the epoch best on ``dev``.

    AdamW (no decay on biases and LayerNorms) with linear warmup and decay, length-bucketed
    shuffled batches. ``extra_loss(model, batch) -> loss`` replaces the loss (task
    distillation); ``after_step()`` runs after each optimizer step (LT-SFT restores the masked-out
    weights there). On return the model holds the best epoch's trainable weights.

    Returns:
        ``{"dev_metrics", "best_epoch" (1-based), "epochs_run", "dev_curve" (the primary dev metric at
        each validation), "train_seconds", "eval_seconds"}``.
    """
    from ..training import Validation, in_memory, train as run_steps

    token = task.kind == "token"
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": settings.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ], lr=settings.lr)
    steps_per_epoch = -(-len(train.ids) // settings.batch_size)
    total = steps_per_epoch * settings.epochs
    warmup = int(settings.warmup_ratio * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / (warmup + 1) if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))
    rng = random.Random(settings.seed)
    lengths = [len(x) for x in train.ids]
    epoch: list[list[int]] = []

    def step(i: int) -> dict:
        if not epoch:  # a new epoch: reshuffled length buckets
            epoch.extend(batches(lengths, settings.batch_size, rng))
        b = collate(train, epoch.pop(0), pad_id, token)
        loss = extra_loss(model, b) if extra_loss is not None else model(**b).loss
        loss.backward()
        return {"loss": loss.item()}

    def validate() -> tuple[float, dict[str, float]]:
        dev_metrics = score(task, "dev", predict(model, dev, pad_id, 2 * settings.batch_size, token))
        model.train()
        return dev_metrics[task.metric], dev_metrics

    model.train()
    st = run_steps(step, optimizer, schedule, total, after_step=after_step, progress=progress, transient=True, description=label or task.name,
               validation=Validation(validate, every=steps_per_epoch if settings.eval_every_epoch else 0, higher_is_better=True,
                                     patience=settings.patience, keep=in_memory(model),
                                     learning_from=majority_score(task, "dev") if settings.patience else None))
    eval_s = st.phases.get("validation", 0.0)
    return {"dev_metrics": {k: v for k, v in st.best.items() if k not in ("step", "score")},
            "best_epoch": -(-st.best["step"] // steps_per_epoch), "epochs_run": -(-st.step // steps_per_epoch),
            "dev_curve": [v[task.metric] for v in st.validations], "train_seconds": st.seconds - eval_s, "eval_seconds": eval_s}


def subsample_train(task: TaskData, limit: int | None, seed: int = 0) -> TaskData:
    """``task`` with at most ``limit`` train examples: a random sample (fixed ``seed``, the same for
    every model and run), kept in file order; dev and test untouched."""
    train = task.splits["train"]
    if limit is None or len(train) <= limit:
        return task
    keep = sorted(random.Random(seed).sample(range(len(train)), limit))
    return dataclasses.replace(task, splits={**task.splits, "train": [train[i] for i in keep]})


def check_splits(task: TaskData) -> None:
    """Raise :class:`BadInput` unless ``task`` has train, dev and test splits."""
    missing = [split for split in ("train", "dev", "test") if split not in task.splits]
    if missing:
        raise BadInput(f"task {task.name} has no {' or '.join(missing)} split; fine-tuning needs train, dev and "
                       f"test (use a task that ships them, or supply the missing files)")


def evaluate_task(model_dir: str | Path, task: str | TaskData, settings: FinetuneSettings | None = None,
                  data_root: str | Path | None = None, progress: bool = True, teacher: Any = None,
                  save_to: str | Path | None = None, transfer: list[str] | None = None) -> dict[str, Any]:
    """Fine-tune ``model_dir`` on the train split of ``task`` with ``settings.method``, pick the best
    epoch on dev, score it on test (one seed: ``settings.seed``).

    Methods: ``full`` fine-tuning; ``lt-sft`` (lottery-ticket sparse fine-tuning, BiStil phase 2,
    see :mod:`.methods`); ``lora`` (peft, frozen body). With ``teacher`` (a task-tuned teacher model
    sharing the tokenizer, see :mod:`.task_distill`) the loss is task distillation.

    Args:
        model_dir: a local model directory (or hub id) with a tokenizer; BERT or XLM-R family.
        task: ``FAMILY:LANG`` (read with :func:`load_task`), ``SRC->TGT`` for zero-shot transfer
            (see :func:`~monoglot.tasks.readers.load_task`), or a :class:`TaskData`.
        settings: the recipe; default :class:`FinetuneSettings()`.
        data_root: where task names are resolved (default :func:`monoglot.paths.data_root`).
        progress: show a transient rich progress bar.
        teacher: a fine-tuned task model (or its directory) whose logits (and hidden states) the
            student learns from.
        save_to: write the fine-tuned task model (merged, for LoRA) and tokenizer there.
        transfer: with ``teacher``, on a sequence task: unlabeled sentences added to the training
            set with the teacher's soft labels only (the transfer set, :mod:`.transfer`); an epoch
            passes over both.

    Returns:
        ``{"task", "kind", "model", "method", "metric" (the primary metric's key in "metrics"),
        "metrics" (test), "dev_metrics" (best epoch), "best_epoch" (1-based), "train_seconds"
        (optimizer steps only), "eval_seconds" (dev + test scoring), "threads" (torch's intra-op
        threads: CPU scores are reproducible at the same count), "n_train", "n_dev", "n_test",
        "n_transfer" (transfer-set sentences trained on), "majority_baseline" (test accuracy),
        "truncated" ({split: examples (sequence) or words (token) cut by truncation; test words cut
        are counted wrong}), "settings"}`` plus
        method details (``"lt_sft"``: kept parameters and density). Metrics are fractions in [0, 1].

    Raises:
        BadInput: from :func:`load_task` or :func:`load_for_task`; a task without a train, dev or
            test split; ``transfer`` without a ``teacher`` or on a token task.
    """
    from . import methods

    settings = settings or FinetuneSettings()
    task = load_task(task, data_root) if isinstance(task, str) else task
    check_splits(task)
    if transfer and (teacher is None or task.kind != "sequence"):
        raise BadInput(f"a transfer set needs a task teacher to label it and a sentence task; {task.name} is a {task.kind} task"
                       + ("" if teacher is not None else " and no teacher was given") + ": drop the transfer set")
    task = subsample_train(task, settings.max_train_examples)
    token = task.kind == "token"
    tokenizer, model = load_for_task(model_dir, task, settings.seed, settings.pooling)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    train_len = min(settings.max_length, max_sequence_length(model.config))
    eval_len = max_sequence_length(model.config) if token else train_len
    train = encode(tokenizer, task, "train", train_len)
    dev, test = encode(tokenizer, task, "dev", eval_len), encode(tokenizer, task, "test", eval_len)
    n_gold = len(train.ids)
    if transfer:
        train = with_unlabeled(train, tokenizer, transfer, train_len)

    if settings.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    extra = None
    if teacher is not None:
        from .task_distill import load_task_teacher, task_distillation_loss

        teacher = load_task_teacher(teacher) if isinstance(teacher, (str, Path)) else teacher
        extra = task_distillation_loss(teacher, model, settings, model_dir if Path(model_dir).is_dir() else None)
    details: dict[str, Any] = {}
    if settings.method == "lora":
        model = methods.with_lora(model, settings)
    if settings.method == "lt-sft":
        fitted, details["lt_sft"] = methods.lt_sft(model, lambda m, **kw: fit(m, task, train, dev, settings, pad_id,
                                                                              extra_loss=extra, progress=progress, **kw),
                                                   settings.density)
    else:
        fitted = fit(model, task, train, dev, settings, pad_id, extra_loss=extra, progress=progress)
    if settings.method == "lora":
        model = model.merge_and_unload()
    t0 = time.perf_counter()
    test_metrics = score(task, "test", predict(model, test, pad_id, 2 * settings.batch_size, token))
    eval_s = fitted["eval_seconds"] + time.perf_counter() - t0
    if save_to is not None:
        model.save_pretrained(save_to)
        tokenizer.save_pretrained(save_to)
    return {
        "task": task.name, "kind": task.kind, "model": str(model_dir), "method": settings.method + ("+distill" if teacher is not None else ""),
        "metric": task.metric, "metrics": test_metrics, "dev_metrics": fitted["dev_metrics"], "best_epoch": fitted["best_epoch"], "epochs_run": fitted.get("epochs_run"), "dev_curve": fitted.get("dev_curve"),
        "train_seconds": round(fitted["train_seconds"], 2), "eval_seconds": round(eval_s, 2),
        "threads": torch.get_num_threads(),  # CPU results depend on it (the order of floating-point sums)
        "n_train": n_gold, "n_transfer": len(train.ids) - n_gold, "n_dev": len(dev.ids), "n_test": len(test.ids),
        "majority_baseline": majority_baseline(task),
        "truncated": {"train": train.truncated, "dev": dev.truncated, "test": test.truncated},
        "settings": settings.model_dump(), **details,
    }
