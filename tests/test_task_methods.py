"""Task methods on tiny random-initialised BERT models (fast): LT-SFT's exact density, LoRA, task
distillation, seeds with mean and std, the learning rate chosen on dev; zero-shot task pairs on
the real data."""

from __future__ import annotations


import pytest
import torch
from safetensors.torch import load_file

from conftest import make_tiny, toy_task
from monoglot.errors import BadInput
from monoglot.tasks import FinetuneSettings, TaskData, evaluate, evaluate_task, load_task

FAST = dict(epochs=2, batch_size=16, lr=1e-3, max_length=16)


@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory):
    return make_tiny(tmp_path_factory.mktemp("m") / "bert", "bert", layers=2)


def test_lt_sft_keeps_exactly_the_density_and_resets_the_rest(tiny_bert_dir, tmp_path):
    s = FinetuneSettings(**FAST, method="lt-sft", density=0.05, freeze_embeddings=True)
    res = evaluate_task(tiny_bert_dir, toy_task(), s, progress=False, save_to=tmp_path / "tuned")
    info = res["lt_sft"]
    before = load_file(str(tiny_bert_dir / "model.safetensors"))
    after = load_file(str(tmp_path / "tuned" / "model.safetensors"))
    body = {k: v for k, v in before.items() if "word_embeddings" not in k and not k.startswith("pooler")}
    assert info["body_weights"] == sum(v.numel() for v in body.values())
    assert info["kept"] == round(0.05 * info["body_weights"])
    changed = sum(int((after["bert." + k] != v).sum()) for k, v in body.items())
    assert 0.5 * info["kept"] < changed <= info["kept"]  # only the kept weights moved off theta_0
    assert torch.equal(after["bert.embeddings.word_embeddings.weight"], before["embeddings.word_embeddings.weight"])


