"""The one resumable run: order, resume after a kill, torn lines, refusing other inputs or settings, executors."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass

import pytest

from proofsmith.core import ProofsmithError
from proofsmith.runs import Directory, Jsonl, Processes, Ray, Serial, Threads, run_resumable


@dataclass(frozen=True)
class Item:
    id: str
    n: int


ITEMS = [Item(f"i{k}", k) for k in range(12)]


class Square:
    """A real step: squares n, slower for early items so that they finish out of order."""

    def __call__(self, item: Item) -> dict:
        time.sleep(0.02 * ((len(ITEMS) - item.n) % 4))
        return {"task_id": item.id, "square": item.n * item.n, "pid": os.getpid()}


class DiesAfter:
    """Stands in for a kill: fails on the k-th item it sees, after the earlier ones are done."""

    def __init__(self, k: int) -> None:
        self.k, self.seen = k, []

    def __call__(self, item: Item) -> dict:
        if item.n >= self.k:
            raise RuntimeError("killed")
        self.seen.append(item.id)
        return {"task_id": item.id, "square": item.n * item.n}


class Counting(Square):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, item: Item) -> dict:
        self.seen.append(item.id)
        return {"task_id": item.id, "square": item.n * item.n}


def key(item: Item) -> str:
    return item.id


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("executor", [Serial(), Threads(4), Processes(2)], ids=["serial", "threads", "processes"])
def test_results_in_input_order(tmp_path, executor):
    out = tmp_path / "out.jsonl"
    outcome = run_resumable(ITEMS, Square(), out, key=key, executor=executor, progress=False)
    assert [r["task_id"] for r in lines(out)] == [i.id for i in ITEMS]
    assert [r["square"] for r in outcome.records] == [i.n * i.n for i in ITEMS]
    assert (outcome.resumed, outcome.ran) == (0, len(ITEMS))
    if isinstance(executor, Processes):
        assert {r["pid"] for r in outcome.records} != {os.getpid()}


def test_a_killed_run_resumes_with_what_is_left(tmp_path):
    out = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError, match="killed"):
        run_resumable(ITEMS, DiesAfter(5), out, key=key, executor=Threads(3), progress=False)
    first = [r["task_id"] for r in lines(out)]
    assert first == [i.id for i in ITEMS[:len(first)]] and len(first) <= 5  # a prefix, in order
    step = Counting()
    outcome = run_resumable(ITEMS, step, out, key=key, executor=Threads(3), progress=False)
    assert [r["task_id"] for r in lines(out)] == [i.id for i in ITEMS]  # nothing twice, nothing lost
    assert sorted(step.seen) == sorted(i.id for i in ITEMS[len(first):])
    assert (outcome.resumed, outcome.ran) == (len(first), len(ITEMS) - len(first))


def test_torn_last_line_is_dropped(tmp_path):
    out = tmp_path / "out.jsonl"
    run_resumable(ITEMS[:3], Counting(), out, key=key, progress=False)
    with open(out, "a") as f:
        f.write('{"task_id": "i3", "squ')  # a kill mid-write
    outcome = run_resumable(ITEMS, Counting(), out, key=key, progress=False)
    assert outcome.resumed == 3
    assert [r["task_id"] for r in lines(out)] == [i.id for i in ITEMS]


def test_resume_with_identical_inputs_and_settings_continues(tmp_path):
    out = tmp_path / "out.jsonl"
    run_resumable(ITEMS[:4], Counting(), out, key=key, settings={"timeout": 5}, progress=False)
    step = Counting()
    again = run_resumable(ITEMS, step, out, key=key, settings={"timeout": 5}, progress=False)
    assert again.resumed == 4 and step.seen == [i.id for i in ITEMS[4:]]
    assert json.loads((tmp_path / "out.jsonl.run.json").read_text())["settings"] == {"timeout": 5}


def test_other_settings_are_refused(tmp_path):
    out = tmp_path / "out.jsonl"
    run_resumable(ITEMS[:2], Counting(), out, key=key, settings={"timeout": 5}, progress=False)
    with pytest.raises(ProofsmithError, match=r"other settings \(timeout\); use another --out"):
        run_resumable(ITEMS, Counting(), out, key=key, settings={"timeout": 10}, progress=False)


def test_changed_or_reordered_inputs_are_refused(tmp_path):
    out = tmp_path / "out.jsonl"
    run_resumable(ITEMS[:3], Counting(), out, key=key, progress=False)
    changed = [ITEMS[0], Item("i1", 100), *ITEMS[2:]]  # same keys, other content: a regenerated file
    with pytest.raises(ProofsmithError, match=r"other inputs \(line 2, 'i1', changed\); use another --out") as exc:
        run_resumable(changed, Counting(), out, key=key, progress=False)
    assert "\n" not in str(exc.value)
    with pytest.raises(ProofsmithError, match="does not match the inputs"):
        run_resumable(ITEMS[::-1], Counting(), out, key=key, progress=False)
    with pytest.raises(ProofsmithError, match="has 3 results for 2 inputs"):
        run_resumable(ITEMS[:2], Counting(), out, key=key, progress=False)


def test_out_may_not_be_an_input(tmp_path):
    samples = tmp_path / "samples.jsonl"
    samples.write_text('{"task_id": "i0"}\n')
    with pytest.raises(ProofsmithError, match="is one of the inputs"):
        run_resumable(ITEMS, Counting(), samples, key=key, inputs=[tmp_path / "tasks.jsonl", samples], progress=False)
    assert samples.read_text() == '{"task_id": "i0"}\n'


def test_keyed_output_extends_and_keeps_other_keys(tmp_path):
    out = Jsonl(tmp_path / "out.jsonl", match="key")
    run_resumable(ITEMS[:6], Counting(), out, key=key, progress=False)
    step = Counting()
    outcome = run_resumable(ITEMS[3:9], step, out, key=key, progress=False)  # a larger --limit, say
    assert step.seen == ["i6", "i7", "i8"] and outcome.resumed == 3
    assert [r["task_id"] for r in outcome.records] == [f"i{k}" for k in range(9)]
    with pytest.raises(ProofsmithError, match=r"other inputs \('i4' changed\)"):
        run_resumable([Item("i4", 40)], Counting(), out, key=key, progress=False)


def test_progress_postfix_sees_old_and_new_records(tmp_path):
    out = tmp_path / "out.jsonl"
    run_resumable(ITEMS[:5], Counting(), out, key=key, progress=False)
    seen = []
    run_resumable(ITEMS, Counting(), out, key=key, progress=False, postfix=lambda r: seen.append(r["task_id"]))
    assert seen == [i.id for i in ITEMS]


def test_directory_output_resumes_by_file(tmp_path):
    sink = Directory(tmp_path / "files")
    first = run_resumable(ITEMS, Square(), sink, key=key, executor=Threads(4), settings={"v": 1}, progress=False)
    assert first.ran == len(ITEMS) and len(list((tmp_path / "files").glob("*.json"))) == len(ITEMS)
    assert json.loads(sink.file("i3").read_text())["square"] == 9
    sink.file("i7").unlink()
    step = Counting()
    again = run_resumable(ITEMS, step, sink, key=key, executor=Threads(4), settings={"v": 1}, progress=False)
    assert step.seen == ["i7"] and (again.resumed, again.ran) == (len(ITEMS) - 1, 1)
    with pytest.raises(ProofsmithError, match="other settings"):
        run_resumable(ITEMS, Counting(), sink, key=key, settings={"v": 2}, progress=False)
    with pytest.raises(ProofsmithError, match=r"other inputs \('i2' changed\)"):
        run_resumable([Item("i2", 5)], Counting(), sink, key=key, settings={"v": 1}, progress=False)


def test_ray_missing_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ProofsmithError, match=r"--ray needs: pip install 'proofsmith\[ray\]'"):
        list(Ray("local").map(Square(), ITEMS))


def test_ray_runs_the_same_step_on_a_local_cluster(tmp_path):
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the step lives in this test file
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        out = tmp_path / "out.jsonl"
        outcome = run_resumable(ITEMS, Square(), out, key=key, executor=Ray("local"), progress=False)
        assert [r["task_id"] for r in lines(out)] == [i.id for i in ITEMS]
        assert [r["square"] for r in outcome.records] == [i.n * i.n for i in ITEMS]
        assert os.getpid() not in {r["pid"] for r in outcome.records}  # it ran in Ray's workers
    finally:
        ray.shutdown()
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_keyed_output_needs_one_key_per_input(tmp_path):
    with pytest.raises(ProofsmithError, match="two inputs share the key 'i1'"):
        run_resumable([ITEMS[0], ITEMS[1], Item("i1", 7)], Counting(), Jsonl(tmp_path / "o.jsonl", match="key"),
                      key=key, progress=False)


def _broken_initializer() -> None:
    raise RuntimeError("worker cannot start")


def test_a_worker_that_cannot_start_stops_the_run_instead_of_hanging(tmp_path):
    with pytest.raises(RuntimeError, match="worker cannot start"):
        run_resumable(ITEMS[:4], Square(), tmp_path / "out.jsonl", key=key,
                      executor=Processes(2, initializer=_broken_initializer), progress=False)
