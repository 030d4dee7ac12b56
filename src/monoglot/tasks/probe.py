"""Frozen-encoder probes with MTEB's protocol: one forward pass per split, nothing to tune.

:func:`probe_model` is the entry point (CLI ``monoglot evaluate --method probe`` and a recipe's
``method = "probe"``). A task spec is one of:

- a sentence-classification task (``sib200:swh_Latn``, ``masakhanews:swa``, ``afrisenti:swa``,
  ``SRC->TGT`` zero-shot such as ``sib200:eng_Latn->sib200:swh_Latn``): MTEB's classification
  protocol, :func:`classification_probe`;
- a token task (``masakhapos:swa``, ``masakhaner2:swa``, ``ud:UD_English-LinES->masakhapos:swa``):
  a linear probe on each word's first sub-word, :func:`monoglot.tasks.token_probe.token_probe`;
- ``flores:SRC-TGT`` or ``bitext:FILE1,FILE2``: bitext mining,
  :func:`monoglot.tasks.bitext.bitext_probe`.

Sentence embeddings are :mod:`monoglot.embeddings` (the model's query prompt, mean pooling over
real tokens, L2 normalisation), as MTEB's e5 wrapper computes them.

Why not the ``mteb`` package itself: it needs 13 more packages (``datasets``, ``pyarrow``,
``pandas``, ``polars``, ``sentence-transformers``, ...) and loads its tasks from the Hugging Face hub
by revision; this module reproduces its protocol on the local task files with scikit-learn and
cites the mteb source it follows.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import BadInput
from .readers import TaskData, load_task, train_split_of

N_EXPERIMENTS = 10
"""MTEB ``AbsTaskClassification``: ``n_experiments`` default (mteb/abstasks/AbsTaskClassification.py)."""
SAMPLES_PER_LABEL = 8
"""MTEB ``AbsTaskClassification``: ``samples_per_label`` default."""
MAX_LENGTH = 512
"""Sub-word tokens per text at most: the ``max_seq_length`` of the e5 models in MTEB (longer texts,
e.g. MasakhaNEWS articles, are truncated)."""
MAX_ITER = 100
"""MTEB ``logRegClassificationEvaluator``: ``LogisticRegression(max_iter=100)``
(mteb/evaluation/evaluators/ClassificationEvaluator.py)."""


def undersample(labels: Sequence, samples_per_label: int, rng: np.random.RandomState,
                idxs: np.ndarray | None = None) -> tuple[list[int], np.ndarray]:
    """MTEB's ``AbsTaskClassification._undersample_data``: shuffle ``idxs`` in place (all indices
    on the first call; the SAME array, reshuffled, on later calls, as MTEB does across its
    experiments), then keep the first ``samples_per_label`` examples of each label in that order.

    Returns:
        ``(kept indices into labels, idxs)``; pass ``idxs`` back for the next experiment.
    """
    if idxs is None:
        idxs = np.arange(len(labels))
    rng.shuffle(idxs)
    seen: dict = defaultdict(int)
    kept = []
    for i in idxs:
        if seen[labels[i]] < samples_per_label:
            kept.append(int(i))
            seen[labels[i]] += 1
    return kept, idxs


def _fit_score(x_train: np.ndarray, y_train: list, x_test: np.ndarray, y_test: list, seed: int) -> dict[str, float]:
    """MTEB's ``logRegClassificationEvaluator``: ``LogisticRegression(random_state=seed,
    max_iter=100)`` fitted on the train embeddings, test ``accuracy`` and ``macro_f1``
    (sklearn ``f1_score(average="macro")``), fractions in [0, 1]."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    clf = LogisticRegression(random_state=seed, max_iter=MAX_ITER)
    with warnings.catch_warnings():  # MTEB runs 100 iterations whether or not lbfgs converged
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_train, y_train)
    pred = clf.predict(x_test)
    return {"accuracy": float(accuracy_score(y_test, pred)), "macro_f1": float(f1_score(y_test, pred, average="macro"))}


