"""Mean-pooled sequence heads (monoglot.tasks.pooling) on tiny random-initialised BERT and XLM-R
models: the head reads exactly the masked mean, padding changes nothing, the setting survives
save and load, and the choice follows the model directory."""

import json

import pytest
import torch

from monoglot.errors import BadInput
from monoglot.tasks.pooling import apply_classifier_pooling, default_pooling, resolve_pooling, use_mean_pooling


def _classifier(model_dir, family_cls):
    import transformers

    torch.manual_seed(0)
    return getattr(transformers, family_cls).from_pretrained(model_dir, num_labels=3).eval()


def _batch():
    ids = torch.tensor([[5, 6, 7, 8, 9], [5, 10, 11, 0, 0]])
    return ids, (ids != 0).long()


def _mean(hidden, mask):
    m = mask.unsqueeze(-1).float()
    return (hidden * m).sum(1) / m.sum(1)


def test_bert_head_reads_masked_mean_tiny_random_bert(tiny_bert):
    model = _classifier(tiny_bert, "BertForSequenceClassification")
    ids, mask = _batch()
    with torch.no_grad():
        hidden = model.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        cls_logits = model(input_ids=ids, attention_mask=mask).logits
        use_mean_pooling(model)
        use_mean_pooling(model)  # idempotent: one pair of hooks
        logits = model(input_ids=ids, attention_mask=mask).logits
        expected = model.classifier(model.bert.pooler(_mean(hidden, mask).unsqueeze(1)))
        alone = model(input_ids=ids[1:, :3], attention_mask=mask[1:, :3]).logits
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close(alone, logits[1:])  # padding does not move the mean
    assert not torch.allclose(logits, cls_logits)
    assert model.config.classifier_pooling == "mean"


def test_xlmr_head_reads_masked_mean_tiny_random_xlmr(tiny_xlmr):
    model = _classifier(tiny_xlmr, "XLMRobertaForSequenceClassification")
    ids = torch.tensor([[0, 5, 6, 7, 2], [0, 8, 2, 1, 1]])
    mask = (ids != 1).long()
    with torch.no_grad():
        hidden = model.roberta(input_ids=ids, attention_mask=mask).last_hidden_state
        use_mean_pooling(model)
        logits = model(input_ids=ids, attention_mask=mask).logits
        expected = model.classifier(_mean(hidden, mask).unsqueeze(1))
    torch.testing.assert_close(logits, expected)


def test_mean_pooling_survives_save_and_load_tiny_random_bert(tiny_bert, tmp_path):
    from monoglot.tasks.task_distill import load_task_teacher

    model = _classifier(tiny_bert, "BertForSequenceClassification")
    use_mean_pooling(model)
    model.save_pretrained(tmp_path / "tuned")
    assert json.loads((tmp_path / "tuned" / "config.json").read_text())["classifier_pooling"] == "mean"
    loaded = load_task_teacher(tmp_path / "tuned")
    ids, mask = _batch()
    with torch.no_grad():
        torch.testing.assert_close(loaded(input_ids=ids, attention_mask=mask).logits,
                                   model(input_ids=ids, attention_mask=mask).logits)
    plain = _classifier(tiny_bert, "BertForSequenceClassification")
    assert apply_classifier_pooling(plain) is plain and not getattr(plain, "_monoglot_mean_pooling", False)


def test_pooling_follows_the_model_directory(tiny_bert, tmp_path):
    from transformers import BertConfig, DistilBertConfig

    assert default_pooling(tiny_bert) == "cls" and default_pooling("intfloat/multilingual-e5-small") == "cls"
    (tiny_bert / "1_Pooling").mkdir()
    (tiny_bert / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    assert default_pooling(tiny_bert) == "mean"
    assert resolve_pooling("auto", tiny_bert, BertConfig()) == "mean"
    assert resolve_pooling("cls", tiny_bert, BertConfig()) == "cls"
    assert resolve_pooling("auto", tiny_bert, DistilBertConfig()) == "cls"
    with pytest.raises(BadInput, match="pooling = 'mean' needs a BERT or XLM-R model, not model_type 'distilbert'"):
        resolve_pooling("mean", tiny_bert, DistilBertConfig())


@pytest.mark.slow(seconds=20)
def test_e5_student_directories_fine_tune_mean_pooled(e5_dir):
    """The real e5-small directory carries sentence-transformers mean pooling, so ``auto`` picks it."""
    from monoglot.tasks.finetune import load_for_task
    from monoglot.tasks.readers import TaskData

    task = TaskData(name="toy", kind="sequence", labels=["a", "b"], metric="accuracy", splits={})
    _, model = load_for_task(e5_dir, task, seed=0, pooling="auto")
    assert model.config.classifier_pooling == "mean" and model._monoglot_mean_pooling
    _, model = load_for_task(e5_dir, task, seed=0, pooling="cls")
    assert not getattr(model, "_monoglot_mean_pooling", False)
