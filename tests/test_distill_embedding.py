"""Sentence-embedding distillation (Reimers & Gurevych 2020): the losses on hand-computed tensors,
the parallel-text reader (tiny files, and the real verse-aligned Bibles), end-to-end runs on tiny
random models (losses fall, resume stays exact), and the automatic precision choice."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import SWAHILI, data_root_or_skip, make_tiny
from monoglot.distill import (DistillSettings, LossWeights, distill, embedding_cosine, embedding_mse, info_nce, similarity_kl,
                              work_dir)
from monoglot.distill.data import monolingual_sentences, passages, target_texts
from monoglot.distill.precision import resolve_precision
from monoglot.errors import BadInput
from monoglot.parallel import ParallelStats, gale_church, read_parallel
from monoglot.shrink import shrink_to_dir

ENGLISH = ["Good morning, my friend.", "The government of Tanzania has announced a new education plan for primary schools.",
           "In the beginning God created the heavens and the earth.", "The children play football in the field after school."]


# ---- losses against hand-computed values

def test_embedding_mse_hand_computed():
    s, t = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1.0, 0.0], [0.0, 4.0]])
    assert embedding_mse(s, t).item() == pytest.approx((0 + 4 + 9 + 0) / 4)


def test_embedding_losses_go_through_the_projection():
    proj = torch.nn.Linear(1, 2)
    with torch.no_grad():
        proj.weight.copy_(torch.tensor([[1.0], [2.0]]))
        proj.bias.copy_(torch.tensor([0.0, 1.0]))
    s, t = torch.tensor([[1.0]]), torch.tensor([[1.0, 1.0]])  # proj(s) = [1, 3]
    assert embedding_mse(s, t, proj).item() == pytest.approx((0 + 4) / 2)
    assert embedding_cosine(s, t, proj).item() == pytest.approx(1 - 4 / (math.sqrt(10) * math.sqrt(2)))


def test_embedding_cosine_hand_computed():
    s, t = torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[0.0, 3.0], [2.0, 2.0]])
    assert embedding_cosine(s, t).item() == pytest.approx((1 + 0) / 2)  # orthogonal, then parallel


def test_info_nce_hand_computed():
    s = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    t = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    # cosines: row 0 -> [1, 1/sqrt2], row 1 -> [0, 1/sqrt2]; temperature 0.5 doubles them
    r = 1 / math.sqrt(2)
    ce0 = -math.log(math.exp(2) / (math.exp(2) + math.exp(2 * r)))
    ce1 = -math.log(math.exp(2 * r) / (math.exp(0) + math.exp(2 * r)))
    assert info_nce(s, t, temperature=0.5).item() == pytest.approx((ce0 + ce1) / 2, rel=1e-6)


def test_info_nce_with_a_memory_bank_hand_computed():
    s, t = torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]])
    bank = torch.tensor([[0.0, 5.0], [-1.0, 0.0]])  # cosines 0 and -1 with the student row
    want = -math.log(math.exp(1 / 0.5) / (math.exp(1 / 0.5) + math.exp(0) + math.exp(-1 / 0.5)))
    assert info_nce(s, t, temperature=0.5, negatives=bank).item() == pytest.approx(want, rel=1e-6)
    assert info_nce(s, t, 0.5, negatives=bank[:0]).item() == pytest.approx(0.0, abs=1e-7)  # an empty bank: in-batch only


def test_similarity_kl_hand_computed():
    """SEED's loss: KL between the teacher's and the student's softmax similarities to the teacher rows."""
    t = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    assert similarity_kl(t, t, temperature=1.0).item() == pytest.approx(0.0, abs=1e-7)  # the student is the teacher
    s = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # row 0 agrees; row 1 points at teacher row 0 instead of 1
    # row 1: p_T = softmax([0, 1]), p_S = softmax([1, 0]); KL = (e - 1) / (e + 1) = tanh(1/2); the mean halves it
    assert similarity_kl(s, t, temperature=1.0).item() == pytest.approx(math.tanh(0.5) / 2, rel=1e-6)
    bank = torch.tensor([[-4.0, 0.0]])  # cosines: teacher row 1 -> [0, 1, 0], student row 1 -> [1, 0, -1]
    q = [1 / (math.e + 2), math.e / (math.e + 2), 1 / (math.e + 2)]
    z = math.e + 1 + 1 / math.e
    p = [math.e / z, 1 / z, 1 / math.e / z]
    want = sum(a * math.log(a / b) for a, b in zip(q, p)) / 2
    assert similarity_kl(s, t, temperature=1.0, negatives=bank).item() == pytest.approx(want, rel=1e-6)


