"""Load paths as Coq resolves them, provenance and licences (issue #14), with the real Coq.

Installed libraries are Debian's (`scripts/setup.sh --dev` installs libcoq-menhirlib,
libcoq-iris (with libcoq-stdpp), libcoq-aac-tactics, libcoq-hammer, libcoq-reglang);
projects (_CoqProject, dune, plain) are written here in tmp and built with the real
coqc in the sandbox. The whole-library extractions are in test_extract_installed_libraries.py
(slow).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from proofsmith.extract.coq import FileJob, extract_file
from proofsmith.extract.coq_project import coqlib, ensure_built, find_library, installed_library
from proofsmith.extract.licenses import license_from_debian_copyright, license_from_text
from proofsmith.extract.provenance import project_origin


def installed(name: str) -> bool:
    return (coqlib() / "user-contrib" / name).is_dir()


def needs(*names: str):
    missing = [n for n in names if not installed(n)]
    return pytest.mark.skipif(bool(missing), reason=f"needs installed {missing} (scripts/setup.sh --dev)")


@needs("MenhirLib")
def test_short_requires_inside_an_installed_library_resolve():
    """MenhirLib's files `Require Import Alphabet.` by short name: bound with -R they trace."""
    lib = installed_library("MenhirLib")
    top = coqlib() / "user-contrib" / "MenhirLib"
    assert lib.load_paths == (("-R", str(top), "MenhirLib"),) and lib.builtin and lib.package == "libcoq-menhirlib"
    result = extract_file(FileJob(lib, top / "Grammar.v"))
    assert "Require Import Alphabet" in (top / "Grammar.v").read_text()
    assert result["error"] is None, result["error"]
    assert result["module"] == "MenhirLib.Grammar" and result["theorems"]
    assert all(t["initial_goals"] for t in result["theorems"])


@needs("iris", "stdpp", "RegLang", "mathcomp")
def test_dependencies_between_installed_libraries():
    assert "stdpp" in installed_library("iris").depends
    needed = installed_library("RegLang").depends  # mathcomp, or mathcomp-ssreflect beside other mathcomp packages
    assert [installed_library(d).logical for d in needed] == ["mathcomp"]
    assert installed_library("stdpp").depends == ()


@needs("mathcomp")
@pytest.mark.skipif(not Path("/usr/share/doc/libcoq-mathcomp-fingroup").is_dir(),
                    reason="needs libcoq-mathcomp-fingroup (scripts/setup.sh --dev)")
def test_packages_sharing_a_directory_are_libraries_of_their_own():
    """mathcomp-ssreflect and mathcomp-fingroup both install into user-contrib/mathcomp."""
    from proofsmith.extract.coq_project import installed_libraries

    libs = {lib.name: lib for lib in installed_libraries(["mathcomp"])}
    assert {"mathcomp-ssreflect", "mathcomp-fingroup"} <= set(libs)
    fingroup, ssreflect = libs["mathcomp-fingroup"], libs["mathcomp-ssreflect"]
    assert (fingroup.logical, fingroup.package) == ("mathcomp", "libcoq-mathcomp-fingroup")
    assert fingroup.depends == ("mathcomp-ssreflect",) and ssreflect.depends == ()
    assert fingroup.files() and all(f.parent.name == "fingroup" for f in fingroup.files())
    assert not set(fingroup.files()) & set(ssreflect.files())
    assert fingroup.source_path(fingroup.files()[0]).startswith("fingroup/")


@needs("AAC_tactics")
def test_plugin_directories_go_on_the_ml_path():
    lib = installed_library("AAC_tactics")
    top = coqlib() / "user-contrib" / "AAC_tactics"
    flags = lib.coq_flags()
    assert flags[flags.index("-I") + 1] == str(top) and (top / "aac_plugin.cmxs").is_file()


def test_unknown_installed_library_is_one_clear_error():
    from proofsmith.core import ProofsmithError
    from proofsmith.extract.coq_project import installed_libraries

    with pytest.raises(ProofsmithError, match="no installed Coq library NoSuchLib .*installed: Coq"):
        installed_libraries(["NoSuchLib"])


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


A = "Definition double (n : nat) := n + n.\nLemma double_zero : double 0 = 0.\nProof. reflexivity. Qed.\n"
B = ("Require Import A.\nLemma double_one : double 1 = 2.\nProof.\n  unfold double.\n  reflexivity.\nQed.\n")


