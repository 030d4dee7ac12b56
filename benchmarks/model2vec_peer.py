"""The peer users would pick instead of a student: model2vec static embeddings, beside monoglot's models.

model2vec (``pip install model2vec skeletoken``; its ``distill`` extra pins transformers < 5.4,
so install those two packages alone) distils a static embedding table from a sentence encoder:
each vocabulary piece is embedded by the encoder, reduced by PCA and Zipf-weighted; a sentence is
the mean of its pieces' rows. Here it is distilled from the SAME trimmed teacher, so on the same
vocabulary, and evaluated with the SAME frozen-embedding probes as monoglot's models
(:func:`monoglot.tasks.probe.classification_probe`, MTEB's protocol: logistic regression on 8
examples per label, 10 experiments, test accuracy). Token tasks need contextual word features, which
a static model lacks, so only sentence tasks are compared.

Speed is measured in the same run: sentences per second embedding the tasks' test sentences
(batch 32, as the probes do), alternating the models ``--rounds`` times, median reported.

Usage: python benchmarks/model2vec_peer.py [--trimmed DIR] [--student DIR ...] [--task SPEC ...]
       [--pca-dims 256] [--model2vec DIR] [--rounds 3] [--threads 2] [--work DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

TASKS = ["sib200:swh_Latn", "afrisenti:swa", "masakhanews:swa"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trimmed", type=Path, default=None, help="trimmed teacher (default: trim e5-small on the Swahili corpora)")
    ap.add_argument("--student", type=Path, action="append", default=[], help="student model directories to compare")
    ap.add_argument("--task", action="append", default=None, help=f"sentence task specs (default {', '.join(TASKS)})")
    ap.add_argument("--pca-dims", type=int, default=256)
    ap.add_argument("--model2vec", type=Path, default=None, help="a model2vec directory distilled before (skip distilling)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from model2vec.distill import distill

    from monoglot.cpu import cpu_line
    from monoglot.embeddings import encode
    from monoglot.prompts import model_prompts
    from monoglot.paths import data_root
    from monoglot.tasks import load_task
    from monoglot.tasks.probe import classification_probe
    from monoglot.teachers import load_encoder, load_tokenizer

    root = data_root()
    work = args.work or Path(tempfile.mkdtemp(prefix="m2v-peer-"))
    trimmed = args.trimmed
    if trimmed is None:
        from monoglot.vocab import trim_to_corpus

        trimmed = trim_to_corpus("e5-small", [root / "corpora" / "swa" / "maneno_yetu.txt", root / "corpora" / "swa" / "bible_suv.tsv"],
                                 work / "trimmed", overwrite=True, progress=False)
    t0 = time.perf_counter()
    if args.model2vec:
        from model2vec import StaticModel

        static, distill_seconds = StaticModel.from_pretrained(str(args.model2vec)), None
    else:
        static = distill(model_name=str(trimmed), pca_dims=args.pca_dims, device="cpu")
        distill_seconds = time.perf_counter() - t0
        static.save_pretrained(str(work / "model2vec"))

    def static_embed(texts: list[str]) -> np.ndarray:
        e = np.asarray(static.encode(list(texts), batch_size=32), dtype=np.float32)
        return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)

    embedders = {f"model2vec (from the trimmed teacher, PCA {args.pca_dims})": static_embed}
    for label, d in [("trimmed teacher", trimmed)] + [(f"student {p.name}", p) for p in args.student]:
        model, tok, prompt = load_encoder(d), load_tokenizer(d), model_prompts(d).get("query", "")
        embedders[label] = (lambda m, t, p: lambda texts: encode(m, t, list(texts), prompt=p, batch_size=32))(model, tok, prompt)

    tasks = {spec: load_task(spec, root) for spec in (args.task or TASKS)}
    scores = {label: {spec: classification_probe(f, task)["metrics"]["accuracy"] for spec, task in tasks.items()}
              for label, f in embedders.items()}
    sentences = [t for task in tasks.values() for t, _ in task.splits["test"]]
    speed: dict[str, list[float]] = {label: [] for label in embedders}
    for r in range(args.rounds):
        for label in (list(embedders) if r % 2 == 0 else list(embedders)[::-1]):
            t0 = time.perf_counter()
            embedders[label](sentences)
            speed[label].append(len(sentences) / (time.perf_counter() - t0))

    print(f"\n{cpu_line()}; {args.threads} threads; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    made = f"distilled in {distill_seconds:.1f} s" if distill_seconds else f"loaded from {args.model2vec}"
    print(f"trimmed teacher: {trimmed}; model2vec {made}; "
          f"speed on {len(sentences)} test sentences, median of {args.rounds} alternated rounds\n")
    head = ["model"] + [f"{s} acc" for s in tasks] + ["average", "sentences/s", "x trimmed teacher"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    ref = float(np.median(speed["trimmed teacher"]))
    rows = {}
    for label in embedders:
        acc = scores[label]
        sps = float(np.median(speed[label]))
        rows[label] = {"accuracy": acc, "average": float(np.mean(list(acc.values()))), "sentences_per_second": sps,
                       "per_round": speed[label]}
        print(f"| {label} | " + " | ".join(f"{100 * acc[s]:.1f}" for s in tasks)
              + f" | {100 * rows[label]['average']:.1f} | {sps:.0f} | {sps / ref:.1f} |")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_line(), "distill_seconds": distill_seconds, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
