"""Shrink: layer selection, importance-ranked pruning of heads, FFN and hidden size.

Shapes, reload and exactness use tiny random-initialised BERT (WordPiece) and XLM-R (Unigram)
models; the importance-vs-random comparison uses the real e5-small on real Swahili text.
"""

import json

import pytest
import torch
from transformers import AutoModel, AutoModelForMaskedLM

from conftest import SWAHILI, make_tiny

from monoglot.errors import BadInput
from monoglot.shrink import ShrinkSettings, hidden_state_error, plan_shrink, select_layers, shrink_model, shrink_to_dir
from monoglot.shrink.basis import pca_basis, svd_basis
from monoglot.shrink.importance import text_batches
from monoglot.teachers import load_tokenizer
from monoglot.teachers.loader import load_saved_architecture

FIRST = dict(head_strategy="first", ffn_strategy="first", hidden_strategy="truncate")


@pytest.fixture
def tiny_text(tmp_path):
    f = tmp_path / "tiny.txt"
    f.write_text("\n".join(SWAHILI * 40) + "\n", encoding="utf-8")
    return f


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
def test_removing_nothing_is_the_identity_tiny_random(tmp_path, family, tiny_text):
    src = make_tiny(tmp_path / "src", family, mlm=True, hidden=32, heads=2, ffn=64, layers=3)
    out = shrink_to_dir(src, tmp_path / "out", corpora=[tiny_text], layer_strategy="importance", hidden_strategy="pca", progress=False)
    a, b = AutoModelForMaskedLM.from_pretrained(src).state_dict(), AutoModelForMaskedLM.from_pretrained(out).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("family", ["bert", "xlmr"])
@pytest.mark.parametrize("mlm", [False, True])
def test_first_k_slicing_shapes_and_reload_tiny_random(tmp_path, family, mlm):
    src = make_tiny(tmp_path / "src", family, mlm=mlm, hidden=64, heads=4, ffn=128, layers=4)
    out = shrink_to_dir(src, tmp_path / "out", layers=2, hidden=32, ffn=48, layer_strategy="last", progress=False, **FIRST)
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


@pytest.mark.parametrize("mlm", [False, True])
@pytest.mark.parametrize("family,hidden_strategy", [("bert", "pca"), ("bert", "svd"), ("bert", "importance"),
                                                    ("bert", "random"), ("xlmr", "pca")])
def test_every_strategy_gives_a_standard_model_that_reloads_tiny_random(tmp_path, family, mlm, hidden_strategy, tiny_text):
    src = make_tiny(tmp_path / "src", family, mlm=mlm, hidden=64, heads=4, ffn=128, layers=4)
    s = ShrinkSettings(layers=2, hidden=48, ffn=40, layer_strategy="importance", hidden_strategy=hidden_strategy,
                       importance_sequences=8, seq_len=16)
    out = shrink_to_dir(src, tmp_path / "out", s, corpora=[tiny_text], measure={"batch_size": 2, "seq_len": 8, "batches": 1}, progress=False)
    m = (AutoModelForMaskedLM if mlm else AutoModel).from_pretrained(out)
    c = m.config
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size) == (2, 48, 3, 40)
    y = m(input_ids=torch.tensor([[2, 7, 8, 9, 3]]))[0]
    assert torch.isfinite(y).all()
    stats = json.loads((out / "monoglot.json").read_text())["stats"]
    ch = stats["choices"]
    assert len(ch["layers"]["kept"]) == 2 and len(ch["layers"]["removal_error"]) == 2
    assert ch["importance"]["loss"] == ("mlm" if mlm else "reconstruction")
    assert all(len(h) == 3 for h in ch["heads"]["kept"]) and len(ch["heads"]["scores"]) == 2
    assert all(len(r) == 128 - 40 for r in ch["ffn"]["removed"])
    assert ch["hidden"]["strategy"] == hidden_strategy
    assert [r["step"] for r in stats["steps"]] == ["teacher", "layers", "+ FFN", "+ heads and hidden"]
    params = [r["parameters"] for r in stats["steps"]]
    assert params == sorted(params, reverse=True) and all(r["sequences_per_second"] > 0 for r in stats["steps"])
    if not mlm:
        assert params[-1] == stats["parameters_after"]["total"]


