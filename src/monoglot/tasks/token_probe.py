"""Token probe: logistic regression on frozen word features (UPOS accuracy, NER entity F1).

A word's feature is the encoder's last hidden state at the word's FIRST sub-word (no prompt), the
same word-to-sub-word alignment that fine-tuning uses (:func:`monoglot.tasks.finetune.encode`).
A multinomial ``LogisticRegression`` is fitted on the words of the train split (a seeded sample of
at most ``max_train_sentences`` sentences, a CPU budget the same for every model) and predicts a tag
per test word; the metrics are those of fine-tuning (:func:`monoglot.tasks.finetune.score`: UPOS
accuracy; entity F1 via seqeval on the predicted BIO tags). This is the linear probing of Hewitt &
Manning-style probing studies (e.g. Tenney et al. 2019, "What do you learn from context?", sec. 3).
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np

from .readers import TaskData, train_split_of

MAX_TRAIN_SENTENCES = 1000
"""Train sentences the token probe fits on at most (MasakhaNER 2.0 swa has 6,593)."""
MAX_ITER = 100
"""``LogisticRegression(max_iter=100)``, as MTEB's classification probe."""


def word_features(model, tokenizer, task: TaskData, split: str, batch_size: int = 32,
                  progress: bool = False) -> tuple[np.ndarray, list[list[int]]]:
    """Last-layer features of every word's first sub-word in ``task.splits[split]``.

    Args:
        model: a transformers encoder (its ``base_model`` is used).
        tokenizer: its FAST tokenizer (``word_ids``).

    Returns:
        ``(features, rows)``: ``features`` ``(n_words_kept, H)`` float32; ``rows[s][w]`` the row of
        word ``w`` of sentence ``s`` in ``features``, or -1 if truncation cut the word away (at the
        model's full length).
    """
    import torch

    from ..progress import bar
    from ..positions import max_sequence_length
    from .finetune import batches, collate, encode

    base = model.base_model.eval()
    enc = encode(tokenizer, task, split, max_sequence_length(model.config))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    rows: list[list[int]] = []  # feature row of each kept word, in sentence order
    n = 0
    for first in enc.first:
        rows.append([])
        for p in first:
            rows[-1].append(n if p >= 0 else -1)
            n += p >= 0
    out = np.zeros((n, base.config.hidden_size), dtype=np.float32)
    with torch.inference_mode(), bar(f"word features ({split})", len(enc.ids), enabled=progress) as advance:
        for idx in batches([len(x) for x in enc.ids], batch_size, None):
            b = collate(enc, idx, pad, True)
            hidden = base(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state
            for row, i in enumerate(idx):
                keep = [(rows[i][w], p) for w, p in enumerate(enc.first[i]) if p >= 0]
                if keep:
                    out[[k for k, _ in keep]] = hidden[row, [p for _, p in keep]].float().numpy()
            advance(len(idx))
    return out, rows


def _sample(task: TaskData, split: str, limit: int | None, seed: int) -> TaskData:
    import dataclasses

    sents = task.splits[split]
    if limit is None or len(sents) <= limit:
        return dataclasses.replace(task, splits={"train": sents})
    keep = sorted(random.Random(seed).sample(range(len(sents)), limit))
    return dataclasses.replace(task, splits={"train": [sents[i] for i in keep]})


def token_probe(model, tokenizer, task: TaskData, *, seed: int = 42, max_train_sentences: int | None = MAX_TRAIN_SENTENCES,
                progress: bool = False, cache: dict | None = None) -> dict[str, Any]:
    """Fit and score the token probe (see the module docstring) on a token ``task``.

    Trains on ``train`` (else ``dev``, :func:`monoglot.tasks.readers.train_split_of`), tests on
    ``test``; a test word cut by truncation counts wrong (``O`` for entities).

    Returns:
        ``{"metrics", "std" (0: one deterministic fit), "majority", "n_train" (sentences),
        "n_train_words", "n_test", "train_split"}``; metrics as
        :func:`monoglot.tasks.finetune.score` (fractions in [0, 1]); ``majority`` the same metrics
        for always predicting the most frequent train tag.

    ``cache`` (a dict kept across calls with the same model) reuses the test features of a test
    split already seen (``masakhapos:swa`` and ``ud:...->masakhapos:swa`` share theirs).

    Raises:
        BadInput: a sequence task, or no train/dev split.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from ..errors import BadInput
    from .finetune import score

    if task.kind != "token":
        raise BadInput(f"task {task.name} is a {task.kind} task; the token probe needs a token task")
    split = train_split_of(task)
    train = _sample(task, split, max_train_sentences, seed)
    label_id = {t: i for i, t in enumerate(task.labels)}
    x_train, rows = word_features(model, tokenizer, train, "train", progress=progress)
    y_train = np.array([label_id[t] for (_, tags), r in zip(train.splits["train"], rows)
                        for t, k in zip(tags, r) if k >= 0])
    key = tuple(tuple(tokens) for tokens, _ in task.splits["test"])
    if cache is not None and key in cache:
        x_test, test_rows = cache[key]
    else:
        x_test, test_rows = word_features(model, tokenizer, task, "test", progress=progress)
        if cache is not None:
            cache[key] = (x_test, test_rows)
    clf = LogisticRegression(random_state=seed, max_iter=MAX_ITER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_train, y_train)
    pred_ids = clf.predict(x_test) if len(x_test) else np.zeros(0, dtype=int)
    preds = [[int(pred_ids[k]) if k >= 0 else None for k in r] for r in test_rows]
    metrics = score(task, "test", preds)
    top = Counter(y_train.tolist()).most_common(1)[0][0]
    majority = score(task, "test", [[top] * len(r) for r in test_rows])
    return {"metrics": metrics, "std": {k: 0.0 for k in metrics}, "majority": majority,
            "n_train": len(train.splits["train"]), "n_train_words": int(len(y_train)),
            "n_test": len(task.splits["test"]), "train_split": split}