def test_similarity_kl_keeps_neighbours_where_info_nce_pushes_them_apart():
    """Two teacher sentences that are near (one topic): InfoNCE is lowest when the student puts
    them far apart, the similarity loss when the student keeps them as near as the teacher does."""
    t = torch.tensor([[1.0, 0.0], [0.8, 0.6]])  # cosine 0.8
    twin = t.clone()
    apart = torch.tensor([[1.0, -1.0], [0.6, 1.0]])  # each still nearest its own teacher row, the two further apart
    assert info_nce(apart, t, 0.1).item() < info_nce(twin, t, 0.1).item()
    assert similarity_kl(twin, t, 0.1).item() < similarity_kl(apart, t, 0.1).item()


def test_the_memory_bank_is_a_ring_of_teacher_embeddings_used_only_in_training(tiny):
    from monoglot.distill.objective import DistillModel, Maps
    from monoglot.teachers.loader import load_saved_architecture

    student = load_saved_architecture(tiny["init"])
    s = DistillSettings(loss=LossWeights(hidden=0, attention=0, contrastive=1), contrastive_queue=3)
    dm = DistillModel(student, Maps([], [], []), s, student.config.hidden_size, None).train()
    h = student.config.hidden_size
    assert dm.negatives().shape == (0, h)
    dm.push_negatives(torch.full((2, h), 1.0))
    dm.push_negatives(torch.full((2, h), 2.0))  # the first row of the first batch falls out
    assert sorted(dm.negatives()[:, 0].tolist()) == [1.0, 2.0, 2.0] and int(dm.queue_count) == 4
    dm.push_negatives(torch.arange(5.0)[:, None].expand(5, h))  # larger than the bank: its last three
    assert sorted(dm.negatives()[:, 0].tolist()) == [2.0, 3.0, 4.0]
    assert dm.eval().negatives() is None  # the validation loss stays in-batch
    assert {"queue", "queue_count"} <= set(dm.state_dict())  # checkpoints carry it
    off = DistillModel(student, Maps([], [], []), s.model_copy(update={"contrastive_queue": 0}), h, None).train()
    assert off.negatives() is None and "queue" not in off.state_dict()


def test_contrastive_with_parallel_text_averages_both_languages():
    """Student(source) must find teacher(source) too: without it the source side drifts apart
    (a 0.8M-token run retrieved English -> Swahili Bible verses at 4%, Swahili -> English at 32%)."""
    from types import SimpleNamespace

    from monoglot.distill.objective import sentence_terms

    g = torch.Generator().manual_seed(0)
    so = {"emb_tgt": torch.randn(4, 3, generator=g), "emb_src": torch.randn(4, 3, generator=g)}
    to = {"emb_src": torch.randn(4, 3, generator=g)}
    s = DistillSettings(loss=LossWeights(hidden=0, attention=0, contrastive=1), contrastive_temperature=0.1)
    dm = SimpleNamespace(s=s, proj=None, negatives=lambda: None)
    both = sentence_terms(so, to, dm)["contrastive"].item()
    expect = (info_nce(so["emb_tgt"], to["emb_src"], 0.1) + info_nce(so["emb_src"], to["emb_src"], 0.1)).item() / 2
    assert both == pytest.approx(expect, rel=1e-6)
    one = sentence_terms({"emb_tgt": so["emb_tgt"]}, to, dm)["contrastive"].item()  # no parallel text
    assert one == pytest.approx(info_nce(so["emb_tgt"], to["emb_src"], 0.1).item(), rel=1e-6)


