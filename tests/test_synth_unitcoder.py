"""UnitCoder on the real sandbox and real stdlib sources; scripted answers for the edge cases,
the real default model for a short end-to-end run."""

from __future__ import annotations

import json
import os
import sysconfig

import pytest

from proofsmith.checkers.sandbox import Limits, get_sandbox
from proofsmith.synth.mutation import mutants
from proofsmith.synth.retrieval import functions_in, retrieve
from proofsmith.synth.unitcoder import UnitCoderSettings, code_blocks, parse_fix, run_tests, unitcoder
from proofsmith.synth.unitcoder_corpus import build_unitcoder_corpus

COLORSYS = os.path.join(sysconfig.get_paths()["stdlib"], "colorsys.py")


class Scripted:
    """Answers in order; an empty answer once the script runs out."""

    name = "scripted"

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def generate(self, prompt: str, n: int, temperature: float, seed: int) -> list[str]:
        self.prompts.append(prompt)
        return [self.answers.pop(0) if self.answers else "" for _ in range(n)]


def suite(body: str) -> str:
    return "```python\nimport unittest\n\nclass TestCases(unittest.TestCase):\n" + body + "\n```"


GOOD = suite("""    def test_white(self):
        y, i, q = rgb_to_yiq(1.0, 1.0, 1.0)
        self.assertAlmostEqual(y, 1.0)
        self.assertAlmostEqual(i, 0.0)
    def test_red(self):
        y, i, q = rgb_to_yiq(1.0, 0.0, 0.0)
        self.assertAlmostEqual(y, 0.30)
        self.assertAlmostEqual(i, 0.74 * 0.7 + 0.27 * 0.3)
        self.assertAlmostEqual(q, 0.48 * 0.7 - 0.41 * 0.3)""")
TRIVIAL = suite("    def test(self):\n        self.assertTrue(True)")
WRONG = suite("    def test(self):\n        self.assertEqual(rgb_to_yiq(0, 0, 0), (1, 1, 1))")
FOREVER = suite("    def test(self):\n        while True:\n            pass")
SETTINGS = UnitCoderSettings(samples=2, rounds=2, mutants=6, limits=Limits(wall_s=3, cpu_s=3, memory_mb=512))


def read_saved(out) -> list[dict]:
    """The saved dataset's rows, read from its Parquet file (`datasets.load_dataset` caches a local
    directory under its name, so two test directories called "out" would collide)."""
    import pyarrow.parquet as pq

    return pq.read_table(str(out / "data" / "default" / "train-00000-of-00001.parquet")).to_pylist()


@pytest.fixture(scope="module")
def sandbox():
    return get_sandbox()


@pytest.fixture(scope="module")
def rgb_to_yiq():
    return next(f for f in retrieve(COLORSYS) if f.name == "rgb_to_yiq")


def test_retrieval_keeps_only_self_contained_functions_on_the_package_list():
    source = '''
import os
import numpy as np
from math import sqrt
LIMIT = 3

def keep(a, b):
    return sqrt(a) + os.sep.count(b)

def uses_numpy(a):
    return np.sum(a)

def uses_global(a):
    return a + LIMIT

def no_args():
    return 1

def no_return(a):
    print(a)

def nested(a):
    def inner():
        return a
    return inner()

def dangerous(path):
    import shutil
    return shutil.rmtree(path)

@staticmethod
def decorated(a):
    return a
'''
    found = list(functions_in("m", source, frozenset({"os", "math"})))
    assert [f.name for f in found] == ["keep"]
    assert found[0].import_code == ("from math import sqrt", "import os")
    assert found[0].program.startswith("from math import sqrt\nimport os\n\ndef keep(a, b):")
    assert [f.name for f in functions_in("m", source, frozenset({"os", "math", "numpy"}))] == ["keep", "uses_numpy"]


def test_retrieval_reads_the_real_stdlib_source():
    found = retrieve(COLORSYS)
    assert {"rgb_to_yiq", "rgb_to_hsv"} <= {f.name for f in found}
    fn = next(f for f in found if f.name == "rgb_to_yiq")
    assert fn.provenance.license == "PSF-2.0" and fn.provenance.source == "python-stdlib:colorsys.py"
    assert fn.provenance.span[0] > 0 and len(fn.provenance.sha256) == 64


def test_mutants_are_distinct_deterministic_one_site_changes():
    source = 'def f(a, b):\n    """doc"""\n    if a < b and not a:\n        return a + 1\n    return b % 2 == 0\n'
    found = mutants(source, limit=50)
    texts = [m.source for m in found]
    assert len(set(texts)) == len(texts) and all("doc" in t for t in texts)
    assert {m.operator for m in found} == {"arithmetic", "comparison", "boolean", "negation", "constant", "return"}
    assert texts == [m.source for m in mutants(source, limit=50)]
    assert mutants("def f(x):\n    return x\n", limit=5)[0].source == "def f(x):\n    return None"