def test_coq_project_load_paths_files_and_short_names(tmp_path, monkeypatch):
    """-R/-Q/-I/-arg and the file list of a _CoqProject; B Requires A by short name; built in the sandbox."""
    monkeypatch.setenv("PROOFSMITH_CACHE", str(tmp_path / "cache"))
    root = write(tmp_path / "proj", {
        "_CoqProject": "-R theories Foo\n-Q extra Extra\n-I plugin\n-arg -w -arg -notation-overridden\n"
                       "theories/A.v\ntheories/sub/B.v\n",
        "theories/A.v": A, "theories/sub/B.v": B, "theories/Unlisted.v": A, "extra/E.v": A})
    (root / "plugin").mkdir()
    lib = find_library(root)
    assert lib.load_paths == (("-R", str(root / "theories"), "Foo"), ("-Q", str(root / "extra"), "Extra"))
    assert lib.ml_paths == (str(root / "plugin"),) and lib.extra_args == ("-w", "-notation-overridden")
    assert [p.relative_to(root).as_posix() for p in lib.files()] == ["theories/A.v", "theories/sub/B.v"]
    built = ensure_built(lib)
    assert built.build_root and (built.work_path(root / "theories/A.v").with_suffix(".vo")).is_file()
    result = extract_file(FileJob(built, root / "theories/sub/B.v"))
    assert result["error"] is None, result["error"]
    assert result["module"] == "Foo.sub.B" and [t["name"] for t in result["theorems"]] == ["double_one"]


def test_dune_theories_and_their_dependencies(tmp_path, monkeypatch):
    monkeypatch.setenv("PROOFSMITH_CACHE", str(tmp_path / "cache"))
    root = write(tmp_path / "duneproj", {
        "dune-project": "(lang dune 3.5)\n(using coq 0.6)\n(name coq-dunefoo)\n(version 0.3.1)\n",
        "base/dune": "; the base theory\n(include_subdirs unqualified)\n(coq.theory\n (name Base)\n (synopsis \"base\"))\n",
        "base/A.v": A, "base/sub/C.v": "Definition c := 1.\n",
        "main/dune": "(coq.theory (name Main) (theories Base) (plugins coq-aac-tactics.plugin))\n",
        "main/M.v": "From Base Require Import A.\nLemma m : double 2 = 4.\nProof. reflexivity. Qed.\n"})
    lib = find_library(root)
    assert set(lib.load_paths) == {("-R", str(root / "base"), "Base"), ("-R", str(root / "base/sub"), "Base"),
                                   ("-R", str(root / "main"), "Main")}
    assert (lib.name, lib.version) == ("coq-dunefoo", "0.3.1")
    assert lib.logical_module(root / "base/sub/C.v") == "Base.C"  # unqualified: no "sub" in the name
    result = extract_file(FileJob(ensure_built(lib), root / "main/M.v"))
    assert result["error"] is None and result["module"] == "Main.M", result["error"]


def test_plain_directory_is_bound_with_R(tmp_path, monkeypatch):
    monkeypatch.setenv("PROOFSMITH_CACHE", str(tmp_path / "cache"))
    root = write(tmp_path / "my-lib", {"A.v": A, "deep/B.v": B})
    lib = find_library(root)
    assert lib.load_paths == (("-R", str(root), "my_lib"),)
    result = extract_file(FileJob(ensure_built(lib), root / "deep/B.v"))
    assert result["error"] is None and result["module"] == "my_lib.deep.B", result["error"]


def test_bad_files_are_errors_with_their_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("PROOFSMITH_CACHE", str(tmp_path / "cache"))
    root = write(tmp_path / "bad", {
        "Plugin.v": 'Declare ML Module "no_such_plugin_xyz".\nLemma x : True.\nProof. exact I. Qed.\n',
        "Lib.v": "Require Import NoSuchLibraryXyz.\n",
        "Parse.v": "Lemma bad : (1 + .\n"})
    lib = find_library(root)
    reasons = {f.name: extract_file(FileJob(lib, f))["error"]["reason"] for f in lib.files()}
    assert reasons == {"Plugin.v": "missing-plugin", "Lib.v": "missing-library", "Parse.v": "parse"}


LGPL_NOTICE = ("Copyright (C) 2003-2018 Someone\n\nThis library is free software; you can redistribute it and/or\n"
               "modify it under the terms of the GNU Lesser General Public\nLicense as published by the Free "
               "Software Foundation; either\nversion 2.1 of the License, or (at your option) any later version.\n\n")


def test_or_later_licences_read_from_the_notice():
    full_text = Path("/usr/share/common-licenses/LGPL-2.1").read_text()
    assert license_from_text(LGPL_NOTICE + full_text) == "LGPL-2.1-or-later"
    assert license_from_text(full_text) == "LGPL-2.1-only"  # the text's own "How to Apply" appendix is no notice
    assert license_from_text(LGPL_NOTICE) == "LGPL-2.1-or-later"
    gpl3 = Path("/usr/share/common-licenses/GPL-3").read_text()
    notice = ("This program is free software: you can redistribute it and/or modify it under the terms of the GNU "
              "General Public License as published by the Free Software Foundation, either version 3 of the "
              "License, or (at your option) any later version.\n")
    assert license_from_text(notice + gpl3) == "GPL-3.0-or-later" and license_from_text(gpl3) == "GPL-3.0-only"


