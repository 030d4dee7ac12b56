"""Distillation on the real (trimmed) e5-small and real Swahili text."""

import json
import math
import subprocess
import sys

import pytest
import torch

from monoglot.distill import (AdaptSettings, DistillSettings, LossWeights, adapt_teacher, attention_kl, attention_mse, distill,
                              hidden_cosine, hidden_mse, logit_kl, logit_mse, mlm_loss, relation_kl)
from monoglot.distill.data import mask_tokens, shard
from monoglot.distill.objective import load_basis
from monoglot.errors import BadInput
from monoglot.shrink import shrink_to_dir

FIRST = dict(head_strategy="first", ffn_strategy="first", hidden_strategy="truncate", measure=None, progress=False)


def test_losses_against_hand_computed_values():
    h = torch.randn(2, 5, 8)
    assert hidden_mse(h, h).item() == 0.0
    assert hidden_mse(h, h + 1).item() == pytest.approx(1.0)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    assert hidden_mse(h, h + 2, mask=mask).item() == pytest.approx(4.0)
    assert hidden_cosine(h, 3 * h).item() == pytest.approx(0.0, abs=1e-6)
    assert hidden_cosine(h, -h).item() == pytest.approx(2.0)
    a = torch.softmax(torch.randn(2, 3, 5, 5), -1)
    assert attention_kl(a, a).abs().item() < 1e-6
    assert attention_kl(torch.full_like(a, 0.2), a).item() > 0
    assert attention_mse(a, a).item() == 0.0
    # logit KL: teacher (0.5, 0.5) vs student (0.25, 0.75) at T=1: 0.5 ln(2) + 0.5 ln(2/3)
    t, s = torch.tensor([[0.0, 0.0]]), torch.log(torch.tensor([[0.25, 0.75]]))
    assert logit_kl(s, t).item() == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3), rel=1e-5)
    # T^2 factor: at T=2 the KL of the tempered distributions is multiplied by 4
    ts, tt = torch.log_softmax(s / 2, -1), torch.log_softmax(t / 2, -1)
    assert logit_kl(s, t, temperature=2).item() == pytest.approx(4 * (tt.exp() * (tt - ts)).sum().item(), rel=1e-5)
    assert logit_kl(s, t, denominator=4).item() == pytest.approx(logit_kl(s, t).item() / 4)
    assert logit_mse(s, t).item() == pytest.approx(((s - t) ** 2).mean().item())
    labels = torch.tensor([1])
    assert mlm_loss(s, labels).item() == pytest.approx(-math.log(0.75), rel=1e-5)
    q = torch.randn(2, 6, 12)
    assert relation_kl(q, q, 4).abs().item() < 1e-6
    assert relation_kl(torch.randn(2, 6, 8), q, 4).item() > 0  # widths may differ; relation heads must divide both
    with pytest.raises(ValueError, match="does not divide"):
        relation_kl(torch.randn(2, 6, 10), q, 4)


def test_masking_is_reproducible_spares_special_tokens_and_shards_exactly():
    ids = torch.randint(5, 100, (8, 32))
    ids[:, 0], ids[:, -1] = 0, 2
    a = mask_tokens(ids, torch.Generator().manual_seed(3), mask_id=4, vocab_size=100, special_ids=[0, 2], prob=0.15)
    b = mask_tokens(ids, torch.Generator().manual_seed(3), mask_id=4, vocab_size=100, special_ids=[0, 2], prob=0.15)
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.positions, b.positions)
    assert 0.08 < len(a.positions) / ids.numel() < 0.22
    cols = a.positions % 32
    assert not ((cols == 0) | (cols == 31)).any()
    assert torch.equal(a.labels, ids.flatten()[a.positions])
    assert (a.input_ids.flatten()[a.positions] == 4).float().mean() > 0.6  # ~80% become the mask token
    lo, hi = shard(a, 0, 4), shard(a, 4, 8)
    assert len(lo.positions) + len(hi.positions) == len(a.positions)
    assert torch.equal(torch.cat([lo.labels, hi.labels]), a.labels)
    assert torch.equal(hi.input_ids.flatten()[hi.positions], a.input_ids.flatten()[a.positions[len(lo.positions):]])


@pytest.mark.slow
def test_a_few_steps_lower_the_validation_loss_and_the_student_reloads(tmp_path, e5_trimmed, swahili_corpus):
    init = shrink_to_dir(e5_trimmed, tmp_path / "init", layers=2, hidden=128, ffn=256, **FIRST)
    s = DistillSettings(steps=12, batch_size=4, seq_len=64, lr=5e-4, val_batches=2, warmup_ratio=0.2)
    verse = swahili_corpus.read_text().splitlines()[1]  # an "evaluation sentence" found in the corpus
    out = distill(e5_trimmed, init, [swahili_corpus], tmp_path / "student", s, eval_texts=[verse], progress=False)
    st = json.loads((out / "monoglot.json").read_text())["stats"]
    assert st["val_loss_after"]["target"] < 0.8 * st["val_loss_before"]["target"], st
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