def test_answers_are_parsed_from_code_blocks():
    assert code_blocks("text\n```python\nx = 1\n```\nmore") == ["x = 1"]
    assert parse_fix("```python\ndef rgb_to_yiq(r, g, b):\n    return 1\n```", "rgb_to_yiq")[0] == "function"
    assert parse_fix(TRIVIAL, "rgb_to_yiq")[0] == "tests"
    assert parse_fix("I cannot help.", "rgb_to_yiq") is None


def test_good_suite_is_verified_by_killing_mutants(rgb_to_yiq, sandbox):
    result = unitcoder(rgb_to_yiq, Scripted(GOOD), sandbox, SETTINGS)
    assert result.tests_passed and result.verified
    assert result.mutants_killed >= 3 and result.tests_run == 2
    assert [(a.round, a.status) for a in result.history] == [(0, "passed")]


def test_trivial_suite_passes_but_certifies_nothing(rgb_to_yiq, sandbox):
    result = unitcoder(rgb_to_yiq, Scripted(TRIVIAL), sandbox, SETTINGS)
    assert result.tests_passed and not result.verified
    assert result.mutants > 0 and result.mutants_killed == 0


def test_failing_suite_is_repaired_by_the_fix_loop(rgb_to_yiq, sandbox):
    generator = Scripted(WRONG, "no code here", GOOD)
    result = unitcoder(rgb_to_yiq, generator, sandbox, SETTINGS)
    assert result.verified and result.tests == code_blocks(GOOD)[0]
    assert [(a.round, a.sample, a.part, a.status) for a in result.history] == [
        (0, 0, "tests", "failed"), (1, 0, "none", "failed"), (1, 1, "tests", "passed")]
    assert "AssertionError" in generator.prompts[1]  # the fix agent saw the failure


def test_broken_function_is_repaired(rgb_to_yiq, sandbox):
    from dataclasses import replace

    broken = replace(rgb_to_yiq, source=rgb_to_yiq.source.replace("0.30*r", "0.31*r"))
    fixed = "```python\n" + rgb_to_yiq.source + "\n```"
    result = unitcoder(broken, Scripted(GOOD, fixed), sandbox, SETTINGS)
    assert result.verified and result.function == rgb_to_yiq.source
    assert result.history[-1].part == "function"


def test_suite_that_never_passes_is_dropped_after_r_rounds(rgb_to_yiq, sandbox):
    blocked = "```python\nimport os\nos.system('true')\nclass TestCases: pass\n```"
    result = unitcoder(rgb_to_yiq, Scripted(WRONG, blocked, *[WRONG] * 5), sandbox, SETTINGS)
    assert not result.tests_passed and not result.verified
    assert len(result.history) == 1 + SETTINGS.rounds * SETTINGS.samples
    assert result.history[1].message.startswith("blocked")


def test_suite_that_hangs_times_out(rgb_to_yiq, sandbox):
    result = unitcoder(rgb_to_yiq, Scripted(FOREVER), sandbox, UnitCoderSettings(rounds=0, limits=Limits(wall_s=2, cpu_s=2)))
    assert not result.verified and result.history[0].status == "timeout"


def test_suite_that_exits_early_does_not_pass(rgb_to_yiq, sandbox):
    # spelled so that the blocklist does not catch it: the runner's missing report must
    early = "```python\nimport os, unittest\ngetattr(os, '_ex' + 'it')(0)\nclass TestCases(unittest.TestCase):\n    pass\n```"
    result = unitcoder(rgb_to_yiq, Scripted(early), sandbox, UnitCoderSettings(rounds=0))
    assert not result.tests_passed and result.history[0].status == "error"


def test_corpus_run_resumes_and_saves_verified_functions(tmp_path, sandbox):
    out = tmp_path / "out"
    answers = {"rgb_to_yiq": GOOD}

    class ByName(Scripted):
        def generate(self, prompt, n, temperature, seed):
            name = next((k for k in answers if f"import {k}`" in prompt or f"`{k}`" in prompt), None)
            return [answers.get(name, TRIVIAL)] * n

    first = build_unitcoder_corpus(COLORSYS, out, generator=ByName(), settings=SETTINGS, limit=1,
                                   sandbox=sandbox, progress=False)
    assert first["processed_now"] == 1 and first["verified"] == 1
    second = build_unitcoder_corpus(COLORSYS, out, generator=ByName(), settings=SETTINGS, limit=2,
                                    sandbox=sandbox, progress=False)
    assert second["processed_now"] == 1 and second["functions"] == 2  # the first one was not redone
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert [r["verified"] for r in records] == [True, False] and records[1]["reason"].startswith("the tests kill 0")
    rows = read_saved(out)
    assert [r["name"] for r in rows] == ["rgb_to_yiq"] and rows[0]["history"][0]["status"] == "passed"
    assert "mutation" in (out / "README.md").read_text()