def test_similarity_with_parallel_text_averages_both_languages_and_uses_the_bank(tiny):
    from types import SimpleNamespace

    from monoglot.distill.objective import DistillModel, Maps, sentence_terms
    from monoglot.teachers.loader import load_saved_architecture

    g = torch.Generator().manual_seed(0)
    so = {"emb_tgt": torch.randn(4, 3, generator=g), "emb_src": torch.randn(4, 3, generator=g)}
    to = {"emb_src": torch.randn(4, 3, generator=g)}
    bank = torch.randn(5, 3, generator=g)
    s = DistillSettings(loss=LossWeights(hidden=0, attention=0, similarity=1), contrastive_temperature=0.1, contrastive_queue=5)
    terms = sentence_terms(so, to, SimpleNamespace(s=s, proj=None, negatives=lambda: bank))
    assert set(terms) == {"similarity"}
    expect = (similarity_kl(so["emb_tgt"], to["emb_src"], 0.1, None, bank) + similarity_kl(so["emb_src"], to["emb_src"], 0.1, None, bank)) / 2
    assert terms["similarity"].item() == pytest.approx(expect.item(), rel=1e-6)
    student = load_saved_architecture(tiny["init"])  # the bank exists with the similarity loss alone
    dm = DistillModel(student, Maps([], [], []), s, student.config.hidden_size, None).train()
    assert dm.negatives().shape == (0, student.config.hidden_size)


# ---- parallel text

def test_gale_church_recovers_a_missing_sentence_and_a_preface():
    src = [40, 80, 25, 60, 120, 30, 70, 90]
    tgt = [900] + [round(x * 1.2) for i, x in enumerate(src) if i != 3] + [2000]  # preface; src[3] untranslated; a trailer
    beads = gale_church(src, tgt, band=5)
    truth = {(0, 1), (1, 2), (2, 3), (4, 4), (5, 5), (6, 6), (7, 7)}
    one_to_one = [(s[0], t[0]) for s, t in beads if len(s) == 1 and len(t) == 1]
    assert set(one_to_one) <= truth and len(one_to_one) >= 6  # no wrong pair; at most one lost in a 2-1 bead
    assert ([], [0]) in beads and all(8 not in t for _, t in beads)  # the preface is unmatched, the trailer a free tail
    assert [i for s, _ in beads for i in s] == list(range(8))  # every source sentence once, in order


def test_line_aligned_files_pair_line_by_line_and_decontaminate(tmp_path):
    a, b = tmp_path / "eng.txt", tmp_path / "swa.txt"
    a.write_text("\n".join(ENGLISH) + "\n")
    b.write_text("\n".join(SWAHILI) + "\n")
    st = ParallelStats()
    pairs = read_parallel(a, b, stats=st)
    assert pairs == list(zip(ENGLISH, SWAHILI)) and st.layout == "line-aligned"
    # an evaluation sentence sharing 8 words with the second Swahili line removes the whole pair
    pairs = read_parallel(a, b, eval_texts=["Habari: serikali ya Tanzania imetangaza mpango mpya wa elimu leo."], stats=st)
    assert pairs == [p for i, p in enumerate(zip(ENGLISH, SWAHILI)) if i != 1] and st.dropped_contaminated == 1


def test_parallel_files_of_different_length_are_refused(tmp_path):
    a, b = tmp_path / "eng.txt", tmp_path / "swa.txt"
    a.write_text("\n".join(ENGLISH) + "\n")
    b.write_text("\n".join(SWAHILI[:3]) + "\n")
    with pytest.raises(BadInput, match=r"differ in line count.*line-aligned"):
        read_parallel(a, b)
    with pytest.raises(BadInput, match="does not exist"):
        read_parallel(a, tmp_path / "missing.txt")


def test_two_verse_tables_join_on_book_chapter_verse(tmp_path):
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    a.write_text("book\tchapter\tverse\ttext\n01O\t1\t1\tIn the beginning.\n01O\t1\t2\tThe earth was empty.\n40N\t1\t1\tThe genealogy.\n")
    b.write_text("book\tchapter\tverse\ttext\n01O\t1\t2\tNchi ilikuwa ukiwa.\n40N\t1\t1\tKitabu cha ukoo.\n01O\t1\t1\tHapo mwanzo.\n")
    assert read_parallel(a, b) == [("In the beginning.", "Hapo mwanzo."), ("The earth was empty.", "Nchi ilikuwa ukiwa."),
                                   ("The genealogy.", "Kitabu cha ukoo.")]