def test_debian_copyright_or_later_from_its_license_paragraph():
    stanza = "Format: x\n\nFiles: *\nCopyright: 2020 A\nLicense: {short}\n\nFiles: debian/*\nLicense: {short}\n\n"
    later = "License: LGPL-2.1\n This library is free software; either version 2.1 of the License, or (at\n" \
            " your option) any later version.\n"
    only = "License: LGPL-2.1\n This package is free software; ... Free Software Foundation,\n version 2.1.\n"
    assert license_from_debian_copyright(stanza.format(short="LGPL-2.1") + later) == "LGPL-2.1-or-later"
    assert license_from_debian_copyright(stanza.format(short="LGPL-2.1") + only) == "LGPL-2.1-only"
    assert license_from_debian_copyright(stanza.format(short="GPL-3+")) == "GPL-3.0-or-later"
    assert license_from_debian_copyright(stanza.format(short="Expat or GPL-2")) == "MIT OR GPL-2.0-only"


def test_provenance_from_the_projects_own_metadata(tmp_path):
    """Name from the .opam file, version from `git describe` (opam says dev), licence from opam."""
    root = write(tmp_path / "huff", {
        "coq-huffman.opam": 'opam-version: "2.0"\nversion: "dev"\nlicense: "LGPL-2.1-or-later"\n',
        "meta.yml": "shortname: huffman\nlicense:\n  fullname: GNU LGPL\n  identifier: LGPL-2.1-or-later\n",
        "_CoqProject": "-R . Huffman\n", "A.v": A})
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    subprocess.run([*git, "tag", "v8.12.0"], check=True)
    origin = project_origin(root)
    assert (origin.name, origin.version, origin.license) == ("coq-huffman", "v8.12.0", "LGPL-2.1-or-later")
    lib = find_library(root)
    assert (lib.name, lib.version, lib.license) == ("coq-huffman", "v8.12.0", "LGPL-2.1-or-later")
    (root / "coq-huffman.opam").unlink()
    (root / "meta.yml").write_text("opam_name: coq-huff2\n")
    (root / "LICENSE").write_text(LGPL_NOTICE + Path("/usr/share/common-licenses/LGPL-2.1").read_text())
    origin = project_origin(root)
    assert (origin.name, origin.license) == ("coq-huff2", "LGPL-2.1-or-later")
    assert origin.version.startswith("v8.12.0")  # -dirty: the tree changed since the tag


def test_card_has_a_row_per_library_and_the_comparison(tmp_path, monkeypatch):
    from proofsmith.datasets.coq_card import library_rows, library_table
    from proofsmith.extract.coq_libraries import describe

    monkeypatch.setenv("PROOFSMITH_CACHE", str(tmp_path / "cache"))
    root = write(tmp_path / "proj", {"A.v": A, "B.v": B, "C.v": "Lemma bad : (1 + .\nLemma y : True. Proof. exact I. Qed.\n"})
    lib = ensure_built(find_library(root, "P"))
    results = [extract_file(FileJob(lib, f)) for f in lib.files()]
    raw = {"theorems": [t for r in results for t in r["theorems"]],
           "corpus": [{**r["corpus"], "project": r["project"]} for r in results if r["corpus"]],
           "errors": [{"project": r["project"], **r["error"]} for r in results if r["error"]]}
    info = describe(lib)
    assert info["complete_proofs_in_source"] == 3 and info["files"] == 3
    (row,) = library_rows(raw, [info])
    assert row["complete_extracted"] == 2 and row["extracted_share"] == pytest.approx(2 / 3, abs=1e-3)
    assert row["errors_by_reason"] == {"parse": 1} and row["files_failed"] == 1
    table = library_table([row])
    assert "| `P` |" in table and "2 / 3 (66.7%)" in table and "parse: 1" in table
    assert "CoqGym" in table and "71K proofs from 123 projects" in table and "coq-facts-props-proofs" in table
    json.dumps(row)  # what the card is built from is plain data


def test_cli_installed_options_are_checked_first(tmp_path):
    """`extract coq`: sources or --installed; --libraries only with --installed, known names only."""
    import os
    import sys

    def run(*args):
        return subprocess.run([sys.executable, "-m", "proofsmith", "extract", "coq", *args, "--out", str(tmp_path / "o")],
                              capture_output=True, text=True, timeout=120, check=False,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"})

    for args, words in [(("--libraries", "MenhirLib", str(tmp_path)), "use it with --installed"),
                        (("--installed", "--libraries", "NoSuchLib"), "no installed Coq library NoSuchLib")]:
        done = run(*args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and words in lines[0], done.stderr
    assert not (tmp_path / "o").exists()