def test_lora_trains_and_merges_into_a_plain_model(tiny_bert_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification

    s = FinetuneSettings(**{**FAST, "lr": 5e-3}, method="lora", lora_rank=4)
    res = evaluate_task(tiny_bert_dir, toy_task(), s, progress=False, save_to=tmp_path / "tuned")
    assert res["method"] == "lora"
    m = AutoModelForSequenceClassification.from_pretrained(tmp_path / "tuned")
    assert not any("lora" in n for n, _ in m.named_parameters())
    before = load_file(str(tiny_bert_dir / "model.safetensors"))
    assert not torch.equal(m.bert.encoder.layer[0].attention.self.query.weight, before["encoder.layer.0.attention.self.query.weight"])
    assert torch.equal(m.bert.encoder.layer[0].attention.self.key.weight, before["encoder.layer.0.attention.self.key.weight"])


def test_task_distillation_from_a_task_tuned_teacher(tiny_bert_dir, tmp_path):
    from monoglot.shrink import shrink_to_dir

    task = toy_task()
    # a teacher tuned on the flipped labels: the tiny model learns the (flipped) majority class, "a"
    flipped = TaskData("toy", "sequence", ["a", "b"], {k: [(x, "b" if y == "a" else "a") for x, y in v] for k, v in task.splits.items()})
    evaluate_task(tiny_bert_dir, flipped, FinetuneSettings(**{**FAST, "epochs": 4}), progress=False, save_to=tmp_path / "teacher")
    student = shrink_to_dir(tiny_bert_dir, tmp_path / "student", layers=1, head_strategy="first", ffn_strategy="first",
                            measure=None, progress=False)
    s = FinetuneSettings(**FAST, distill_alpha=0.0, distill_hidden=1.0, distill_attention=1.0)
    soft = evaluate_task(student, task, s, progress=False, teacher=tmp_path / "teacher")
    gold = evaluate_task(student, task, s.model_copy(update={"distill_alpha": 1.0}), progress=False, teacher=tmp_path / "teacher")
    assert soft["method"] == "full+distill"
    majority = sum(y == "b" for _, y in task.splits["test"]) / len(task.splits["test"])
    assert majority > 0.5 and gold["metrics"]["accuracy"] == pytest.approx(majority)  # the gold labels' majority class
    assert soft["metrics"]["accuracy"] == pytest.approx(1 - majority)  # the teacher's soft labels alone: its class, against the gold labels

    # logits only: the frozen teacher runs once per distinct training example, not once per epoch
    from monoglot.tasks.task_distill import load_task_teacher

    teacher, rows = load_task_teacher(tmp_path / "teacher"), []
    teacher.register_forward_hook(lambda m, args, kwargs, out: rows.append(len(kwargs["input_ids"])), with_kwargs=True)
    s3 = FinetuneSettings(**{**FAST, "epochs": 3}, distill_alpha=0.0)
    again = evaluate_task(student, task, s3, progress=False, teacher=teacher)
    assert sum(rows) == len({x for x, _ in task.splits["train"]}) and len(rows) < 3 * 120 / 16
    assert again["metrics"]["accuracy"] == pytest.approx(1 - majority)
    narrow = shrink_to_dir(tiny_bert_dir, tmp_path / "narrow", layers=1, hidden=32, head_strategy="first",
                           ffn_strategy="first", hidden_strategy="truncate", measure=None, progress=False)
    res = evaluate_task(narrow, task, FinetuneSettings(**FAST, distill_hidden=1.0), progress=False, teacher=tmp_path / "teacher")
    assert res["n_test"] == 40  # the saved hidden projection maps the teacher's states to the student's width


def test_seeds_give_mean_and_std_and_the_lr_is_chosen_on_dev_by_first_seed_or_seed_mean(tiny_bert_dir):
    s = FinetuneSettings(**{**FAST, "epochs": 1}, seeds=2, lr_grid=[1e-6, 3e-3])
    res = evaluate(tiny_bert_dir, toy_task(), s, progress=False)
    assert [r["seed"] for r in res["runs"]] == [42, 43]
    m = [r["metrics"]["macro_f1"] for r in res["runs"]]
    assert res["metrics"]["macro_f1"] == pytest.approx(sum(m) / 2)
    assert res["std"]["macro_f1"] == pytest.approx(abs(m[0] - m[1]) / 2)
    assert set(res["lr_search"]) == {"1e-06", "0.003"}
    assert res["lr"] == max((float(k) for k in res["lr_search"]), key=lambda k: res["lr_search"][str(k)])

    # seed-mean: every seed at every rate, the best mean dev score wins
    first = res
    res = evaluate(tiny_bert_dir, toy_task(), s.model_copy(update={"lr_selection": "seed-mean"}), progress=False)
    assert res["lr_selection"] == "seed-mean" and set(res["lr_search_runs"]) == {"1e-06", "0.003"}
    for lr, runs in res["lr_search_runs"].items():
        assert [r["seed"] for r in runs] == [42, 43]
        assert res["lr_search"][lr] == pytest.approx(sum(r["dev_metrics"]["macro_f1"] for r in runs) / 2)
        assert runs[0]["dev_metrics"]["macro_f1"] == pytest.approx(first["lr_search"][lr])  # seed 42: the same run either way
    assert res["lr"] == max((float(k) for k in res["lr_search"]), key=lambda k: res["lr_search"][str(k)])
    assert res["runs"] == res["lr_search_runs"][str(res["lr"])]
    assert res["metrics"]["macro_f1"] == pytest.approx(sum(r["metrics"]["macro_f1"] for r in res["runs"]) / 2)


def test_zero_shot_pairs_on_the_real_data(data):
    t = load_task("sib200:eng_Latn->sib200:swh_Latn", data)
    assert (len(t.splits["train"]), len(t.splits["dev"]), len(t.splits["test"])) == (701, 99, 204)
    assert t.splits["train"][0][0] != t.splits["test"][0][0]  # English train, Swahili test
    pos = load_task("ud:UD_English-LinES->masakhapos:swa", data)
    assert (len(pos.splits["train"]), len(pos.splits["test"])) == (3457, 553) and pos.metric == "accuracy"
    load_task("ud:UD_English-LinES->ud:UD_Welsh-CCG", data)
    with pytest.raises(BadInput, match="cannot transfer"):
        load_task("sib200:eng_Latn->masakhapos:swa", data)
    with pytest.raises(BadInput, match="has no train split"):
        load_task("ud:UD_English-EWT->masakhapos:swa", data)


def test_train_subsample_is_fixed_ordered_and_leaves_dev_and_test():
    from monoglot.tasks.finetune import subsample_train

    task = toy_task(n=120)
    a, b = subsample_train(task, 50), subsample_train(task, 50)
    assert a.splits["train"] == b.splits["train"] and len(a.splits["train"]) == 50
    idx = [task.splits["train"].index(x) for x in a.splits["train"]]
    assert idx == sorted(idx)
    assert a.splits["dev"] is task.splits["dev"] and a.splits["test"] is task.splits["test"]
    assert subsample_train(task, None) is task and subsample_train(task, 500) is task