def test_mlm_head_on_the_frozen_e5_body_then_logit_distillation(tmp_path, e5_trimmed, swahili_corpus):
    """e5-small has no MLM head: adapt trains one on the frozen body, which enables logit distillation."""
    from safetensors.torch import load_file

    s = DistillSettings(batch_size=4, seq_len=64, lr=1e-3, val_batches=2, warmup_ratio=0.1)
    adapted = adapt_teacher(e5_trimmed, [swahili_corpus], tmp_path / "adapted", AdaptSettings(head_steps=15), settings=s, progress=False)
    meta = json.loads((adapted / "monoglot.json").read_text())
    assert meta["stage"] == "adapt" and meta["settings"]["trainable"] == "mlm_head"
    st = meta["stats"]
    assert st["val_loss_after"]["target"] < 0.8 * st["val_loss_before"]["target"], st["validations"]
    before, after = load_file(str(e5_trimmed / "model.safetensors")), load_file(str(adapted / "model.safetensors"))
    body = [k for k in before if not k.startswith("pooler")]
    assert all(torch.equal(before[k], after["bert." + k if "bert." + k in after else k]) for k in body)  # body frozen
    init = shrink_to_dir(adapted, tmp_path / "init", layers=2, hidden=128, ffn=256, **FIRST)
    d = DistillSettings(steps=6, batch_size=4, seq_len=64, val_batches=1, lr=5e-4,
                        loss=LossWeights(logits=1, hidden=1, attention=1, relations=1, mlm=0.5), logit_loss="kl")
    out = distill(adapted, init, [swahili_corpus], tmp_path / "student", d, progress=False)
    h = json.loads((out / "monoglot.json").read_text())["stats"]["history"]
    assert all(r["logits"] > 0 and r["relations"] > 0 and r["mlm"] > 0 for r in h)


def test_fixed_pca_projection_uses_the_shrink_basis(tmp_path, e5_trimmed, swahili_corpus):
    """BiStil's fixed projection: the student narrower than the teacher matches P^T h_teacher; a PCA-shrunk
    student starts close to it, far closer than a truncated one."""
    kw = dict(steps=1, batch_size=4, seq_len=64, val_batches=1, lr=1e-9, hidden_projection="pca",
              loss=LossWeights(hidden=1, attention=0))
    first = {}
    for strategy in ("pca", "truncate"):
        init = shrink_to_dir(e5_trimmed, tmp_path / f"init-{strategy}", corpora=[swahili_corpus],
                             layers=12, hidden=192, head_strategy="first", ffn_strategy="first", hidden_strategy=strategy,
                             measure=None, progress=False)
        assert (init / "hidden_projection.safetensors").is_file()
        out = distill(e5_trimmed, init, [swahili_corpus], tmp_path / f"s-{strategy}", DistillSettings(**kw), progress=False)
        first[strategy] = json.loads((out / "monoglot.json").read_text())["stats"]["val_loss_before"]["target"]
        if strategy == "pca":  # the student keeps the basis it was distilled in (task distillation's hidden-state loss)
            from safetensors.torch import load_file

            assert torch.equal(load_file(str(out / "hidden_projection.safetensors"))["projection"],
                               load_file(str(init / "hidden_projection.safetensors"))["projection"])
            assert load_basis(out)[1] == "pca"
            # continued distillation from the distilled student stays in its basis: it starts where it ended
            # (before the basis' kind was saved, a fresh PCA of the first batch replaced it)
            again = distill(e5_trimmed, out, [swahili_corpus], tmp_path / "s-again", DistillSettings(**kw), progress=False)
            before = json.loads((again / "monoglot.json").read_text())["stats"]["val_loss_before"]["target"]
            assert before == pytest.approx(first["pca"], rel=1e-3), (before, first["pca"])
    assert first["pca"] < 0.5 * first["truncate"], first


def test_a_distilled_student_keeps_its_layer_map_for_continued_and_task_distillation():
    """A distilled student records the maps it was distilled with (monoglot.json stats); distilling it
    further, or task-distilling it, compares each of its layers with the same teacher layer and heads,
    not the uniform map (which would compare student layer 1 with teacher layer 3 here)."""
    from types import SimpleNamespace

    from monoglot.distill.objective import build_maps, copied_layers, default_layer_map

    teacher = SimpleNamespace(num_hidden_layers=12, num_attention_heads=12)
    student = SimpleNamespace(num_hidden_layers=4, num_attention_heads=8)
    heads = [[0, 2, 4, 5, 6, 7, 8, 11], [0, 3, 5, 7, 8, 9, 10, 11], [0, 1, 2, 4, 6, 7, 9, 11], [0, 1, 2, 4, 6, 9, 10, 11]]
    shrunk = {"stats": {"layers_kept": [0, 4, 8, 11], "heads_kept": heads}}
    s = DistillSettings(loss=LossWeights(hidden=1, attention=1))
    first = build_maps(teacher, student, shrunk, s)
    assert first.hidden == [0, 1, 5, 9, 12] and first.heads == heads
    distilled = {"stats": {"layer_map": first.hidden, "teacher_heads": first.heads}}  # what distill records
    assert copied_layers(distilled) == ([0, 4, 8, 11], heads)
    again = build_maps(teacher, student, distilled, s)
    assert (again.hidden, again.heads) == (first.hidden, first.heads)
    assert default_layer_map(12, 4, None) == [0, 3, 6, 9, 12]  # what the distilled student got before
    assert copied_layers({"stats": {}}) == (None, None)
