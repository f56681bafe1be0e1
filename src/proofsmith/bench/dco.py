"""`proofsmith bench dco`: CE vs DCO vs DCO-step fine-tunes, pass@k through the real Coq checker.

Same data, same steps, same seed, same LoRA settings; only the loss differs. Each model
then samples N whole proofs (temperature 1) per held-out theorem, every proof is
checked by coqc (CoqChecker), and pass@k for k = 1..N (the unbiased estimator) is
tabulated and plotted. The paper's claim to test: CE's pass@1 gains cost pass@N for
large N; DCO keeps pass@N higher.

Data: the Coq corpus in $PROOFSMITH_DCO_CORPUS (a `proofsmith extract coq` directory:
its random split's train proofs train, its test theorems are held out) or, when that is
unset, a built-in family of small theorems, each with several valid proofs of unequal
frequency (the setting where over-confidence shows: CE piles onto the commonest proof).
Trained models and results are kept under the cache directory, so a rerun resumes.
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
LOSSES = (("ce", 1.0), ("dco", None), ("dco-step", 4.0))  # None: DCO's N = the samples drawn
MAX_NEW_TOKENS = 48

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
    import pyarrow.parquet as pq

    def rows(split):
        return [r for f in sorted(Path(root, "data", "random").glob(f"{split}-*.parquet"))
                for r in pq.read_table(f).to_pylist() if not r["admitted"]]

    def task(r):
        return {"task_id": r["full_name"], "kind": "coq", "prelude": r["prelude"], "statement": r["statement"],
                "reference": r["proof"]}

    return [task(r) for r in rows("train")[:n_train]], [task(r) for r in rows("test")[:n_test]]


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


def sample_proofs(lm, statement: str, n: int, seed: int) -> list[str]:
    """n whole proofs at temperature 1 in the bare layout the models were trained in."""
    import torch

    from ..provers.decoding.engine import complete
    from ..provers.search.prompts import clean_proof
    from ..provers.training.data import proof_prompt

    ids = lm.tokenizer(proof_prompt(statement, "bare"), add_special_tokens=False)["input_ids"]
    generator = torch.Generator(device=lm.device).manual_seed(seed)
    outs = complete(lm, [ids] * n, MAX_NEW_TOKENS, temperature=1.0, top_p=1.0, stop=("Qed.",), generator=generator)
    return [clean_proof(c.text) for c in outs]


def evaluate(model_dir: Path, tests: list[dict], n: int, results: Path, label: str) -> list[tuple[int, int]]:
    """(n, c) per test task; one JSON line per task appended as it finishes (resumable)."""
    from tqdm import tqdm

    from ..checkers.coq import CoqChecker
    from ..core import Candidate, Task
    from ..provers.decoding.models import load_model

    done = {}
    if results.exists():
        done = {r["task_id"]: r for r in map(json.loads, results.read_text().splitlines())}
    todo = [t for t in tests if t["task_id"] not in done]
    if todo:
        lm = load_model(str(model_dir) if model_dir else None)
        checker = CoqChecker()
        for i, t in enumerate(tqdm(todo, desc=f"pass@k {label}", unit="thm")):
            task = Task(id=t["task_id"], kind="coq", statement=t["statement"], context=t["prelude"])
            verdicts: dict[str, bool] = {}  # identical samples are checked once
            proofs = sample_proofs(lm, t["statement"], n, seed=i)
            for proof in proofs:
                if proof not in verdicts:
                    verdicts[proof] = bool(proof) and checker.check(task, Candidate(task.id, proof)).passed
            line = {"task_id": task.id, "n": n, "c": sum(verdicts[p] for p in proofs), "proofs": proofs}
            with results.open("a") as f:
                f.write(json.dumps(line) + "\n")
            done[task.id] = line
    return [(done[t["task_id"]]["n"], done[t["task_id"]]["c"]) for t in tests]


def run(quick: bool = False) -> dict:
    from ..eval.passk import pass_at_k
    from ..paths import cache_dir
    from ..provers.training.loop import TrainConfig, train

    size = _size(QUICK if quick else FULL, os.environ.get("PROOFSMITH_DCO_SIZE", ""))
    corpus = os.environ.get("PROOFSMITH_DCO_CORPUS")
    if corpus:
        train_tasks, tests = corpus_data(corpus, size["train_theorems"], size["test_theorems"])
    else:
        _validate_family()
        train_tasks, tests = family_data(size["train_theorems"], size["test_theorems"])
    tag = hashlib.sha256(json.dumps([size, LOSSES, train_tasks, tests]).encode()).hexdigest()[:12]
    root = cache_dir("bench", "dco", tag)
    data = root / "train.jsonl"
    data.write_text("".join(json.dumps(t) + "\n" for t in train_tasks))
    n = size["samples"]
    print(f"bench dco: {len(train_tasks)} train proofs, {len(tests)} held-out theorems "
          f"({'corpus ' + corpus if corpus else 'built-in family'}), {size['steps']} steps x {size['batch_size']}, "
          f"{n} samples each; runs in {root}", flush=True)
    curves, seconds = {}, {}
    for loss, loss_n in LOSSES:
        start = time.time()
        config = TrainConfig(loss=loss, n=loss_n or n, steps=size["steps"], batch_size=size["batch_size"],
                             lr=size["lr"], seed=0, layout="bare", pairs="proofs", log_every=5,
                             checkpoint_every=10)
        train(data, root / loss, config)
        counts = evaluate(root / loss, tests, n, root / f"results-{loss}.jsonl", loss)
        curves[loss] = [round(sum(pass_at_k(nn, c, k) for nn, c in counts) / len(counts), 4) for k in range(1, n + 1)]
        seconds[loss] = round(time.time() - start, 1)
    print(f"{'loss':<10}" + "".join(f"{'pass@' + str(k):>9}" for k in range(1, n + 1)))
    for loss, curve in curves.items():
        print(f"{loss:<10}" + "".join(f"{v:>9.3f}" for v in curve))
    plot = _plot(curves, root / "pass_at_k.png")
    return {"k": list(range(1, n + 1)), "pass_at_k": curves, "seconds": seconds, "plot": str(plot),
            "test_theorems": len(tests), "train_proofs": len(train_tasks), "steps": size["steps"],
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
