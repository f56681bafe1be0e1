"""The one resumable run: items, a step, an output, an executor.

A step is a plain picklable callable, item -> record (a JSON-able dict); it knows
nothing about where it runs. `run_resumable` owns everything else: the output and
what is already in it, checking that an old output belongs to these inputs and these
settings, input order, the progress bar, and the executor, which is swapped without
touching the step (datatrove's rule):

    run_resumable(samples, CheckStep(...), "results.jsonl", key=lambda s: s.task_id,
                  executor=Threads(8), settings={"timeout": 10})

Outputs (sinks):

- `Jsonl(path)`: one flushed line per record, written in input order; a torn last
  line (a kill mid-write) is dropped on reopen. `match="order"`: the file is always a
  prefix of the inputs' results, line i belonging to input i (check, refute).
  `match="key"`: lines are known by key; a rerun skips the keys done and keeps the
  lines of other keys (prove, synth: a rerun with a larger --limit extends the run).
- `Directory(path)`: one file per item, written whole and atomically; an item is
  done exactly when its file exists, so order of completion does not matter (extract).

Beside every output lies its manifest, ``OUT.run.json``: what wrote it (`name`, the
command), the run's settings and a digest of every input's content. Resuming with other
settings, over results that came from other inputs (a regenerated samples file, a changed
problem) or that another command wrote, or over results with no manifest at all, is
refused with one line saying to use another --out; identical inputs and settings continue.

Stopping early: within `interruptible()` (the CLI) SIGINT and SIGTERM raise `Interrupted`
in the main thread, never in the middle of writing a line or a manifest (`shielded`). The
executors then drop what has not started and cancel what runs (threads are daemons and get
`Cancelled`; a process pool is terminated; Ray tasks are cancelled); `end_children` ends the
children that live in sessions of their own (coqidetop, sandboxes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import ProofsmithError
from .executors import Processes, Ray, Serial, Threads  # noqa: F401 (the API)
from .outputs import Directory, Jsonl, json_line, read_complete_jsonl, write_atomic  # noqa: F401
from .signals import Cancelled, Interrupted, end_children, interruptible, shielded  # noqa: F401

Step = Callable[[Any], dict]


# ----------------------------------------------------------------------------- the run


@dataclass
class Outcome:
    """What a run did. `records` (JSONL outputs only): every complete line of the file afterwards."""

    resumed: int  # inputs already done before this run
    ran: int  # inputs done by this run
    records: list[dict] = field(default_factory=list)


def run_resumable(
    items: Iterable[Any],
    step: Step,
    out: str | os.PathLike | Jsonl | Directory,
    *,
    key: Callable[[Any], Any],
    executor: Serial | Threads | Processes | Ray | None = None,
    settings: Any = None,
    fingerprint: Callable[[Any], Any] | None = None,
    inputs: Iterable[str | os.PathLike] = (),
    progress: bool = True,
    desc: str = "run",
    name: str | None = None,
    unit: str = "item",
    postfix: Callable[[dict], Mapping[str, Any] | str | None] | None = None,
    on_record: Callable[[dict], None] | None = None,
) -> Outcome:
    """Run `step` over every item not yet done in `out`, appending its records; returns the Outcome.

    `key(item)` names an item's record (its `task_id`, a file's path); `fingerprint(item)`
    is what of an item must not change under a resumed run (default: the item itself);
    `settings` is what of the step must not change (leave out what changes speed only);
    `inputs` are the input files' paths, which `out` may not be. `name` (default: `desc`) names
    what writes `out` (the command): an output another one wrote is refused. `postfix(record)` sets the
    bar's postfix; it sees every record of these inputs, those already done first (JSONL
    outputs). `on_record(record)` is called as each new record is written.
    """
    items = list(items)
    sink = out if isinstance(out, (Jsonl, Directory)) else Jsonl(out)
    _refuse_input_as_output(sink.path, inputs)
    keys = [str(key(item)) for item in items]
    digests = [digest(fingerprint(item) if fingerprint else item) for item in items]
    manifest_path = Path(f"{sink.path}.run.json")
    manifest = _read_manifest(manifest_path)
    settings = json.loads(json.dumps(plain(settings if settings is not None else {})))
    match = sink.match if isinstance(sink, Jsonl) else "key"
    if match == "key" and len(set(keys)) < len(keys):
        seen: set[str] = set()
        twice = next(k for k in keys if k in seen or seen.add(k))
        raise ProofsmithError(f"two inputs share the key {twice!r}; a run needs one key per input")

    if isinstance(sink, Jsonl):
        old = sink.read()
        old_keys = [_record_key(r, sink, i) for i, r in enumerate(old)]
    else:
        old = []
        old_keys = [k for k in keys if sink.file(k).is_file()]
    name = name or desc
    done = _check_old_output(sink.path, manifest, name, settings, match, keys, digests, old_keys)
    _write_manifest(manifest_path, manifest, name, settings, match, keys, digests)

    todo = [i for i in range(len(items)) if i not in done]
    from tqdm import tqdm

    bar = tqdm(total=len(items), initial=len(done), desc=desc, unit=unit, disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    wanted = set(keys)
    for i, record in enumerate(old):
        if postfix and (i < len(done) if match == "order" else old_keys[i] in wanted):
            _set_postfix(bar, postfix(record))
    new: list[dict] = []
    sink.open()
    try:
        results = (executor or Serial()).map(step, [items[i] for i in todo])
        try:
            for position, record in results:
                if isinstance(sink, Jsonl) and str(record.get(sink.key_field)) != keys[todo[position]]:
                    raise ValueError(f"the step's record for {keys[todo[position]]!r} has {sink.key_field} "
                                     f"{record.get(sink.key_field)!r}: a resumed run could not find it")
                if isinstance(sink, Jsonl):
                    written = sink.put(position, record)
                else:
                    sink.write(keys[todo[position]], record)
                    written = [record]
                for r in written:
                    new.append(r)
                    if on_record:
                        on_record(r)
                    if postfix:
                        _set_postfix(bar, postfix(r))
                    bar.update(1)
        finally:
            close = getattr(results, "close", None)
            if close:
                close()
    finally:
        sink.close()
        bar.close()
    return Outcome(resumed=len(done), ran=len(new), records=old + new if isinstance(sink, Jsonl) else [])


def _read_manifest(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        manifest = None
    if not isinstance(manifest, dict):
        raise ProofsmithError(f"{path}: not a run manifest; use another --out")
    return manifest


def _record_key(record: dict, sink: Jsonl, i: int) -> str:
    if sink.key_field not in record:
        raise ProofsmithError(f"{sink.path}:{i + 1}: a line without {sink.key_field}; use another --out")
    return str(record[sink.key_field])


def _check_old_output(out: Path, manifest: dict | None, name: str, settings: Any, match: str, keys: list[str],
                      digests: list[str], old_keys: list[str]) -> set[int]:
    """The positions of the inputs already done; raises if the old output is not this run's."""
    if not old_keys:
        return set()
    if manifest is None:  # what made it is unknown: reusing its lines could count another run's verdicts
        raise ProofsmithError(f"{out} has results but no manifest ({out.name}.run.json): what wrote them is "
                              f"unknown; use another --out")
    if manifest.get("step", name) != name or manifest.get("match", match) != match:
        raise ProofsmithError(f"{out} was written by `{manifest.get('step', 'another command')}`, not `{name}`; "
                              f"use another --out")
    if manifest.get("settings") != settings:
        changed = sorted(k for k in {*settings, *manifest.get("settings", {})}
                         if settings.get(k) != manifest.get("settings", {}).get(k)) if isinstance(settings, dict) else []
        what = f" ({', '.join(changed[:4])})" if changed else ""
        raise ProofsmithError(f"{out} was started with other settings{what}; use another --out")
    if match == "order":
        if len(old_keys) > len(keys):
            raise ProofsmithError(f"{out} has {len(old_keys)} results for {len(keys)} inputs; use another --out")
        old_digests = manifest.get("items", [])
        for i, old_key in enumerate(old_keys):
            if old_key != keys[i]:
                raise ProofsmithError(f"{out} does not match the inputs (line {i + 1} is {old_key!r}, the inputs "
                                      f"have {keys[i]!r} there); use another --out")
            if i >= len(old_digests) or old_digests[i] != digests[i]:
                raise ProofsmithError(f"{out} was made from other inputs (line {i + 1}, {keys[i]!r}, changed); "
                                      f"use another --out")
        return set(range(len(old_keys)))
    old_digests = manifest.get("items", {})
    position = {k: i for i, k in enumerate(keys)}
    done = set()
    for k in old_keys:
        if k in position:
            if old_digests.get(k) != digests[position[k]]:
                raise ProofsmithError(f"{out} was made from other inputs ({k!r} changed); use another --out")
            done.add(position[k])
    return done


