"""`proofsmith bench dco`: CE vs DCO vs DCO-step fine-tunes, pass@k through the real Coq checker.

Same data, same steps, same seed, same LoRA settings; only the loss differs. Each model
then samples N whole proofs (temperature 1) per held-out theorem, every proof is
checked by coqc (CoqChecker), and pass@k for k = 1..N (the unbiased estimator) is
tabulated and plotted. The paper's claim to test: CE's pass@1 gains cost pass@N for
large N; DCO keeps pass@N higher.

Data: the Coq corpus in $PROOFSMITH_DCO_CORPUS (a `proofsmith extract coq` directory:
its random split's train proofs train, its test theorems are held out; size CORPUS, N = 64
samples on 50 theorems, where pass@N can separate) or, when that is unset, a built-in
family of small theorems, each with several valid proofs of unequal frequency (the
setting where over-confidence shows: CE piles onto the commonest proof). Sampling and
checking: dco_eval.py (continuous batching, identical samples judged once, a live Coq
session screens, coqc decides). Trained models and results are kept under the cache
directory, so a rerun resumes.
PROOFSMITH_DCO_SIZE="steps=20,test_theorems=6,..." overrides the size (keys of FULL).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from pathlib import Path

FULL = {"steps": 40, "batch_size": 8, "train_theorems": 160, "test_theorems": 12, "samples": 8, "lr": 1e-3}
QUICK = {"steps": 6, "batch_size": 4, "train_theorems": 40, "test_theorems": 3, "samples": 4, "lr": 1e-3}
CORPUS = {"steps": 40, "batch_size": 8, "train_theorems": 4000, "test_theorems": 50, "samples": 64, "lr": 1e-3}
LOSSES = (("ce", 1.0), ("dco", None), ("dco-step", 4.0))  # None: DCO's N = the samples drawn
MAX_PROOF_CHARS, MAX_STATEMENT_CHARS = 160, 400  # corpus training proofs a sample's tokens can hold

# name, statement, [(proof, weight)]; {a} {b} numbers, {p} {q} {x} variable names
FAMILY = [
    ("add_{a}_{b}", "{a} + {b} = {sum}", [("reflexivity.", 6), ("simpl. reflexivity.", 3), ("auto.", 1)]),
    ("mul_{a}_{b}", "{a} * {b} = {prod}", [("reflexivity.", 6), ("simpl. reflexivity.", 3), ("auto.", 1)]),
    ("and_comm_{p}_{q}", "forall {p} {q} : Prop, {p} /\\ {q} -> {q} /\\ {p}",
     [("intros {p} {q} H. destruct H as [H1 H2]. split. exact H2. exact H1.", 6),
      ("intros {p} {q} [H1 H2]. split; assumption.", 3), ("tauto.", 1)]),
    ("or_intro_{p}_{q}", "forall {p} {q} : Prop, {p} -> {p} \\/ {q}",
     [("intros {p} {q} H. left. exact H.", 6), ("intros. left. assumption.", 3), ("auto.", 1)]),
    ("impl_{p}_{q}", "forall {p} {q} : Prop, {p} -> {q} -> {p}",
     [("intros {p} {q} H1 H2. exact H1.", 6), ("auto.", 3), ("intros. assumption.", 1)]),
    ("add_0_{x}", "forall {x} : nat, {x} + 0 = {x}",
     [("intros {x}. induction {x}. reflexivity. simpl. rewrite IH{x}. reflexivity.", 6),
      ("intros. symmetry. apply plus_n_O.", 3), ("intros {x}. rewrite <- plus_n_O. reflexivity.", 1)]),
]
PROPS, NATS = ["A", "B", "P", "Q", "R", "S", "X", "Y"], ["n", "m", "k", "p"]


def family_theorem(template: tuple, rng: random.Random) -> tuple[str, list[tuple[str, int]]]:
    name, statement, proofs = template
    p, q = rng.sample(PROPS, 2)
    a, b = rng.randint(0, 30), rng.randint(0, 12)
    values = {"a": a, "b": b, "sum": a + b, "prod": a * b, "p": p, "q": q, "x": rng.choice(NATS)}
    head = f"Theorem {name.format(**values)} : {statement.format(**values)}."
    return head, [(proof.format(**values), weight) for proof, weight in proofs]


def _theorem_id(statement: str) -> str:
    return statement.split(":", 1)[0].split()[-1]


def family_data(n_train: int, n_test: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Train tasks (one proof each, drawn by weight) and held-out test tasks (new statements)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    tasks = []
    for attempt in range(100 * (n_train + n_test)):  # templates with few variants run out: others go on
        if len(tasks) == n_train + n_test:
            break
        statement, proofs = family_theorem(FAMILY[attempt % len(FAMILY)], rng)
        if _theorem_id(statement) in seen:  # the name encodes the content: no statement twice
            continue
        seen.add(_theorem_id(statement))
        style = rng.choices(range(len(proofs)), [w for _, w in proofs])[0]
        tasks.append({"task_id": f"family/{len(tasks)}", "kind": "coq", "prelude": "", "statement": statement,
                      "reference": f"Proof. {proofs[style][0]} Qed.", "style": style})
    rng.shuffle(tasks)
    return tasks[:n_train], tasks[n_train:]


def corpus_data(root: str, n_train: int, n_test: int) -> tuple[list[dict], list[dict]]:
    """Non-admitted theorems of the corpus's random split: train proofs, held-out test theorems."""
    from ..provers.training.data import corpus_rows, proof_body

    def task(r):
        return {"task_id": r["full_name"], "kind": "coq", "prelude": r["prelude"], "statement": r["statement"],
                "reference": r["proof"]}

    rows = {split: [task(r) for r in corpus_rows(root, split) if not r["admitted"]] for split in ("train", "test")}
    # a sample has MAX_NEW_TOKENS tokens: longer training proofs teach nothing it can write (every test theorem stays)
    short = [t for t in rows["train"] if len(proof_body(t["reference"]) or "") <= MAX_PROOF_CHARS
             and len(t["statement"]) <= MAX_STATEMENT_CHARS]
    return short[:n_train], rows["test"][:n_test]