def majority(task: TaskData, train_split: str = "train") -> dict[str, float]:
    """The majority-class baseline on test: always the most frequent ``train_split`` label (ties:
    first in ``task.labels``); ``accuracy`` and ``macro_f1``, fractions in [0, 1]."""
    from .metrics import accuracy, macro_f1

    counts = Counter(y for _, y in task.splits[train_split])
    top = max(task.labels, key=lambda label: (counts[label], -task.labels.index(label)))
    gold = [y for _, y in task.splits["test"]]
    return {"accuracy": accuracy(gold, [top] * len(gold)), "macro_f1": macro_f1(gold, [top] * len(gold))}


def classification_probe(embed, task: TaskData, *, seed: int = 42, n_experiments: int = N_EXPERIMENTS,
                         samples_per_label: int = SAMPLES_PER_LABEL) -> dict[str, Any]:
    """MTEB's classification protocol on frozen sentence embeddings.

    ``n_experiments`` times: draw ``samples_per_label`` training examples per label
    (:func:`undersample`, one ``np.random.RandomState(seed)`` for all draws, as MTEB seeds numpy
    with 42 when a task is made), fit ``LogisticRegression(max_iter=100)``, score the test split.
    Also the full-train variant: one fit on every training example.

    Follows mteb 1.12 ``mteb/abstasks/AbsTaskClassification.py`` (``_evaluate_subset``,
    ``_undersample_data``) and ``mteb/evaluation/evaluators/ClassificationEvaluator.py``
    (``logRegClassificationEvaluator``); the task definitions ``SIB200Classification``,
    ``MasakhaNEWSClassification``, ``AfriSentiClassification`` all evaluate the ``test`` split with
    ``accuracy`` as main score and train on ``train`` (none of the Swahili test sets exceeds the
    2,048 examples AfriSenti's transform keeps).

    Args:
        embed: ``embed(texts) -> (n, H)`` array of L2-normalised sentence embeddings.
        task: a sequence task; trains on :func:`train_split_of`, tests on ``test``.

    Returns:
        ``{"metrics", "std", "runs", "majority", "n_train", "n_test", "train_split"}``; ``metrics``
        holds ``accuracy`` and ``macro_f1`` (mean over the experiments; ``std`` their population
        standard deviation) and ``accuracy_full_train``, ``macro_f1_full_train`` (std 0); all
        fractions in [0, 1].

    Raises:
        BadInput: a token task, or no train/dev split.
    """
    if task.kind != "sequence":
        raise BadInput(f"task {task.name} is a {task.kind} task; the sentence-classification probe needs a sequence task")
    split = train_split_of(task)
    train, test = task.splits[split], task.splits["test"]
    x_train, x_test = embed([t for t, _ in train]), embed([t for t, _ in test])
    y_train, y_test = [y for _, y in train], [y for _, y in test]
    rng = np.random.RandomState(seed)
    runs, idxs = [], None
    for _ in range(n_experiments):
        kept, idxs = undersample(y_train, samples_per_label, rng, idxs)
        runs.append(_fit_score(x_train[kept], [y_train[i] for i in kept], x_test, y_test, seed))
    full = _fit_score(x_train, y_train, x_test, y_test, seed)
    metrics = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
    std = {k: float(np.std([r[k] for r in runs])) for k in runs[0]}
    for k, v in full.items():
        metrics[f"{k}_full_train"], std[f"{k}_full_train"] = v, 0.0
    return {"metrics": metrics, "std": std, "runs": runs, "majority": majority(task, split),
            "n_train": len(train), "n_test": len(test), "train_split": split}