def test_monolingual_sentences_take_source_sentences_in_the_source_ratio(tmp_path):
    tgt, src = tmp_path / "cym.txt", tmp_path / "eng.txt"
    tgt.write_text("\n".join(f"Brawddeg rhif {i} yma." for i in range(12)) + "\n")
    src.write_text("\n".join(f"English sentence number {i} here." for i in range(50)) + "\n")
    pairs = monolingual_sentences([tgt], [src], 12, 0.25, "text", None)
    assert [g for _, g in pairs[:12]] == [f"Brawddeg rhif {i} yma." for i in range(12)]
    assert [g for _, g in pairs[12:]] == [f"English sentence number {i} here." for i in range(4)]  # 12 x 0.25 / 0.75
    assert all(s is None for s, _ in pairs)
    assert len(monolingual_sentences([tgt], None, 12, 0.25, "text", None)) == 12
    assert len(monolingual_sentences([tgt], [src], 12, 0.0, "text", None)) == 12
    # decontamination applies to both languages
    kept = monolingual_sentences([tgt], [src], 12, 0.25, "text", ["English sentence number 0 here."])
    assert "English sentence number 0 here." not in [g for _, g in kept] and len(kept) == 16


def test_passages_join_consecutive_segments_to_at_least_the_word_count():
    segs = ["one two three.", "four five.", "six.", "seven eight nine ten.", "eleven."]
    assert list(passages(segs, 5)) == ["one two three. four five.", "six. seven eight nine ten.", "eleven."]
    assert list(passages(segs, 1)) == segs
    assert list(passages([], 5)) == []
    with pytest.raises(BadInput, match="passage_words must be at least 1"):
        list(passages(segs, 0))


def test_a_passage_share_of_the_target_texts_are_passages_after_the_sentences(tmp_path):
    tgt, src = tmp_path / "cym.txt", tmp_path / "eng.txt"
    tgt.write_text(" ".join(f"Brawddeg rhif {i} yma." for i in range(40)) + "\n")  # one document, 40 sentences of 4 words
    src.write_text("\n".join(f"English sentence number {i} here." for i in range(50)) + "\n")
    texts = target_texts([tgt], "text", None, 8, passage_share=0.25, passage_words=8)
    assert texts[:6] == [f"Brawddeg rhif {i} yma." for i in range(6)]  # 8 - round(8 x 0.25) sentences first
    assert texts[6:] == ["Brawddeg rhif 6 yma. Brawddeg rhif 7 yma.", "Brawddeg rhif 8 yma. Brawddeg rhif 9 yma."]
    assert target_texts([tgt], "text", None, 8) == [f"Brawddeg rhif {i} yma." for i in range(8)]
    # the pairs without parallel text: the passages among the target texts, the source sentences as before
    pairs = monolingual_sentences([tgt], [src], 8, 0.25, "text", None, passage_share=0.5, passage_words=12)
    assert [g for _, g in pairs[4:8]] == [" ".join(f"Brawddeg rhif {i} yma." for i in range(j, j + 3)) for j in (4, 7, 10, 13)]
    assert len(pairs) == 8 + 3 and pairs[8][1] == "English sentence number 0 here."
    # decontamination drops the evaluation sentence before passages are joined
    texts = target_texts([tgt], "text", ["Brawddeg rhif 1 yma."], 4, passage_share=0.5, passage_words=8)
    assert texts == ["Brawddeg rhif 0 yma.", "Brawddeg rhif 2 yma.", "Brawddeg rhif 3 yma. Brawddeg rhif 4 yma.",
                     "Brawddeg rhif 5 yma. Brawddeg rhif 6 yma."]


