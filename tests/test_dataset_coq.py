"""Splits, card, load_dataset and publish --dry-run on a dataset built from a small project."""

import json

import pytest
import yaml

from proofsmith.core import ProofsmithError
from proofsmith.datasets import splits as sp
from proofsmith.datasets.coq import statement_key
from proofsmith.datasets.hub import Card, dataset_info, hub_license, publish, save_dataset


def test_novel_premises_test_uses_a_premise_never_in_train():
    premises = [{"a"}, {"a", "b"}, {"c"}, {"a", "rare1"}, {"a"}, {"rare2", "b"}, {"a", "c"}, {"b"}]
    keys = [str(i) for i in range(len(premises))]
    split = sp.novel_premises_split(keys, premises, 1, 1)
    train = set().union(*(premises[i] for i in split["train"]))
    for i in split["validation"] + split["test"]:
        assert premises[i] - train
    assert sorted(i for part in split.values() for i in part) == list(range(len(premises)))


def test_identical_statements_never_straddle():
    keys = ["x", "x", "y", "z", "x", "w", "v", "u"] * 3
    files = [f"f{i % 5}" for i in range(len(keys))]
    for split in (sp.random_split(keys, 3, 3), sp.by_file_split(keys, files, 3, 3),
                  sp.novel_premises_split(keys, [{k} for k in keys], 3, 3)):
        assert sp.check_disjoint(split, lambda i: keys[i])


def test_statement_key_ignores_name_and_layout():
    assert statement_key("Lemma a : 1 = 1.") == statement_key("Theorem   b :\n  1 = 1.")


def test_random_split_is_seeded():
    keys = [str(i) for i in range(50)]
    assert sp.random_split(keys, 5, 5) == sp.random_split(keys, 5, 5)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    from datasets import Dataset, DatasetDict

    out = tmp_path_factory.mktemp("ds")
    card = Card(pretty_name="Tiny", license="LGPL-2.1-only", description="A tiny test corpus.", command="proofsmith x",
                versions={"coq": "8.16.1"})
    save_dataset(out, {"main": DatasetDict(train=Dataset.from_list([{"a": 1}, {"a": 2}]),
                                           test=Dataset.from_list([{"a": 3}])),
                       "extra": DatasetDict(train=Dataset.from_list([{"b": "x"}]))}, card, default="main")
    return out


def test_card_header_and_load_dataset(saved):
    import datasets

    text = (saved / "README.md").read_text()
    header = yaml.safe_load(text.split("---")[1])
    assert header["license"] == "lgpl-2.1" and header["size_categories"] == ["n<1K"]
    assert header["configs"][0]["config_name"] == "main" and header["configs"][0]["default"] is True
    assert "proofsmith x" in text and "## How to load it" in text
    ds = datasets.load_dataset(str(saved))
    assert ds["train"]["a"] == [1, 2] and ds["test"]["a"] == [3]
    assert datasets.load_dataset(str(saved), "extra")["train"]["b"] == ["x"]
    assert dataset_info(saved) == {"extra": {"train": 1}, "main": {"test": 1, "train": 2}}


def test_publish_dry_run_and_no_token(saved, monkeypatch):
    files = publish(saved, "org/tiny", dry_run=True)
    assert files[0][0] == "README.md" and len(files) == 4
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(saved / "no-home"))
    with pytest.raises(ProofsmithError, match="token"):
        publish(saved, "org/tiny")
    with pytest.raises(ProofsmithError, match="ORG/NAME"):
        publish(saved, "tiny", dry_run=True)


def test_hub_license_mapping():
    assert hub_license("MIT") == "mit" and hub_license("LGPL-2.1-only AND MIT") == "other"


def test_cli_dataset_info_on_extraction(tmp_path):
    from proofsmith.cli import main
    from proofsmith.extract.coq_run import extract_libraries

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "T.v").write_text("Lemma t : True.\nProof. exact I. Qed.\nLemma u : 2 = 2.\nProof. reflexivity. Qed.\n")
    extract_libraries([str(tmp_path / "src")], str(tmp_path / "out"), jobs=1, progress=False)
    assert main(["dataset", "info", str(tmp_path / "out")]) == 0
    assert main(["dataset", "split", str(tmp_path / "out"), "--held-out", "0"]) == 0
    assert dataset_info(tmp_path / "out")["random"]["train"] == 2
    assert main(["dataset", "info", str(tmp_path / "nothing")]) == 2
    card = json.loads((tmp_path / "out" / "raw" / "card.json").read_text())
    assert card["license"]