def test_importance_choices_follow_the_scores_tiny_random(tmp_path, tiny_text):
    """Heads and FFN neurons whose output weights are zeroed have zero importance and are the ones removed."""
    src = make_tiny(tmp_path / "src", "bert", hidden=64, heads=4, ffn=128, layers=2)
    model = load_saved_architecture(str(src))
    with torch.no_grad():
        for layer in model.encoder.layer:
            layer.output.dense.weight[:, :16] = 0  # FFN neurons 0..15 do nothing
            layer.attention.output.dense.weight[:, 16:32] = 0  # head 1 does nothing
    tok = load_tokenizer(src)
    plan, rec = plan_shrink(model, ShrinkSettings(ffn=112, hidden=48, hidden_strategy="truncate", importance_sequences=8, seq_len=16),
                            tok, [tiny_text])
    assert plan.ffn == [list(range(16, 128))] * 2
    assert plan.heads == [[0, 2, 3]] * 2
    assert all(r[1] == 0 for r in rec["heads"]["scores"])


def test_pca_and_svd_bases_are_orthonormal():
    x = torch.randn(500, 16) @ torch.randn(16, 16)
    for P in (pca_basis(x, 6), svd_basis(x, 6)):
        assert P.shape == (16, 6)
        assert torch.allclose(P.T @ P, torch.eye(6), atol=1e-5)
    # PCA keeps more of the states' energy than any other 6-dimensional subspace, e.g. the first 6 axes
    assert (x @ pca_basis(x, 6)).pow(2).sum() >= x[:, :6].pow(2).sum()


def test_head_pruning_keeps_head_dimension_tiny_random(tmp_path):
    src = make_tiny(tmp_path / "src", "bert", hidden=64, heads=4, ffn=128, layers=2)
    out = shrink_to_dir(src, tmp_path / "out", hidden=48, progress=False, **FIRST)  # 4 heads of 16 -> 3 heads of 16
    assert AutoModel.from_pretrained(out).config.num_attention_heads == 3


def test_bad_shapes_and_strategies_are_clear_errors(tmp_path, tiny_bert):
    with pytest.raises(BadInput, match="larger than the teacher"):
        shrink_to_dir(tiny_bert, tmp_path / "a", layers=8)
    with pytest.raises(BadInput, match="not divisible"):
        shrink_to_dir(tiny_bert, tmp_path / "b", hidden=50, heads=4)
    with pytest.raises(BadInput, match="head dimension"):
        shrink_to_dir(tiny_bert, tmp_path / "c", hidden=64, heads=2)
    with pytest.raises(BadInput, match="unknown ffn strategy 'magnitude'"):
        shrink_to_dir(tiny_bert, tmp_path / "d", ffn=64, ffn_strategy="magnitude")
    with pytest.raises(BadInput, match="unknown hidden strategy"):
        shrink_to_dir(tiny_bert, tmp_path / "d", hidden=32, hidden_strategy="nmf")
    with pytest.raises(BadInput, match="importance scoring needs target text"):
        shrink_to_dir(tiny_bert, tmp_path / "e", ffn=64)
    assert not any((tmp_path / n).exists() for n in "abcde")


@pytest.fixture(scope="module")
def e5_and_text(e5_dir, swahili_corpus, data):
    model = load_saved_architecture(str(e5_dir))
    tok = load_tokenizer(e5_dir)
    held_out = text_batches(tok, [data / "corpora" / "swa" / "maneno_yetu.txt"], sequences=16, seq_len=128)
    return model, tok, held_out


@pytest.mark.parametrize("shape,importance", [
    (dict(ffn=768), dict(ffn_strategy="taylor")),
    (dict(hidden=256, ffn=1024), dict(ffn_strategy="taylor", head_strategy="importance", hidden_strategy="importance")),
])
@pytest.mark.slow
def test_importance_keeps_more_of_the_teacher_than_random_real_e5_swahili(e5_and_text, swahili_corpus, shape, importance):
    model, tok, held_out = e5_and_text
    errors = {}
    for name, strategies in (("importance", importance),
                             ("random", {k: "random" for k in importance})):
        s = ShrinkSettings(**shape, **strategies, importance_sequences=16)
        plan, _ = plan_shrink(model, s, tok, [swahili_corpus])
        errors[name] = hidden_state_error(model, shrink_model(model, plan), plan, held_out)
    assert 0 < errors["importance"] < 0.9 * errors["random"], errors


def test_default_student_of_e5_has_90_percent_fewer_parameters(tmp_path, e5_trimmed, swahili_corpus):
    out = shrink_to_dir(e5_trimmed, tmp_path / "student", layers=4, hidden=256, ffn=1024, corpora=[swahili_corpus],
                        importance_sequences=8, progress=False)
    meta = json.loads((out / "monoglot.json").read_text())
    teacher = json.loads((e5_trimmed / "monoglot.json").read_text())["stats"]["parameters_before"]["total"]
    student = meta["stats"]["parameters_after"]["total"]
    assert student <= 0.10 * teacher
    assert meta["settings"]["hidden_strategy"] == "pca" and meta["stats"]["choices"]["hidden"]["energy_kept"] > 0.5