@pytest.mark.slow
def test_the_real_bibles_align_verse_by_verse():
    """eng/bible_web.txt (one verse per line, no references, with a preface, the deuterocanon between
    the testaments and a glossary on its last line) against swa/bible_suv.tsv (31,102 verses)."""
    root = data_root_or_skip() / "corpora"
    st = ParallelStats()
    pairs = read_parallel(root / "eng" / "bible_web.txt", root / "swa" / "bible_suv.tsv", stats=st)
    assert 30_900 <= len(pairs) <= 31_102 and st.dropped_unaligned < 150
    assert pairs[0] == ("In the beginning, God created the heavens and the earth.", "Hapo mwanzo Mungu aliziumba mbingu na nchi.")
    assert ("God said, “ Let there be light,” and there was light.", "Mungu akasema, Iwe nuru; ikawa nuru.") in pairs
    # the last English line carries the glossary: Revelation 22:20-21 are left out, 22:19 is the last pair
    assert pairs[-1][0].startswith("If anyone takes away from the words of the book of this prophecy")
    assert pairs[-1][1].startswith("Na mtu ye yote akiondoa lo lote katika maneno ya unabii")
    for eng, swa in (("Moses", "Musa"), ("David", "Daudi"), ("Jerusalem", "Yerusalemu")):  # names agree across each pair
        hits = [s for e, s in pairs if eng in e]
        assert sum(swa in s for s in hits) / len(hits) > 0.97, eng


# ---- end to end on tiny random models

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny-emb")
    teacher = make_tiny(d / "teacher", "bert")
    init = shrink_to_dir(teacher, d / "init", layers=2, hidden=32, ffn=64, head_strategy="first", ffn_strategy="first",
                         hidden_strategy="truncate", measure=None, progress=False)
    swa, eng = d / "swa.txt", d / "eng.txt"
    swa.write_text("\n".join(SWAHILI * 12) + "\n")
    eng.write_text("\n".join(ENGLISH * 12) + "\n")
    return {"teacher": teacher, "init": init, "swa": swa, "eng": eng}


def _stats(out: Path) -> dict:
    return json.loads((out / "monoglot.json").read_text())["stats"]


@pytest.mark.parametrize("distance", ["mse", "cosine"])
def test_tiny_random_sentence_losses_fall(tiny, tmp_path, distance):
    s = DistillSettings(steps=30, batch_size=4, seq_len=16, val_batches=1, lr=3e-3, precision="no", embedding_loss=distance,
                        loss=LossWeights(hidden=1, attention=0, embedding=1, parallel=1, contrastive=0.1))
    out = distill(tiny["teacher"], tiny["init"], [tiny["swa"]], tmp_path / "s", s, parallel=(tiny["eng"], tiny["swa"]), progress=False)
    st = _stats(out)
    h = st["history"]
    assert {"embedding", "parallel", "contrastive", "hidden"} <= set(h[0])
    assert st["val_loss_after"]["sentences"] < 0.7 * st["val_loss_before"]["sentences"]
    for k in ("embedding", "parallel"):
        assert sum(r[k] for r in h[-5:]) < 0.7 * sum(r[k] for r in h[:5]), k
    assert st["parallel_text"]["kept"] == 48 and st["tokens"] > 30 * 4 * 16


def test_tiny_random_sentence_losses_alone_skip_the_token_chunks(tiny, tmp_path):
    s = DistillSettings(steps=4, batch_size=4, seq_len=16, val_batches=1, precision="no", contrastive_queue=8,
                        loss=LossWeights(hidden=0, attention=0, embedding=1, contrastive=1, similarity=1))
    out = distill(tiny["teacher"], tiny["init"], [tiny["swa"]], tmp_path / "s", s, progress=False)
    st = _stats(out)
    assert set(st["val_loss_after"]) == {"sentences"} and {r["lang"] for r in st["history"]} == {"sentences"}
    assert set(st["history"][0]) >= {"embedding", "contrastive", "similarity"} and "hidden" not in st["history"][0]


