"""`proofsmith extract fstar PATH`: an FStarDataSet on disk, or an F* project built with F*, into tasks.

- PATH an FStarDataSet (`extract.fstar.read_fstar_dataset`: the Hub files, a save_to_disk
  directory, or `<Module>.fst.json` files): every record into the HF dataset in OUT
  (`datasets.fstar`, every field kept) and one `fstar` task per definition the harness would
  check into ``OUT/tasks.jsonl`` (through `runs.run_resumable`).
- PATH an F* project (`.fst` files, no dataset): F* itself says what the definitions are, as
  FStarDataSet was made. One sandboxed run of ``fstar.exe --record_options
  --cache_checked_modules`` over the project writes each module's `.checked` file with the
  options of every definition, then, per module, the dataset's own reader of checked files
  (``fstar_insights.exe --include ... --all_defs_and_premises Module.fst``, FStarLang/fstar_dataset)
  prints its `<Module>.fst.json`, which is then imported as above. Where `fstar.exe` or
  `fstar_insights.exe` is missing, one line says which.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..core import ProofsmithError
from ..outdir import claim
from ..runs import Directory, Threads, run_resumable, write_atomic
from .fstar import checkable, dataset_files, read_fstar_dataset

BUILD_LIMITS = {"wall_s": 3600.0, "cpu_s": 3600.0, "memory_mb": 8192, "processes": 64, "output_bytes": 16 << 20,
                "file_bytes": 4 << 30}


def is_dataset(path: Path) -> bool:
    """PATH holds FStarDataSet files (whether they read well is said when they are read)."""
    return bool(dataset_files(path))


def import_dataset(path: str | Path, out_dir: str | Path, include_dirs: list[str], command: str = "",
                   progress: bool = True) -> dict[str, Any]:
    """Records into OUT (dataset + card), checkable ones into OUT/tasks.jsonl; returns the counts."""
    from ..datasets.fstar import save_records, to_task

    out = Path(out_dir)
    claim(out, "proofsmith extract fstar", writes=("README.md",))
    records = list(read_fstar_dataset(path))
    skipped = {r["name"]: why for r in records if (why := checkable(r))}
    wanted = [r for r in records if r["name"] not in skipped]
    names = [r["name"] for r in wanted]
    if len(set(names)) < len(names):  # the same name in two splits or files: the first one is the task
        seen: set[str] = set()
        wanted = [r for r in wanted if not (r["name"] in seen or seen.add(r["name"]))]
    dirs = include_dirs or [str(Path(path).resolve() if Path(path).is_dir() else Path(path).resolve().parent)]
    run = run_resumable(wanted, lambda r: to_task(r, dirs).to_dict(), out / "tasks.jsonl", key=lambda r: r["name"],
                        settings={"include_dirs": dirs}, inputs=[path] if Path(path).is_file() else [],
                        progress=progress, desc="extract fstar", name="proofsmith extract fstar", unit="definition")
    save_records(records, str(out), command=command)
    splits: dict[str, int] = {}
    for r in records:
        label = r["split"] + (f"/{r['test_split']}" if r.get("test_split") else "") if r["split"] else "(none)"
        splits[label] = splits.get(label, 0) + 1
    return {"records": len(records), "tasks": len(wanted), "tasks_this_run": run.ran, "skipped": len(skipped),
            "splits": splits, "tasks_file": str(out / "tasks.jsonl")}


def extract_project(project: str | Path, out_dir: str | Path, jobs: int = 2, command: str = "",
                    progress: bool = True) -> dict[str, Any]:
    """Build the project with F* (--record_options) and read its definitions with fstar_insights."""
    missing = [tool for tool in ("fstar.exe", "fstar_insights.exe") if shutil.which(tool) is None]
    if missing:
        raise ProofsmithError(f"extract fstar {project}: building an F* project needs {' and '.join(missing)}, "
                              "not installed (F*: https://github.com/FStarLang/FStar/releases; fstar_insights: "
                              "make -C fstar_insights in https://github.com/FStarLang/fstar_dataset); an FStarDataSet "
                              "on disk (train.json ..., or <Module>.fst.json files) is imported without them")
    from ..checkers.sandbox import Limits, get_sandbox

    root = Path(project).resolve()
    sources = sorted(p for p in root.rglob("*") if p.suffix in (".fst", ".fsti") and p.is_file())
    if not sources:
        raise ProofsmithError(f"extract fstar {project}: no .fst files and no FStarDataSet there")
    out = Path(out_dir)
    claim(out, "proofsmith extract fstar", writes=("README.md",))
    checked = out / "checked"
    checked.mkdir(parents=True, exist_ok=True)
    includes = sorted({str(p.parent) for p in sources})
    fstar = shutil.which("fstar.exe")
    fstar_home = str(Path(fstar).resolve().parent.parent)
    box = get_sandbox().seeing([str(root), fstar_home, str(Path(shutil.which("fstar_insights.exe")).resolve().parent)])
    limits = Limits(**BUILD_LIMITS)
    args = [a for d in includes for a in ("--include", d)]
    names = [p.name for p in sources]
    build = box.run([fstar, "--record_options", "--cache_checked_modules", "--cache_dir", "checked", *args, *names],
                    limits=limits, collect=[f"checked/{n}.checked" for n in names])
    for name, data in build.files.items():
        (checked / Path(name).name).write_bytes(data)
    if not build.ok and not build.files:
        raise ProofsmithError(f"extract fstar {project}: F* did not build it: {build.stderr.strip()[-300:]}")
    insight_box = box.seeing([str(checked)])
    dataset = out / "dataset"

    def insights(source: Path) -> dict:
        result = insight_box.run(["fstar_insights.exe", "--include", str(checked), *args, "--all_defs_and_premises",
                                  source.name], limits=replace(limits, wall_s=600.0))
        try:
            data = json.loads(result.stdout)
        except json.JSONDecodeError:
            return {"file": source.name, "error": (result.stderr or result.stdout).strip()[-300:]}
        data.setdefault("source", {"project_name": root.name, "file_name": str(source.relative_to(root))})
        write_atomic(dataset / f"{source.name}.json", json.dumps(data))
        return {"file": source.name, "defs": len(data.get("defs") or [])}

    dataset.mkdir(parents=True, exist_ok=True)
    run_resumable(sources, insights, Directory(out / "raw" / "insights"), key=lambda p: p.name,
                  executor=Threads(jobs), progress=progress, desc="fstar_insights", name="proofsmith extract fstar",
                  unit="module")
    summary = import_dataset(dataset, out, [str(checked), *includes], command=command, progress=progress)
    return {"modules": len(sources), "checked": len(build.files), **summary}
