"""The distillation engine on tiny random-initialised BERT models (fast): data parallelism, exact
resume after SIGKILL and SIGTERM, bilingual batches, early stopping, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import load_file

from conftest import SWAHILI, make_tiny
from monoglot.distill import DistillSettings, LossWeights, distill, work_dir
from monoglot.errors import BadInput
from monoglot.shrink import shrink_to_dir

ENGLISH = ["The quick brown fox.", "The children play football after school.", "Good morning, my friend."]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    teacher = make_tiny(d / "teacher", "bert", mlm=True)
    init = shrink_to_dir(teacher, d / "init", layers=2, hidden=32, ffn=64, head_strategy="first", ffn_strategy="first",
                         hidden_strategy="truncate", measure=None, progress=False)
    swa, eng = d / "swa.txt", d / "eng.txt"
    swa.write_text("\n".join(SWAHILI * 60) + "\n")
    eng.write_text("\n".join(ENGLISH * 40) + "\n")
    return {"teacher": teacher, "init": init, "swa": swa, "eng": eng}


def _cli(*args, cwd=None, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "monoglot", "distill", *map(str, args)], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _history(out: Path) -> list[dict]:
    return json.loads((out / "monoglot.json").read_text())["stats"]["history"]


ALL_LOSSES = ["--loss", "logits=1", "--loss", "mlm=0.5", "--loss", "relations=1", "--loss", "cosine=1"]


@pytest.mark.slow
def test_two_processes_on_the_cpu_match_one_process(tiny, tmp_path):
    """Real DDP (gloo, 2 processes, torchrun): same global batch, same loss curve within float tolerance."""
    args = [tiny["teacher"], tiny["init"], "--corpus", tiny["swa"], "--steps", 5, "--batch-size", 4, "--seq-len", 16,
            "--dropout", 0, "--precision", "no", "--quiet", *ALL_LOSSES]  # fp32 on every CPU: auto is bf16 on some
    one = _cli(*args, "--out", tmp_path / "one")
    assert one.wait(120) == 0, one.stderr.read()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "monoglot",
                          "distill", *map(str, args), "--out", str(tmp_path / "two")], env=env, capture_output=True, text=True, timeout=180)
    assert two.returncode == 0, two.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "monoglot.json").read_text())["stats"]["processes"] == 2
    h1, h2 = _history(tmp_path / "one"), _history(tmp_path / "two")
    assert len(h1) == len(h2) == 5
    for a, b in zip(h1, h2):
        for k in ("loss", "hidden", "attention", "relations", "cosine", "logits", "mlm"):
            assert a[k] == pytest.approx(b[k], rel=1e-4, abs=2e-6), (k, a, b)  # history rounds to 1e-6: one unit apart
    w1, w2 = load_file(str(tmp_path / "one" / "model.safetensors")), load_file(str(tmp_path / "two" / "model.safetensors"))
    assert max((w1[k] - w2[k]).abs().max().item() for k in w1) < 1e-4


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory):
    """An uninterrupted run of 160 steps, checkpointing every 20."""
    out = tmp_path_factory.mktemp("ref") / "student"
    p = _cli(*_resume_args(tiny), "--out", out)
    assert p.wait(300) == 0, p.stderr.read()
    return out


def _resume_args(tiny):
    return [tiny["teacher"], tiny["init"], "--corpus", tiny["swa"], "--source-corpus", tiny["eng"], "--steps", 160,
            "--batch-size", 4, "--seq-len", 16, "--checkpoint-every", 20, "--val-every", 40, "--loss", "logits=1", "--quiet"]


def _wait_for_checkpoint(out: Path, step: int, proc) -> None:
    target = work_dir(out) / f"step-{step:07d}" / "state.json"
    deadline = time.time() + 120
    while not target.is_file():
        assert proc.poll() is None, f"the run ended before step {step}: {proc.stderr.read()[-2000:]}"
        assert time.time() < deadline
        time.sleep(0.005)


def _same_weights(a: Path, b: Path) -> None:
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_to_identical_weights(tiny, reference, tmp_path):
    out = tmp_path / "student"
    p = _cli(*_resume_args(tiny), "--out", out)
    _wait_for_checkpoint(out, 40, p)
    p.send_signal(signal.SIGKILL)
    p.wait(30)
    assert not out.exists()
    again = _cli(*_resume_args(tiny), "--out", out)  # without --resume: refuses to start over silently
    assert again.wait(60) == 2 and "pass --resume" in again.stderr.read()
    r = _cli(*_resume_args(tiny), "--out", out, "--resume")
    assert r.wait(300) == 0, r.stderr.read()
    _same_weights(out, reference)
    assert _history(out) == _history(reference)
    assert not work_dir(out).exists()  # checkpoints are removed once the output is complete


@pytest.mark.slow
def test_sigterm_writes_a_checkpoint_and_stops_then_resume_is_exact(tiny, reference, tmp_path):
    out = tmp_path / "student"
    p = _cli(*_resume_args(tiny), "--out", out)
    _wait_for_checkpoint(out, 20, p)
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 143  # 128 + SIGTERM, as a shell reports it
    err = p.stderr.read()
    assert "checkpoint written to" in err and "--resume" in err
    assert any(work_dir(out).glob("step-*"))
    r = _cli(*_resume_args(tiny), "--out", out, "--resume")
    assert r.wait(300) == 0, r.stderr.read()
    _same_weights(out, reference)


def test_bilingual_batches_alternate_and_are_validated_per_language(reference):
    h = _history(reference)
    assert [r["lang"] for r in h[:6]] == ["target", "source"] * 3
    st = json.loads((reference / "monoglot.json").read_text())["stats"]
    assert set(st["val_loss_after"]) == {"target", "source"}
    assert [v["step"] for v in st["validations"]] == [0, 40, 80, 120, 160]
    assert (reference / "runs").is_dir() and any((reference / "runs").rglob("events.out.tfevents*"))


def test_source_ratio_sets_the_share_of_source_batches(tiny, tmp_path):
    s = DistillSettings(steps=9, batch_size=2, seq_len=16, val_batches=1, source_ratio=1 / 3)
    out = distill(tiny["teacher"], tiny["init"], [tiny["swa"]], tmp_path / "s", s, source_corpora=[tiny["eng"]], progress=False)
    assert [r["lang"] for r in _history(out)].count("source") == 3


def test_early_stopping_and_keep_best(tiny, tmp_path):
    s = DistillSettings(steps=40, batch_size=2, seq_len=16, val_batches=1, lr=0.5, warmup_ratio=0, val_every=2,
                        patience=2, max_grad_norm=100)
    out = distill(tiny["teacher"], tiny["init"], [tiny["swa"]], tmp_path / "s", s, progress=False)
    st = json.loads((out / "monoglot.json").read_text())["stats"]
    assert st["stopped_early"] and st["steps_run"] < 40
    vals = {v["step"]: v["target"] for v in st["validations"][:-1]}
    assert st["chosen_step"] in vals and vals[st["chosen_step"]] == min(vals.values())


def test_gradient_accumulation_matches_one_big_batch(tiny, tmp_path):
    base = dict(steps=3, batch_size=4, seq_len=16, val_batches=1, dropout=0.0, loss=LossWeights(logits=1, mlm=1))
    a = distill(tiny["teacher"], tiny["init"], [tiny["swa"]], tmp_path / "a", DistillSettings(**base), progress=False)
    b = distill(tiny["teacher"], tiny["init"], [tiny["swa"]], tmp_path / "b", DistillSettings(**base, grad_accum=2), progress=False)
    for x, y in zip(_history(a), _history(b)):
        assert x["loss"] == pytest.approx(y["loss"], rel=1e-5)


def test_grad_checkpointing_and_bf16_run(tiny, tmp_path):
    s = DistillSettings(steps=2, batch_size=2, seq_len=16, val_batches=1, grad_checkpointing=True, precision="bf16")
    out = distill(tiny["teacher"], tiny["init"], [tiny["swa"]], tmp_path / "s", s, progress=False)
    assert len(_history(out)) == 2 and all(r["loss"] > 0 for r in _history(out))


def test_bad_input_is_reported_before_any_compute(tiny, tmp_path):
    t, i, swa = tiny["teacher"], tiny["init"], tiny["swa"]
    cases = [
        (DistillSettings(layer_map=[1, 9]), "teacher layer\\(s\\) \\[9\\] that do not exist"),
        (DistillSettings(layer_map=[1, 2, 3]), "has 3 entries but the student has 2 layers"),
        (DistillSettings(batch_size=3, grad_accum=2), "not divisible"),
    ]
    for s, msg in cases:
        with pytest.raises(BadInput, match=msg):
            distill(t, i, [swa], tmp_path / "o", s, progress=False)
    headless = make_tiny(tmp_path / "headless", "bert")
    with pytest.raises(BadInput, match="run `monoglot adapt`"):
        distill(headless, i, [swa], tmp_path / "o", DistillSettings(loss=LossWeights(logits=1)), progress=False)
    small = tmp_path / "small.txt"
    small.write_text("Habari ya asubuhi.\n")
    with pytest.raises(BadInput, match="fewer than the"):
        distill(t, i, [small], tmp_path / "o", DistillSettings(), progress=False)
    with pytest.raises(ValidationError, match="switch on at least one loss"):
        DistillSettings(loss=LossWeights(hidden=0, attention=0))
    assert not (tmp_path / "o").exists() and not work_dir(tmp_path / "o").exists()


@pytest.mark.slow
def test_a_checkpoint_from_another_configuration_is_refused(tiny, tmp_path):
    out = tmp_path / "s"
    p = _cli(tiny["teacher"], tiny["init"], "--corpus", tiny["swa"], "--steps", 400, "--batch-size", 2, "--seq-len", 16,
             "--checkpoint-every", 5, "--quiet", "--out", out)
    _wait_for_checkpoint(out, 5, p)
    p.send_signal(signal.SIGKILL)
    p.wait(30)
    r = _cli(tiny["teacher"], tiny["init"], "--corpus", tiny["swa"], "--steps", 400, "--batch-size", 2, "--seq-len", 16,
             "--lr", "1e-3", "--quiet", "--out", out, "--resume")
    assert r.wait(60) == 2
    err = r.stderr.read()
    assert "from another configuration (differs in: settings)" in err and err.count("\n") == 1


def test_without_an_mlm_loss_the_head_stays_and_the_tied_embeddings_still_train(tiny, tmp_path):
    s = DistillSettings(steps=2, batch_size=2, seq_len=16, val_batches=1, lr=1e-2)
    out = distill(tiny["teacher"], tiny["init"], [tiny["swa"]], tmp_path / "s", s, progress=False)
    before, after = load_file(str(tiny["init"] / "model.safetensors")), load_file(str(out / "model.safetensors"))
    emb = "bert.embeddings.word_embeddings.weight"
    assert not torch.equal(before[emb], after[emb])
    head = "cls.predictions.transform.dense.weight"
    assert torch.equal(before[head], after[head])