def test_tiny_random_sentence_batch_size_is_independent_of_the_chunk_batch(tiny, tmp_path):
    def sentence_tokens(n: int, name: str) -> int:
        s = DistillSettings(steps=3, batch_size=4, sentence_batch_size=n, seq_len=16, val_batches=1, precision="no",
                            val_every=0, loss=LossWeights(hidden=0, attention=0, embedding=1, contrastive=1))
        return _stats(distill(tiny["teacher"], tiny["init"], [tiny["swa"]], tmp_path / name, s, progress=False))["tokens"]

    assert 1.5 < sentence_tokens(8, "eight") / sentence_tokens(4, "four") < 2.5  # twice the sentences per step
    s = DistillSettings(steps=2, batch_size=6, grad_accum=3, sentence_batch_size=4, seq_len=16, val_batches=1,
                        loss=LossWeights(embedding=1))
    with pytest.raises(BadInput, match="sentence_batch_size 4 is not divisible by processes"):
        distill(tiny["teacher"], tiny["init"], [tiny["swa"]], tmp_path / "s", s, progress=False)


def test_tiny_random_monolingual_share_adds_corpus_sentences_paired_with_themselves(tiny, tmp_path):
    s = DistillSettings(steps=2, batch_size=4, seq_len=16, val_batches=1, precision="no", val_every=0, monolingual_share=0.25,
                        group_by_length=True,
                        loss=LossWeights(hidden=0, attention=0, embedding=1, parallel=1, contrastive=1))
    st = _stats(distill(tiny["teacher"], tiny["init"], [tiny["eng"]], tmp_path / "s", s, parallel=(tiny["eng"], tiny["swa"]),
                        progress=False))
    assert st["parallel_text"]["kept"] == 48 and st["sentences"] == {"pairs": 64, "monolingual": 16}  # 48 x 0.25 / 0.75


def test_tiny_random_passages_give_the_sentence_losses_longer_texts(tiny, tmp_path):
    def tokens(share: float, name: str) -> int:
        s = DistillSettings(steps=3, batch_size=4, seq_len=64, val_batches=1, precision="no", val_every=0, sentences=16,
                            passage_share=share, passage_words=12, loss=LossWeights(hidden=0, attention=0, embedding=1, contrastive=1))
        st = _stats(distill(tiny["teacher"], tiny["init"], [tiny["swa"]], tmp_path / name, s, progress=False))
        assert st["sentences"]["monolingual"] == 16
        return st["tokens"]

    assert tokens(0.5, "passages") > 1.5 * tokens(0.0, "sentences")  # half the texts are passages of 12+ words


def test_tiny_random_a_source_that_is_its_target_reuses_the_target_embedding(tiny):
    from monoglot.distill.data import Sentences, _pad
    from monoglot.distill.objective import sentence_embeddings, source_embeddings
    from monoglot.teachers import load_encoder, load_tokenizer

    model, tok = load_encoder(tiny["init"]).eval(), load_tokenizer(tiny["init"])
    tgt = tok(["habari ya asubuhi", "ninakwenda sokoni leo", "a"])["input_ids"]
    src = tok(["good morning to you all", "ninakwenda sokoni leo", "a"])["input_ids"]
    batch = Sentences(*_pad(tgt, 0), *_pad(src, 0), torch.tensor([False, True, True]))
    assert batch.tokens() == sum(map(len, tgt)) + len(src[0])  # the repeated sources are not run
    emb_tgt = sentence_embeddings(model, batch.tgt_ids, batch.tgt_mask)
    full = sentence_embeddings(model, batch.src_ids, batch.src_mask)  # every source run, padding and all
    got = source_embeddings(model, batch, emb_tgt)
    torch.testing.assert_close(got, full, atol=1e-5, rtol=1e-5)
    got.sum().backward()  # differentiable through both the reused and the computed rows
    assert all(p.grad is not None for p in model.embeddings.parameters() if p.requires_grad)


