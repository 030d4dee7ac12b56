"""Shrink: layer selection and structured slicing (tiny random BERT / XLM-R models, real e5-small)."""

import json

import pytest
import torch
from transformers import AutoModel, AutoModelForMaskedLM

from conftest import make_tiny

from monoglot.errors import BadInput
from monoglot.shrink import select_layers, shrink_to_dir


def test_layer_strategies():
    assert select_layers(12, 4, "stride") == [2, 5, 8, 11]
    assert select_layers(12, 6, "stride") == [1, 3, 5, 7, 9, 11]
    assert select_layers(12, 3, "first") == [0, 1, 2]
    assert select_layers(12, 3, "last") == [9, 10, 11]
    assert select_layers(12, 3, "first-last") == [0, 1, 11]
    assert select_layers(12, 3, "0,5,11") == [0, 5, 11]
    with pytest.raises(BadInput, match="unknown layer strategy"):
        select_layers(12, 3, "middle")
    with pytest.raises(BadInput, match="0..11"):
        select_layers(12, 2, "0,12")


@pytest.mark.parametrize("family", ["bert", "xlmr"])
def test_removing_nothing_is_the_identity_tiny_random(tmp_path, family):
    src = make_tiny(tmp_path / "src", family, mlm=True, hidden=32, heads=2, ffn=64, layers=3)
    out = shrink_to_dir(src, tmp_path / "out")
    a, b = AutoModelForMaskedLM.from_pretrained(src).state_dict(), AutoModelForMaskedLM.from_pretrained(out).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("family", ["bert", "xlmr"])
@pytest.mark.parametrize("mlm", [False, True])
def test_shrink_shapes_and_reload_tiny_random(tmp_path, family, mlm):
    src = make_tiny(tmp_path / "src", family, mlm=mlm, hidden=64, heads=4, ffn=128, layers=4)
    out = shrink_to_dir(src, tmp_path / "out", layers=2, hidden=32, ffn=48, layer_strategy="last")
    cls = AutoModelForMaskedLM if mlm else AutoModel
    m = cls.from_pretrained(out)
    c = m.config
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size) == (2, 32, 2, 48)
    teacher = cls.from_pretrained(src)
    base_s, base_t = m.base_model, teacher.base_model
    # the student's last layer is the teacher's last layer, sliced
    ws, wt = base_s.encoder.layer[1].intermediate.dense.weight, base_t.encoder.layer[3].intermediate.dense.weight
    assert torch.equal(ws, wt[:48, :32])
    q_s, q_t = base_s.encoder.layer[0].attention.self.query.weight, base_t.encoder.layer[2].attention.self.query.weight
    assert torch.equal(q_s, q_t[:32, :32])  # heads 0 and 1 of dimension 16, first 32 inputs
    ids = torch.tensor([[0, 5, 6, 7, 2]])
    assert m(input_ids=ids)[0].shape[:2] == (1, 5)
    meta = json.loads((out / "monoglot.json").read_text())
    assert meta["stats"]["layers_kept"] == [2, 3] and meta["stats"]["student_shape"] == [2, 32, 2, 48]


def test_head_pruning_keeps_head_dimension_tiny_random(tmp_path):
    src = make_tiny(tmp_path / "src", "bert", hidden=64, heads=4, ffn=128, layers=2)
    out = shrink_to_dir(src, tmp_path / "out", hidden=48)  # 4 heads of 16 -> 3 heads of 16
    assert AutoModel.from_pretrained(out).config.num_attention_heads == 3


def test_bad_shapes_are_clear_errors(tmp_path, tiny_bert):
    with pytest.raises(BadInput, match="larger than the teacher"):
        shrink_to_dir(tiny_bert, tmp_path / "a", layers=8)
    with pytest.raises(BadInput, match="not divisible"):
        shrink_to_dir(tiny_bert, tmp_path / "b", hidden=50, heads=4)
    with pytest.raises(BadInput, match="head dimension"):
        shrink_to_dir(tiny_bert, tmp_path / "c", hidden=64, heads=2)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_default_student_of_e5_has_90_percent_fewer_parameters(tmp_path, e5_dir, e5_trimmed):
    out = shrink_to_dir(e5_trimmed, tmp_path / "student", layers=4, hidden=256, ffn=1024)
    teacher = json.loads((e5_trimmed / "monoglot.json").read_text())["stats"]["parameters_before"]["total"]
    student = json.loads((out / "monoglot.json").read_text())["stats"]["parameters_after"]["total"]
    assert student <= 0.10 * teacher
