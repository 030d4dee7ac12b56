"""Distillation on the real (trimmed) e5-small and real Swahili text."""

import json
import subprocess
import sys

import pytest
import torch

from monoglot.distill import DistillSettings, attention_kl, distill, hidden_mse
from monoglot.errors import BadInput
from monoglot.shrink import shrink_to_dir

FIRST = dict(head_strategy="first", ffn_strategy="first", hidden_strategy="truncate", measure=None, progress=False)


def test_losses_are_zero_on_identical_inputs_and_positive_otherwise():
    h = torch.randn(2, 5, 8)
    assert hidden_mse(h, h, None).item() == 0.0
    assert hidden_mse(h, h + 1, None).item() == pytest.approx(1.0)
    a = torch.softmax(torch.randn(2, 3, 5, 5), -1)
    assert attention_kl(a, a).abs().item() < 1e-6
    assert attention_kl(torch.full_like(a, 0.2), a).item() > 0
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    assert hidden_mse(h, h + 2, proj=None, mask=mask).item() == pytest.approx(4.0)


def test_a_few_steps_lower_the_validation_loss_and_the_student_reloads(tmp_path, e5_trimmed, swahili_corpus):
    init = shrink_to_dir(e5_trimmed, tmp_path / "init", layers=2, hidden=128, ffn=256, **FIRST)
    s = DistillSettings(steps=12, batch_size=4, seq_len=64, lr=5e-4, val_batches=2, warmup_ratio=0.2)
    verse = swahili_corpus.read_text().splitlines()[1]  # an "evaluation sentence" found in the corpus
    out = distill(e5_trimmed, init, [swahili_corpus], tmp_path / "student", s, eval_texts=[verse], progress=False)
    st = json.loads((out / "monoglot.json").read_text())["stats"]
    assert st["val_loss_after"] < 0.8 * st["val_loss_before"], st
    assert st["tokens"] == 12 * 4 * 64
    assert st["corpus"]["dropped_contaminated"] >= 1  # the second verse (19 words) is dropped
    code = (f"from transformers import AutoModel, AutoTokenizer; m = AutoModel.from_pretrained({str(out)!r}); "
            f"t = AutoTokenizer.from_pretrained({str(out)!r}); print(m(**t('Habari yako', return_tensors='pt')).last_hidden_state.shape)")
    r = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert "torch.Size([1, " in r.stdout and ", 128])" in r.stdout


def test_same_seed_same_numbers(tmp_path, e5_trimmed, swahili_corpus):
    init = shrink_to_dir(e5_trimmed, tmp_path / "init", layers=1, hidden=64, ffn=64, **FIRST)
    s = DistillSettings(steps=3, batch_size=2, seq_len=32, val_batches=1)
    a = distill(e5_trimmed, init, [swahili_corpus], tmp_path / "a", s, progress=False)
    b = distill(e5_trimmed, init, [swahili_corpus], tmp_path / "b", s, progress=False)
    ha = json.loads((a / "monoglot.json").read_text())["stats"]["history"]
    hb = json.loads((b / "monoglot.json").read_text())["stats"]["history"]
    assert ha == hb


def test_bad_input_before_any_compute(tmp_path, e5_trimmed, tiny_bert, swahili_corpus):
    tiny_corpus = tmp_path / "small.txt"
    tiny_corpus.write_text("Habari ya asubuhi.\n")
    init = shrink_to_dir(e5_trimmed, tmp_path / "init", layers=1, hidden=64, ffn=64, **FIRST)
    with pytest.raises(BadInput, match="fewer than the"):
        distill(e5_trimmed, init, [tiny_corpus], tmp_path / "o1", DistillSettings(steps=1), progress=False)
    with pytest.raises(BadInput, match="tokenizers differ"):
        distill(e5_trimmed, tiny_bert, [swahili_corpus], tmp_path / "o2", DistillSettings(steps=1), progress=False)
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()
