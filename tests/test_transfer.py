"""The transfer set of task distillation: a seeded, decontaminated sample of corpus sentences
(monoglot.tasks.transfer), labelled by the task teacher only (tiny random-initialised BERT models
stand in for the student and the task teacher)."""

from __future__ import annotations

import pytest
import torch

from conftest import make_tiny, toy_task
from monoglot.errors import BadInput
from monoglot.tasks import FinetuneSettings, TaskData, evaluate_task
from monoglot.tasks.transfer import transfer_sentences

FAST = dict(epochs=2, batch_size=16, lr=1e-3, max_length=16)


def sentence(doc: int, i: int, words: int) -> str:
    return " ".join(f"d{doc}s{i}w{k}" for k in range(words)) + "."


@pytest.fixture()
def corpus(tmp_path):
    """40 documents of 3 sentences each: 8, 8 and 3 words."""
    docs = [" ".join(sentence(d, i, n) for i, n in enumerate((8, 8, 3))) for d in range(40)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(docs) + "\n")
    return path


def test_transfer_sentences_are_a_seeded_decontaminated_sample_of_the_whole_corpus(corpus):
    leaked = sentence(30, 0, 8)
    eval_texts = [leaked.replace(".", "") + " tena"]  # shares all 8 words with corpus sentence d30s0
    got = transfer_sentences([corpus], "text", eval_texts, 20, seed=0)
    assert len(got) == 20 == len(set(got))
    assert all(len(s.split()) == 8 for s in got)  # the 3-word sentences are below min_words
    assert leaked not in got
    order = [(int(s[1:s.index("s")]), int(s[s.index("s") + 1])) for s in got]
    assert order == sorted(order)  # corpus order
    assert max(d for d, _ in order) >= 20  # drawn from the whole corpus, not its first documents
    assert transfer_sentences([corpus], "text", eval_texts, 20, seed=0) == got
    assert transfer_sentences([corpus], "text", eval_texts, 20, seed=1) != got
    everything = transfer_sentences([corpus], "text", eval_texts, 1000)
    assert len(everything) == 2 * 40 - 1  # fewer than asked: every clean sentence of 6+ words


def test_transfer_sentences_bad_input(corpus):
    with pytest.raises(BadInput, match="at least 1"):
        transfer_sentences([corpus], "text", None, 0)
    with pytest.raises(BadInput, match="no sentence of 20\\+ words"):
        transfer_sentences([corpus], "text", None, 5, min_words=20)


@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory):
    return make_tiny(tmp_path_factory.mktemp("m") / "bert", "bert", layers=2)


def test_the_transfer_set_trains_on_the_teachers_soft_labels(tiny_bert_dir, tmp_path):
    from monoglot.tasks.task_distill import load_task_teacher, task_distillation_loss

    full = toy_task()
    flipped = TaskData("toy", "sequence", ["a", "b"], {k: [(x, "b" if y == "a" else "a") for x, y in v] for k, v in full.splits.items()})
    evaluate_task(tiny_bert_dir, flipped, FinetuneSettings(**{**FAST, "epochs": 4}), progress=False, save_to=tmp_path / "teacher")
    # 8 gold sentences, and the other 112 train sentences without labels as the transfer set
    task = TaskData("toy", "sequence", ["a", "b"], {**full.splits, "train": full.splits["train"][:8]})
    transfer = [x for x, _ in full.splits["train"][8:]]
    teacher, rows = load_task_teacher(tmp_path / "teacher"), []
    teacher.register_forward_hook(lambda m, args, kwargs, out: rows.append(len(kwargs["input_ids"])), with_kwargs=True)
    s = FinetuneSettings(**{**FAST, "epochs": 3}, distill_alpha=0.0)
    res = evaluate_task(tiny_bert_dir, task, s, progress=False, teacher=teacher, transfer=transfer)
    assert (res["n_train"], res["n_transfer"]) == (8, 112)
    assert sum(rows) == len(set(transfer) | {x for x, _ in task.splits["train"]})  # the teacher labels each sentence once
    majority = sum(y == "b" for _, y in full.splits["test"]) / len(full.splits["test"])
    assert res["metrics"]["accuracy"] == pytest.approx(1 - majority)  # the teacher's class, learned from unlabeled text
    labelled = sum(rows)
    evaluate_task(tiny_bert_dir, task, s.model_copy(update={"seed": 43}), progress=False, teacher=teacher, transfer=transfer)
    assert sum(rows) == labelled  # another run (seed) with the same teacher reuses its soft labels

    # a batch of transfer sentences only (no gold label): the gold term is left out, not NaN
    from transformers import AutoModelForSequenceClassification

    student = AutoModelForSequenceClassification.from_pretrained(tiny_bert_dir, num_labels=2)
    loss = task_distillation_loss(teacher, student, s.model_copy(update={"distill_alpha": 0.5}))
    ids = torch.randint(5, student.config.vocab_size, (4, 7))
    value = loss(student, {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.full((4,), -100)})
    assert torch.isfinite(value) and value > 0


def test_a_transfer_set_needs_a_teacher_and_a_sentence_task(tiny_bert_dir, tmp_path):
    with pytest.raises(BadInput, match="needs a task teacher.*no teacher was given"):
        evaluate_task(tiny_bert_dir, toy_task(), FinetuneSettings(**FAST), progress=False, transfer=["shule ni nzuri sana leo"])
    tagged = TaskData("tags", "token", ["X", "Y"], {k: [(["a", "b"], ["X", "Y"])] * 4 for k in ("train", "dev", "test")})
    with pytest.raises(BadInput, match="tags is a token task"):
        evaluate_task(tiny_bert_dir, tagged, FinetuneSettings(**FAST), progress=False, teacher=tiny_bert_dir, transfer=["a b"])