@pytest.mark.slow
@pytest.mark.model
def test_real_default_model_runs_the_loop(tmp_path, sandbox):
    from proofsmith.synth.generators import ModelGenerator

    generator = ModelGenerator(max_new_tokens=64)
    settings = UnitCoderSettings(samples=1, rounds=1, mutants=4, limits=Limits(wall_s=5, cpu_s=5))
    summary = build_unitcoder_corpus(COLORSYS, tmp_path, generator=generator, settings=settings, limit=1,
                                     sandbox=sandbox, progress=False)
    assert summary["functions"] == 1 and summary["processed_now"] == 1
    for line in (tmp_path / "records.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert record["model"] == "smollm2-135m" and record["history"][0]["round"] == 0
        assert "unittest" in record["tests"]  # the one-shot prompt gets the default model to write a suite
        assert len(record["history"]) == 2 or record["history"][0]["status"] == "passed"  # fix round ran
        if record["verified"]:
            assert record["tests_passed"] and record["mutants_killed"] >= 1


# Suites that try to be counted passing while their one real test fails. Each was counted passing by
# the runner before the harness moved under the checker's keeper (the first block: UnitCoder's own
# runner, which printed "UNITCODER-RESULT <nonce> {summary}"), or by the keeper before it bound its
# functions and checked its own frame (the second block: the same holes let a HumanEval candidate pass).
FAILING_TEST = "class TestCases(unittest.TestCase):\n    def test(self):\n        self.assertEqual(rgb_to_yiq(0, 0, 0), (1, 1, 1))\n"
RUNNER_ATTACKS = {
    "prints the result line with the nonce it read, then exits": """
import json, os, sys, __main__
nonce = getattr(__main__, "nonce", "") or sys.stdin.readline().strip()
print("\\nUNITCODER-RESULT " + nonce + " " + json.dumps({"run": 1, "failures": 0, "errors": 0, "first_problem": ""}))
print("\\nPROOFSMITH-DONE " + nonce, flush=True)
getattr(os, "_ex" + "it")(0)
""",
    "TestCase.run counts the test without running it": """
def _run(self, result=None):
    result.startTest(self)
    result.stopTest(self)
unittest.TestCase.run = _run
""",
    "the result drops failures and errors": """
unittest.TestResult.addFailure = unittest.TestResult.addError = lambda self, test, err: None
""",
    "skips every test": "unittest.TestCase.setUp = lambda self: self.skipTest('later')\n",
    "clears the runner's failures at module teardown": """
def tearDownModule():
    import __main__
    getattr(__main__, "result").failures.clear()
""",
    "patches the builtins the runner counts with": """
def tearDownModule():
    import builtins
    builtins.len = lambda x: 0
""",
}
RUNNER_SUITES = {name: code + FAILING_TEST for name, code in RUNNER_ATTACKS.items()}
RUNNER_SUITES["expects its failure"] = FAILING_TEST.replace("    def test", "    @unittest.expectedFailure\n    def test")
RUNNER_SUITES["an async test that never runs"] = FAILING_TEST.replace("def test", "async def test")

_KEEPER_THREAD = "[t for t in __import__('thread' + 'ing').enumerate() if t is not __import__('thread' + 'ing').main_thread()][0]"
KEEPER_ATTACKS = {
    "clears the audit hook's blocked set through the frames": """
import os, sys
f = sys._getframe()
while f is not None:
    if "blocked" in f.f_locals and "keeper_ident" in f.f_locals:
        f.f_locals["blocked"].clear()
        f.f_locals["keeper_ident"].append(__import__("thread" + "ing").get_ident())
    f = f.f_back
for fr in sys._current_frames().values():
    while fr is not None:
        if fr.f_locals.get("nonce"):
            os.write(1, ("\\nPROOFSMITH-DONE " + fr.f_locals["nonce"] + "\\n").encode())
            getattr(os, "_ex" + "it")(0)
        fr = fr.f_back
""",
    "runs the park line's code in a frame of its own": f"""
import builtins, os, sys, types
keeper = {_KEEPER_THREAD}
args = keeper.__dict__.get("_args", ())
code = [a for a in args if isinstance(a, types.CodeType)][0]
if isinstance(args[0], int):
    os.write(args[0] + 1, b"x")  # wakes the keeper through its pipe
else:
    args[1].set()  # the finished event
class Event:
    set = wait = lambda self: None
fake_builtins = dict(vars(builtins), exec=lambda *a: None)
fake_threading = types.SimpleNamespace(Event=Event, get_ident=lambda: 0,
                                       Thread=lambda **k: types.SimpleNamespace(start=lambda: None, ident=0))
types.FunctionType(code, {{"__builtins__": fake_builtins, "os": os, "threading": fake_threading, "__file__": "runner.py",
                         "sys": types.SimpleNamespace(addaudithook=lambda h: None, stdout=sys.stdout),
                         "_keeper": None, "_guard": lambda *a: None, "_main": types.SimpleNamespace(__code__=code)}})()
""",
    "a patched time.sleep runs in the keeper's thread": f"""
import os, sys, time
def steal(_):
    nonce = sys._getframe(1).f_locals.get("nonce")
    if nonce:
        os.write(1, ("\\nPROOFSMITH-DONE " + nonce + "\\n").encode())
        getattr(os, "_ex" + "it")(0)
time.sleep = steal
args = {_KEEPER_THREAD}.__dict__.get("_args", ())
if isinstance(args[0], int):
    os.write(args[0] + 1, b"x")
else:
    args[1].set()
while True:
    pass
""",
    "finds the nonce in /proc/self/mem by another name": """
import os, re
found = set()
mem = open("/scratch/../proc/self/mem", "rb", buffering=0)
for row in open("/scratch/../proc/self/maps").read().splitlines():
    span, perms = row.split()[:2]
    if "r" in perms and "[v" not in row:
        lo, hi = (int(x, 16) for x in span.split("-"))
        try:
            mem.seek(lo)
            found.update(re.findall(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", mem.read(hi - lo)))
        except OSError:
            pass
if len(found) == 1:
    os.write(1, b"\\nPROOFSMITH-DONE " + found.pop() + b"\\n")
    getattr(os, "_ex" + "it")(0)
""",
}
KEEPER_ATTACKS["opens /proc/self/mem relative to a directory fd"] = KEEPER_ATTACKS[
    "finds the nonce in /proc/self/mem by another name"].replace(
    'mem = open("/scratch/../proc/self/mem", "rb", buffering=0)',
    'root = os.open("/", os.O_RDONLY)\n'
    'mem = open("proc/self/mem", "rb", buffering=0, opener=lambda path, flags: os.open(path, flags, dir_fd=root))')
KEEPER_SUITES = {name: code + FAILING_TEST for name, code in KEEPER_ATTACKS.items()}
ATTACK_LIMITS = Limits(wall_s=3, cpu_s=3, memory_mb=512)


@pytest.mark.parametrize("name", sorted(RUNNER_SUITES) + sorted(KEEPER_SUITES))
def test_suites_that_fake_a_pass_fail(rgb_to_yiq, sandbox, name):
    tests = RUNNER_SUITES.get(name) or KEEPER_SUITES[name]
    result = run_tests(rgb_to_yiq, rgb_to_yiq.source, tests, sandbox, ATTACK_LIMITS)
    assert not result.passed, (name, result)


def test_honest_suites_pass_and_fail_as_they_should(rgb_to_yiq, sandbox):
    good = run_tests(rgb_to_yiq, rgb_to_yiq.source, code_blocks(GOOD)[0], sandbox, ATTACK_LIMITS)
    assert good.passed and good.tests_run == 2
    wrong = run_tests(rgb_to_yiq, rgb_to_yiq.source, code_blocks(WRONG)[0], sandbox, ATTACK_LIMITS)
    assert wrong.status == "failed" and "AssertionError" in wrong.message
    # what the harness counts as a pass: at least one test, each ran and none raised, cleanups included
    passing = FAILING_TEST.replace("(1, 1, 1)", "(0.0, 0.0, 0.0)")
    assert run_tests(rgb_to_yiq, rgb_to_yiq.source, passing, sandbox, ATTACK_LIMITS).passed
    for tests in ("class TestCases(unittest.TestCase):\n    pass\n", "@unittest.skip('later')\n" + passing,
                  passing.replace("        self.assertEqual", "        self.addCleanup(self.fail, 'late')\n        self.assertEqual")):
        assert run_tests(rgb_to_yiq, rgb_to_yiq.source, tests, sandbox, ATTACK_LIMITS).status == "failed", tests