def _write_manifest(path: Path, old: dict | None, name: str, settings: Any, match: str, keys: list[str],
                    digests: list[str]) -> None:
    if match == "order":
        items: Any = digests
    else:  # keep the digests of other runs' keys: their lines stay in the output
        items = {**(old.get("items", {}) if old and isinstance(old.get("items"), dict) else {}), **dict(zip(keys, digests))}
    manifest = {"step": name, "settings": settings, "match": match, "inputs": len(keys),
                "fingerprint": hashlib.sha256("".join(digests).encode()).hexdigest(), "items": items}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(manifest, indent=1, sort_keys=True))


def _refuse_input_as_output(out: Path, inputs: Iterable[str | os.PathLike]) -> None:
    target = out.resolve()
    for p in inputs:
        if Path(p).resolve() == target:
            raise ProofsmithError(f"--out {out} is one of the inputs; use another --out")


def _set_postfix(bar, value: Mapping[str, Any] | str | None) -> None:
    if isinstance(value, str):
        bar.set_postfix_str(value, refresh=False)
    elif value:
        bar.set_postfix(value, refresh=False)


# ----------------------------------------------------------------------------- fingerprints


def digest(obj: Any) -> str:
    """A short digest of an item's content (its plain JSON form)."""
    text = json.dumps(plain(obj), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]  # a lone surrogate too


def plain(obj: Any) -> Any:
    """`obj` as JSON-able data: dataclasses and `to_dict()` objects by their fields, paths as text."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, bytes):
        return hashlib.sha256(obj).hexdigest()
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(plain(v) for v in obj)
    if callable(getattr(obj, "to_dict", None)):
        return plain(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    raise TypeError(f"cannot fingerprint a {type(obj).__name__}: pass fingerprint= to run_resumable")