def _validate_family() -> None:
    """Every proof style of the family compiles (checked once per run, on one instance each)."""
    from ..checkers.coq import CoqChecker
    from ..core import Candidate, ProofsmithError, Task

    checker, rng = CoqChecker(), random.Random(1)
    for template in FAMILY:
        statement, proofs = family_theorem(template, rng)
        for proof, _ in proofs:
            verdict = checker.check(Task(id="v", kind="coq", statement=statement), Candidate("v", proof))
            if not verdict.passed:
                raise ProofsmithError(f"bench dco: family proof {proof!r} of {statement!r} fails: {verdict.message}")


def evaluate(lm, tests: list[dict], n: int, results: Path, label: str) -> dict[str, tuple[int, int]]:
    """task id -> (n, c) for `tests`; one JSON line per task appended as it finishes (resumable)."""
    from tqdm import tqdm

    from ..checkers.coq import CoqChecker
    from .dco_eval import judge, sample_all

    done = {}
    if results.exists():
        done = {r["task_id"]: r for r in map(json.loads, results.read_text().splitlines())}
    todo = [t for t in tests if t["task_id"] not in done]
    if todo:
        checker = CoqChecker()
        for i, proofs in tqdm(sample_all(lm, todo, n), total=len(todo), desc=f"pass@k {label}", unit="thm"):
            passed = judge(todo[i], proofs, checker)
            line = {"task_id": todo[i]["task_id"], "n": n, "c": sum(passed[p] for p in proofs),
                    "distinct": len(passed), "proofs": proofs}
            with results.open("a") as f:
                f.write(json.dumps(line) + "\n")
            done[line["task_id"]] = line
    return {t["task_id"]: (done[t["task_id"]]["n"], done[t["task_id"]]["c"]) for t in tests}


EVAL_CHUNK = 10  # theorems per loss in turn: a stopped run leaves the three losses on the same theorems


