"""Installed libraries through the `extract coq --installed` run (slow), with the real Coq.

Debian's libraries of three shapes (`scripts/setup.sh --dev` installs them): MenhirLib
whole (Modules and functors, files that Require each other by short name),
AAC_tactics whole (an OCaml plugin, .cmxs, on the ML path), and four files of RegLang
(Sections; it needs another installed library, mathcomp; its other files take minutes
here). For each, at least 95% of the Qed/Defined proofs of its source come out with
their states, and a random sample of the extracted reference proofs re-checks with the
Coq checker in the sandbox.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from proofsmith.extract.coq_project import coqlib

LIBRARIES = ["MenhirLib", "AAC_tactics", "RegLang"]
REGLANG_FILES = ["misc.v", "setoid_leq.v", "languages.v", "dfa.v"]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not all((coqlib() / "user-contrib" / n).is_dir() for n in LIBRARIES),
    reason=f"needs {LIBRARIES} installed (scripts/setup.sh --dev)")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from proofsmith.extract.coq_project import installed_libraries
    from proofsmith.extract.coq_run import extract_libraries

    out = tmp_path_factory.mktemp("installed")
    libraries = installed_libraries(LIBRARIES)
    reglang = libraries[2]
    libraries[2] = replace(reglang, listed=tuple(reglang.root / f for f in REGLANG_FILES))
    summary = extract_libraries(libraries, str(out), jobs=2, progress=False)
    return out, summary


def test_each_library_extracts_with_states(corpus):
    from proofsmith.datasets.coq import RAW_FILES, read_jsonl
    from proofsmith.datasets.coq_card import library_rows
    from proofsmith.extract.state_store import raw_file

    out, _ = corpus
    info = json.loads((out / "raw" / "card.json").read_text())
    raw = {n: list(read_jsonl(raw_file(out / "raw", n))) for n in RAW_FILES}
    rows = {r["name"]: r for r in library_rows(raw, info["libraries"])}
    assert set(rows) == set(LIBRARIES)
    for row in rows.values():
        assert row["complete_proofs_in_source"] > 10, row
        assert row["extracted_share"] >= 0.95, row
        assert row["package"].startswith("libcoq-") and row["version"] and row["license"], row
    assert [d.split("-")[0] for d in rows["RegLang"]["depends"]] == ["mathcomp"]  # (-ssreflect beside -fingroup)
    assert rows["MenhirLib"]["license"] == "LGPL-3.0-or-later"
    card = (out / "README.md").read_text()
    assert "### Libraries" in card and "| `MenhirLib` |" in card and "CoqGym" in card


def test_a_random_sample_of_reference_proofs_rechecks(corpus):
    from proofsmith.core import Candidate, get_checker
    from proofsmith.io import load_tasks

    out, _ = corpus
    tasks = list(load_tasks(out / "raw" / "tasks.jsonl").values())
    rng = random.Random(14)
    checker = get_checker("coq")  # coqc in the sandbox
    for name in LIBRARIES:
        mine = [t for t in tasks if t.provenance.project == name]
        for task in rng.sample(mine, min(2, len(mine))):
            verdict = checker.check(task, Candidate(task_id=task.id, text=task.reference))
            assert verdict.status == "passed", (task.id, verdict.message)
