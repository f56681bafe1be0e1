"""The FStarDataSet reader and its tasks.

No real record of FStarDataSet is reachable here (the data is on the Hugging Face Hub only),
so these records are written by us from the dataset card's schema (field names and shapes:
file_name, name, original_source_type, source_type, source_definition, source,
source_range, file_context, dependencies, opens_and_abbrevs, vconfig, interleaved,
verbose_type, ideal_premises, partial_definition, completed_definiton,
isa_cross_project_example, ...) and from the `<Module>.fst.json` shape the fstar_dataset
harness reads ({defs, dependencies, source}). The definitions are small F* we wrote.
"""

from __future__ import annotations

import json

import pytest

from proofsmith.core import ProofsmithError
from proofsmith.datasets.fstar import HIDDEN, from_row, problem_class, save_records, to_row, to_task
from proofsmith.extract.fstar import checkable, read_fstar_dataset

VCONFIG = {"initial_fuel": 2, "max_fuel": 8, "initial_ifuel": 1, "max_ifuel": 2, "detail_errors": False,
           "no_smt": False, "z3rlimit": 20, "z3rlimit_factor": 1, "z3seed": 0, "z3cliopt": [], "z3smtopt": [],
           "smtencoding_elim_box": False, "smtencoding_nl_arith_repr": "boxwrap", "smtencoding_l_arith_repr": "boxwrap"}


def card_record(name: str, source_type: str, definition: str, cross: bool | None = None, **more) -> dict:
    module = name.rsplit(".", 1)[0]
    return {"file_name": f"{module}.fst", "name": name, "original_source_type": source_type,
            "source_type": source_type, "source_definition": definition,
            "source": {"project_name": "demo-project", "file_name": f"src/{module}.fst", "git_rev": "abc123",
                       "git_url": "https://example.org/demo.git"},
            "source_range": {"file_name": f"src/{module}.fst", "start_line": 10, "start_col": 0,
                             "end_line": 11, "end_col": 12},
            "file_context": f"module {module}\nopen FStar.Mul\n", "dependencies": {"source_file": f"{module}.fst",
                            "checked_file": f"{module}.fst.checked", "interface_file": False,
                            "dependencies": ["prims.fst", "FStar.Mul.fst"]},
            "opens_and_abbrevs": [{"open": "FStar.Mul"}, {"abbrev": "L", "full_module": "FStar.List.Tot"}],
            "vconfig": VCONFIG, "interleaved": False, "verbose_type": source_type,
            "ideal_premises": ["Prims.op_Addition"], "premises": ["Prims.op_Addition"],
            "partial_definition": definition.split("=")[0], "completed_definiton": definition,
            **({"isa_cross_project_example": cross} if cross is not None else {}), **more}


@pytest.fixture
def hub_files(tmp_path):
    records = {
        "train.json": [card_record("Demo.Add.add", "val add : int -> int -> int", "let add x y = x + y")],
        "valid.json": [card_record("Demo.Add.inc", "val inc : x:nat -> y:nat{y > x}", "let inc x = x + 1")],
        "test_intra_project.json": [card_record("Demo.Add.add_comm", "val add_comm : x:int -> y:int -> Lemma (x + y == y + x)",
                                                "let add_comm x y = ()", cross=False)],
        "test_cross_project.json": [card_record("Other.T.twice", "val twice : int -> int", "let twice x = x + x", cross=True)],
    }
    for name, rows in records.items():
        text = json.dumps(rows) if name != "valid.json" else "\n".join(json.dumps(r) for r in rows)  # list or lines
        (tmp_path / name).write_text(text)
    return tmp_path


def test_hub_files_read_with_splits_and_every_field(hub_files):
    records = {r["name"]: r for r in read_fstar_dataset(hub_files)}
    assert set(records) == {"Demo.Add.add", "Demo.Add.inc", "Demo.Add.add_comm", "Other.T.twice"}
    assert records["Demo.Add.add"]["split"] == "train" and records["Demo.Add.inc"]["split"] == "validation"
    assert records["Demo.Add.add_comm"]["test_split"] == "intra-project"
    assert records["Other.T.twice"]["test_split"] == "cross-project"
    assert records["Demo.Add.add"]["license"] == "CDLA-Permissive-2.0"
    for key in card_record("A.b", "val b : int", "let b = 1"):
        assert key in records["Demo.Add.add"]
    assert [problem_class(records[n]) for n in ("Demo.Add.add", "Demo.Add.inc", "Demo.Add.add_comm")] == \
        ["simply typed", "dependently typed", "proofs"]