def run(quick: bool = False) -> dict:
    from ..eval.passk import pass_at_k
    from ..paths import cache_dir
    from ..provers.decoding.models import load_model
    from ..provers.training.loop import TrainConfig, train

    corpus = os.environ.get("PROOFSMITH_DCO_CORPUS")
    size = _size(QUICK if quick else CORPUS if corpus else FULL, os.environ.get("PROOFSMITH_DCO_SIZE", ""))
    if corpus:
        train_tasks, tests = corpus_data(corpus, size["train_theorems"], size["test_theorems"])
    else:
        _validate_family()
        train_tasks, tests = family_data(size["train_theorems"], size["test_theorems"])
    # the trained models depend on the training settings only; results (by task, per N) are shared
    # by every run of those models, so a smaller test_theorems or N reads a larger run's lines
    trained = {k: size[k] for k in ("steps", "batch_size", "train_theorems", "lr")}
    tag = hashlib.sha256(json.dumps([trained, LOSSES, train_tasks]).encode()).hexdigest()[:12]
    root = cache_dir("bench", "dco", tag)
    data = root / "train.jsonl"
    data.write_text("".join(json.dumps(t) + "\n" for t in train_tasks))
    n = size["samples"]
    print(f"bench dco: {len(train_tasks)} train proofs, {len(tests)} held-out theorems "
          f"({'corpus ' + corpus if corpus else 'built-in family'}), {size['steps']} steps x {size['batch_size']}, "
          f"{n} samples each; runs in {root}", flush=True)
    seconds, models = {}, {}
    for loss, loss_n in LOSSES:
        start = time.time()
        config = TrainConfig(loss=loss, n=loss_n or n, steps=size["steps"], batch_size=size["batch_size"],
                             lr=size["lr"], seed=0, layout="bare", pairs="proofs", log_every=5,
                             checkpoint_every=4, max_len=256)
        train(data, root / loss, config)
        models[loss] = load_model(str(root / loss))
        seconds[loss] = round(time.time() - start, 1)
    counts: dict[str, dict] = {loss: {} for loss in models}
    for first in range(0, len(tests), EVAL_CHUNK):
        for loss, lm in models.items():
            start = time.time()
            counts[loss].update(evaluate(lm, tests[first:first + EVAL_CHUNK], n, root / f"results-{loss}-n{n}.jsonl",
                                         loss))
            seconds[loss] = round(seconds[loss] + time.time() - start, 1)
    curves = {loss: [round(sum(pass_at_k(nn, c, k) for nn, c in got.values()) / len(got), 4) for k in range(1, n + 1)]
              for loss, got in counts.items()}
    shown = sorted({k for k in (1, 2, 4, 8, 16, 32, 64, n) if k <= n})
    print(f"{'loss':<10}" + "".join(f"{'pass@' + str(k):>9}" for k in shown))
    for loss, curve in curves.items():
        print(f"{loss:<10}" + "".join(f"{curve[k - 1]:>9.3f}" for k in shown))
    plot = _plot(curves, root / f"pass_at_k-n{n}-t{len(tests)}.png")
    return {"k": list(range(1, n + 1)), "pass_at_k": curves, "seconds": seconds, "plot": str(plot),
            "test_theorems": len(tests), "train_proofs": len(train_tasks), "steps": size["steps"], "samples": n,
            "proved_at_n": {loss: sum(c > 0 for _, c in got.values()) for loss, got in counts.items()},
            "data": corpus or "built-in family",
            "dco_minus_ce_pass_at_n": round(curves["dco"][-1] - curves["ce"][-1], 4),
            "dco_step_minus_ce_pass_at_n": round(curves["dco-step"][-1] - curves["ce"][-1], 4)}


def _size(base: dict, overrides: str) -> dict:
    """PROOFSMITH_DCO_SIZE="steps=20,test_theorems=6" changes the run's size."""
    from ..core import ProofsmithError

    size = dict(base)
    for item in filter(None, (part.strip() for part in overrides.split(","))):
        key, _, value = item.partition("=")
        if key not in size:
            raise ProofsmithError(f"PROOFSMITH_DCO_SIZE: unknown key {key!r} (one of {', '.join(size)})")
        size[key] = type(size[key])(value)
    return size


def _plot(curves: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    styles = [("o", "-"), ("s", "--"), ("^", ":")]  # curves may coincide: keep each visible
    for (loss, curve), (marker, line) in zip(curves.items(), styles):
        ax.plot(range(1, len(curve) + 1), curve, marker=marker, linestyle=line, label=loss, alpha=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("pass@k")
    ax.set_title("CE vs DCO: pass@k on held-out theorems")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