def test_length_grouped_sentence_batches_pad_less_and_keep_every_pair(tiny):
    from monoglot.distill.data import SentenceStream
    from monoglot.teachers import load_tokenizer

    tok = load_tokenizer(tiny["init"])
    words = (" ".join(SWAHILI) + " " + " ".join(ENGLISH)).split()
    pairs = [(None, " ".join(words[:1 + (7 * i) % 40])) for i in range(400)]
    plain, grouped = (SentenceStream(tok, pairs, 8, 16, 64, "", seed=1, group_by_length=g) for g in (False, True))
    assert [b.tgt_ids.tolist() for b in plain.validation(2)] == [b.tgt_ids.tolist() for b in grouped.validation(2)]
    assert sorted(map(tuple, plain.tgt[16:])) == sorted(map(tuple, grouped.tgt[16:]))  # the same pairs, reordered

    def padded(stream) -> float:
        batches = [stream.next() for _ in range((400 - 16) // 8)]
        return sum(b.tgt_mask.numel() for b in batches) / sum(int(b.tgt_mask.sum()) for b in batches)

    assert padded(grouped) < 1.2 and padded(plain) > 1.5


def test_the_parallel_loss_without_parallel_text_is_refused(tiny, tmp_path):
    s = DistillSettings(steps=2, batch_size=4, seq_len=16, val_batches=1, loss=LossWeights(parallel=1))
    with pytest.raises(BadInput, match="needs parallel text; give --parallel"):
        distill(tiny["teacher"], tiny["init"], [tiny["swa"]], tmp_path / "s", s, progress=False)


def _cli(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "monoglot", "distill", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("queue", [0, 6])  # 6: a memory bank of contrastive negatives, restored from the checkpoint
def test_tiny_random_sentence_batches_resume_exactly_after_sigterm(tiny, tmp_path, queue):
    args = [tiny["teacher"], tiny["init"], "--corpus", tiny["swa"], "--parallel", f"{tiny['eng']},{tiny['swa']}",
            "--steps", 12, "--batch-size", 4, "--seq-len", 16, "--checkpoint-every", 4, "--contrastive-queue", queue,
            "--loss", "parallel=1", "--loss", "contrastive=0.5", "--precision", "no", "--quiet"]
    ref = _cli(*args, "--out", tmp_path / "ref")
    assert ref.wait(300) == 0, ref.stderr.read()
    out = tmp_path / "student"
    p = _cli(*args, "--out", out)
    target = work_dir(out) / "step-0000004" / "state.json"
    import time

    deadline = time.time() + 120
    while not target.is_file():
        assert p.poll() is None and time.time() < deadline
        time.sleep(0.005)
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 143  # 128 + SIGTERM
    r = _cli(*args, "--out", out, "--resume")
    assert r.wait(300) == 0, r.stderr.read()
    from safetensors.torch import load_file

    a, b = load_file(str(out / "model.safetensors")), load_file(str(tmp_path / "ref" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _stats(out)["history"] == _stats(tmp_path / "ref")["history"]


# ---- precision

def test_auto_precision_follows_the_cpu_flags(monkeypatch):
    import monoglot.distill.precision as P

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for flags, want in ((frozenset({"avx2", "amx_bf16", "amx_tile"}), "bf16"), (frozenset({"avx512f", "avx512_bf16"}), "bf16"),
                        (frozenset({"avx2", "fma"}), "no")):
        monkeypatch.setattr(P, "cpu_flags", lambda flags=flags: flags)
        got, why = resolve_precision("auto", "cpu")
        assert got == want and why.startswith("auto:")
    assert resolve_precision("no", "cpu") == ("no", "set by the user")


@pytest.mark.parametrize("precision", ["bf16", "bf16-teacher"])
def test_tiny_random_bf16_distillation_runs_and_is_recorded(tiny, tmp_path, precision):
    s = DistillSettings(steps=3, batch_size=4, seq_len=16, val_batches=1, precision=precision,
                        loss=LossWeights(hidden=1, attention=1, embedding=1))
    out = distill(tiny["teacher"], tiny["init"], [tiny["swa"]], tmp_path / "s", s, progress=False)
    st = _stats(out)
    assert st["precision"] == precision and st["precision_reason"] == "set by the user"
    assert all(math.isfinite(r["loss"]) for r in st["history"])
    from safetensors.torch import load_file

    assert all(v.dtype == torch.float32 for v in load_file(str(out / "model.safetensors")).values())  # fp32 master weights
    # the same run in fp32: the same data, so the first step's loss differs only by bf16 rounding
    fp32 = _stats(distill(tiny["teacher"], tiny["init"], [tiny["swa"]], tmp_path / "f", s.model_copy(update={"precision": "no"}),
                          progress=False))
    first, first32 = st["history"][0]["loss"], fp32["history"][0]["loss"]
    assert first != first32 and first == pytest.approx(first32, rel=0.05)