class _Encoder:
    """One loaded model (and tokenizer) for every task of a :func:`probe_model` call."""

    def __init__(self, model_dir: str | Path, progress: bool):
        from ..prompts import model_prompts
        from ..teachers import load_encoder, load_tokenizer
        from ..positions import max_sequence_length

        self.model_dir = str(model_dir)
        self.model = load_encoder(model_dir)
        self.tokenizer = load_tokenizer(model_dir)
        self.prompt = model_prompts(model_dir).get("query", "")
        self.progress = progress
        self.max_length = min(MAX_LENGTH, max_sequence_length(self.model.config))  # a model with fewer positions than MTEB's 512
        self.cache: dict[str, np.ndarray] = {}  # text -> embedding: tasks share sentences (SIB-200, FLORES)
        self.word_cache: dict = {}  # test split -> word features (token tasks sharing a test split)

    def embed(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), H)`` embeddings; a text embedded before (by any task) is not recomputed."""
        from ..embeddings import encode

        new = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if new:
            self.cache.update(zip(new, encode(self.model, self.tokenizer, new, prompt=self.prompt, progress=self.progress,
                                              max_length=self.max_length)))
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, self.model.config.hidden_size), np.float32)


def probe_task(enc: _Encoder, spec: str, data_root: str | Path | None = None, *, seed: int = 42) -> dict[str, Any]:
    """One task spec with a loaded model; see :func:`probe_model`."""
    from .bitext import bitext_probe, is_bitext

    t0, c0 = time.perf_counter(), time.process_time()
    if is_bitext(spec):
        out = bitext_probe(enc.embed, spec, data_root)
    else:
        task = load_task(spec, data_root)
        if task.kind == "sequence":
            out = classification_probe(enc.embed, task, seed=seed)
        else:
            from .token_probe import token_probe

            out = token_probe(enc.model, enc.tokenizer, task, seed=seed, progress=enc.progress, cache=enc.word_cache)
        out.update({"kind": task.kind, "metric": "accuracy" if task.kind == "sequence" else task.metric})
        out["majority_baseline"] = out["majority"]["accuracy"]
    out.update({"task": spec, "model": enc.model_dir, "method": "probe", "seconds": round(time.perf_counter() - t0, 2),
                "cpu_seconds": round(time.process_time() - c0, 2)})
    return out


def probe_model(model_dir: str | Path, tasks: list[str], data_root: str | Path | None = None, *,
                progress: bool = True, seed: int = 42) -> dict[str, dict]:
    """Probe the frozen encoder in ``model_dir`` on each task spec (see the module docstring).

    The model is loaded once; each task costs one forward pass per split it reads.

    Args:
        model_dir: a model directory (or hub id) with a fast tokenizer.
        tasks: task specs: sentence classification (``sib200:swh_Latn``, ``SRC->TGT``), token
            (``masakhapos:swa``, ``masakhaner2:swa``), bitext (``flores:eng_Latn-swh_Latn``,
            ``bitext:FILE1,FILE2``).
        data_root: where ``FAMILY:LANG`` is resolved (default :func:`monoglot.paths.data_root`).
        progress: show rich progress bars.
        seed: seeds the undersampling and every logistic regression.

    Returns:
        ``{spec: result}``; every result has ``"metrics"`` (FRACTIONS in [0, 1], as the
        fine-tuning results of :mod:`monoglot.tasks.verdict`: means over experiments), ``"std"``
        (same keys), ``"metric"`` (the primary key of ``metrics``: ``accuracy`` for sentence
        classification as in MTEB, ``accuracy`` or ``entity_f1`` for token tasks, ``f1`` for
        bitext), ``"kind"`` (``sequence``/``token``/``bitext``), ``"majority"`` (the same metrics
        for the majority class; chance for bitext), ``"majority_baseline"`` (its accuracy),
        ``"method": "probe"``, ``"seconds"`` (wall time of the task, loading excluded),
        ``"cpu_seconds"`` (CPU time of this process over all its threads: the cost on a shared
        machine), ``"task"``, ``"model"``.

    Raises:
        BadInput: the model cannot be loaded; a bad task spec or task file (before any compute).
    """
    from .bitext import is_bitext, read_bitext

    for spec in tasks:  # fail on a bad spec before the first forward pass
        read_bitext(spec, data_root) if is_bitext(spec) else load_task(spec, data_root)
    enc = _Encoder(model_dir, progress)
    return {spec: probe_task(enc, spec, data_root, seed=seed) for spec in tasks}