def test_task_shows_only_what_the_card_allows(hub_files):
    record = next(r for r in read_fstar_dataset(hub_files) if r["name"] == "Demo.Add.inc")
    task = to_task(record, include_dirs=["/data/fstar"])
    assert task.kind == "fstar" and task.reference == "let inc x = x + 1"
    assert task.statement == "val inc : x:nat -> y:nat{y > x}" and task.context.startswith("module Demo.Add")
    visible = json.dumps({k: v for k, v in task.to_dict().items() if k != "reference"})
    for key in HIDDEN:
        assert f'"{key}"' not in visible
    assert "x + 1" not in visible  # the definition's body appears nowhere but in the reference
    assert task.meta["module_file"] == "Demo.Add.fst" and task.meta["vconfig"]["z3rlimit"] == 20
    assert task.meta["problem_class"] == "dependently typed" and task.meta["split"] == "validation"
    assert task.provenance.project == "demo-project" and task.provenance.version == "abc123"
    assert task.provenance.span == (10, 0, 11, 12) and task.provenance.license == "CDLA-Permissive-2.0"


def test_unknown_type_gives_an_empty_statement():
    task = to_task({**card_record("A.b", "<UNK>", "let b = 1"), "original_source_type": "<UNK>", "split": "train"})
    assert task.statement == ""


def test_insight_files_carry_their_module(tmp_path):
    project = tmp_path / "proj"
    (project / "dataset").mkdir(parents=True)
    (project / "LICENSE").write_text("Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/\n")
    defs = [dict(card_record("Demo.Add.add", "val add : int -> int -> int", "let add x y = x + y"),
                 definition="fun x y -> x + y", is_simply_typed=True, is_proof=False),
            dict(card_record("Demo.Add.t", "<UNK>", "type t = int"), definition="<DECLARETYP>")]
    for d in defs:
        d.pop("source"), d.pop("dependencies")
    module = {"defs": defs, "dependencies": {"source_file": "Demo.Add.fst", "checked_file": "Demo.Add.fst.checked",
                                             "interface_file": False, "dependencies": []},
              "source": {"project_name": "demo", "file_name": "Demo.Add.fst", "git_rev": "r1", "git_url": "u"}}
    (project / "dataset" / "Demo.Add.fst.json").write_text(json.dumps(module))
    records = list(read_fstar_dataset(project / "dataset"))
    assert [r["source"]["project_name"] for r in records] == ["demo", "demo"]
    assert records[0]["dependencies"]["checked_file"] == "Demo.Add.fst.checked"
    assert records[0]["license"] == "Apache-2.0"
    assert checkable(records[0]) is None and "DECLARETYP" in checkable(records[1])


def test_rows_keep_every_field(hub_files):
    for r in read_fstar_dataset(hub_files):
        assert from_row(to_row(r)) == {k: v for k, v in r.items() if v is not None}


@pytest.mark.slow
def test_records_saved_as_a_hub_dataset(hub_files, tmp_path):
    records = list(read_fstar_dataset(hub_files))
    save_records(records, str(tmp_path / "out"), command="proofsmith extract fstar")
    from datasets import load_dataset

    data = load_dataset(str(tmp_path / "out"))
    assert sorted(data) == ["test_cross_project", "test_intra_project", "train", "validation"]
    assert json.loads(data["train"][0]["fields_json"])["vconfig"]["z3rlimit"] == 20


def test_not_a_dataset_says_so(tmp_path):
    with pytest.raises(ProofsmithError, match="no FStarDataSet"):
        list(read_fstar_dataset(tmp_path))
    (tmp_path / "train.json").write_text('[{"no_name": 1}]')
    with pytest.raises(ProofsmithError, match="record 1"):
        list(read_fstar_dataset(tmp_path))
