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
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .core import ProofsmithError

Step = Callable[[Any], dict]


# ----------------------------------------------------------------------------- signals


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: the run stops where it is and keeps every line already written.

    A KeyboardInterrupt, so that code which saves its state on Ctrl-C (a training checkpoint)
    does so on SIGTERM too; `exit_code` is the shell's 128 + the signal's number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum, self.exit_code = signum, 128 + signum


_signals = {"shield": 0, "pending": None, "raised": False}


@contextmanager
def interruptible() -> Iterator[None]:
    """Within: SIGINT and SIGTERM raise `Interrupted` in the main thread, once (later ones are
    ignored while it unwinds). Outside the main thread, or once left, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    _signals.update(shield=0, pending=None, raised=False)
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def _on_signal(signum: int, frame: Any) -> None:
    if _signals["raised"]:
        return
    if _signals["shield"]:  # a line or a manifest is being written: after it
        _signals["pending"] = signum
        return
    _signals["raised"] = True
    raise Interrupted(signum)


@contextmanager
def shielded() -> Iterator[None]:
    """A signal waits until the block is done: a results line or a manifest is written whole or not at all."""
    if threading.current_thread() is not threading.main_thread():  # signals are only handled there
        yield
        return
    _signals["shield"] += 1
    try:
        yield
    finally:
        _signals["shield"] -= 1
        if not _signals["shield"] and _signals["pending"] is not None:
            signum, _signals["pending"], _signals["raised"] = _signals["pending"], None, True
            raise Interrupted(signum)


def end_children(wait: float = 2.0) -> None:
    """End this process's children, for a run that stops early.

    A child that leads its own process group (a coqidetop, a sandbox: started in a session of
    their own, so no signal to our group reaches them) is killed with its group, again until
    none is left or `wait` passes (a step still unwinding may start one more); the others get
    SIGTERM (multiprocessing's resource tracker ignores it and ends when we do).
    """
    deadline = time.monotonic() + wait
    termed: set[int] = set()
    while True:
        leaders = 0
        for pid, pgrp in _children():
            try:
                if pgrp == pid:
                    os.killpg(pid, signal.SIGKILL)
                    leaders += 1
                elif pid not in termed:
                    os.kill(pid, signal.SIGTERM)
                    termed.add(pid)
            except (ProcessLookupError, PermissionError):
                pass
        if not leaders or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _children() -> list[tuple[int, int]]:
    """(pid, process group) of every live (not zombie) child of this process."""
    me, found = os.getpid(), []
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()  # after "pid (comm)": state ppid pgrp ...
        except (OSError, IndexError):
            continue
        if int(fields[1]) == me and fields[0] != b"Z":
            found.append((int(entry.name), int(fields[2])))
    return found


class Cancelled(BaseException):
    """Raised inside a worker thread whose run has stopped: its step unwinds (closing what it opened)."""


def _cancel_thread(thread: threading.Thread) -> None:
    # The only way to stop a step running in a thread: the exception is raised there as soon as
    # it runs Python code again (a blocking call returns first; `end_children` ends most of those).
    import ctypes

    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(Cancelled))


# ----------------------------------------------------------------------------- executors

# The main thread waits in slices: a signal that lands just before a blocking wait begins is
# only seen by Python when the wait returns.
_POLL_S = 0.25


class Serial:
    """In this process, one item after another."""

    def map(self, step: Step, items: Sequence[Any]) -> Iterator[tuple[int, dict]]:
        for i, item in enumerate(items):
            yield i, step(item)


class Threads:
    """Daemon threads: for steps that mostly wait on a child process (checkers, coqidetop).

    When the run stops early (an error, a signal), items not started are dropped and the steps
    still running are cancelled (`Cancelled` is raised in their threads); nothing waits for them,
    and being daemons they never hold up the exit.
    """

    def __init__(self, n: int = 2) -> None:
        self.n = max(1, n)

    def map(self, step: Step, items: Sequence[Any]) -> Iterator[tuple[int, dict]]:
        if not items:
            return
        jobs: queue.SimpleQueue = queue.SimpleQueue()
        results: queue.SimpleQueue = queue.SimpleQueue()
        stop, busy = threading.Event(), set()
        workers = [threading.Thread(target=_work, args=(step, jobs, results, stop, busy), daemon=True,
                                    name=f"proofsmith-step-{k}") for k in range(min(self.n, len(items)))]
        for worker in workers:
            worker.start()
        queued = iter(enumerate(items))
        in_flight = 0
        try:
            for job in queued:  # a few in flight per thread, not the whole input
                jobs.put(job)
                in_flight += 1
                if in_flight >= 2 * len(workers):
                    break
            while in_flight:
                try:
                    position, ok, value = results.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                in_flight -= 1
                if not ok:
                    raise value
                for job in queued:
                    jobs.put(job)
                    in_flight += 1
                    break
                yield position, value
        finally:
            stop.set()
            for _ in workers:
                jobs.put(None)
            if in_flight:  # stopped early: the steps still running are cancelled, not awaited
                for worker in workers:
                    if worker.ident in busy:
                        _cancel_thread(worker)


def _work(step: Step, jobs: queue.SimpleQueue, results: queue.SimpleQueue, stop: threading.Event,
          busy: set[int]) -> None:
    me = threading.get_ident()
    try:
        while (job := jobs.get()) is not None and not stop.is_set():
            busy.add(me)
            try:
                outcome = (job[0], True, step(job[1]))
            except Cancelled:
                raise
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
                outcome = (job[0], False, exc)
            finally:
                busy.discard(me)
            results.put(outcome)
    except Cancelled:
        pass


class Processes:
    """Worker processes ('spawn': no forked torch or thread state); the step is sent once per worker.

    When the run stops early the pool is terminated: SIGTERM's default action ends a worker
    at once (a Python handler could be missed by a worker blocked in a lock), and its children
    die with it (`children`: the parent-death signal).
    """

    def __init__(self, n: int = 2, initializer: Callable[..., None] | None = None, initargs: tuple = ()) -> None:
        self.n, self.initializer, self.initargs = max(1, n), initializer, initargs

    def map(self, step: Step, items: Sequence[Any]) -> Iterator[tuple[int, dict]]:
        import multiprocessing

        if not items:
            return
        context = multiprocessing.get_context("spawn")
        with context.Pool(min(self.n, len(items)), initializer=_install_step,
                          initargs=(step, self.initializer, self.initargs, os.getpid())) as pool:
            results = pool.imap_unordered(_run_installed, enumerate(items))
            for _ in items:
                while True:
                    try:
                        result = results.next(timeout=_POLL_S)
                    except multiprocessing.TimeoutError:
                        continue
                    break
                yield result


_STEP: Step | None = None  # a worker process's step, installed once by its initializer


def _install_step(step: Step, initializer: Callable[..., None] | None, initargs: tuple, parent: int) -> None:
    from .children import die_with_parent

    global _STEP
    die_with_parent(parent)  # a killed run takes its workers (and so their children) with it
    _STEP = step
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the pool's terminate()
    if initializer:
        initializer(*initargs)


def _run_installed(job: tuple[int, Any]) -> tuple[int, dict]:
    return job[0], _STEP(job[1])


class Ray:
    """Ray tasks on the cluster at `address`; 'local' starts one here (no dashboard).

    When the run stops early the tasks left are cancelled (force: their workers are killed) and
    a cluster this executor started is shut down.
    """

    def __init__(self, address: str = "local", num_cpus: float = 1) -> None:
        self.address, self.num_cpus = address, num_cpus

    def map(self, step: Step, items: Sequence[Any]) -> Iterator[tuple[int, dict]]:
        try:
            import ray
        except ImportError as exc:
            raise ProofsmithError("--ray needs: pip install 'proofsmith[ray]'") from exc
        started = not ray.is_initialized()
        if started:
            if self.address == "local":
                ray.init(include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=self.address, log_to_driver=False)
        remote = ray.remote(num_cpus=self.num_cpus)(_call)
        step_ref = ray.put(step)
        pending = {remote.remote(step_ref, item): i for i, item in enumerate(items)}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=_POLL_S)  # signals are seen between
                for ref in done:
                    yield pending.pop(ref), ray.get(ref)
        finally:
            for ref in pending:  # a failed or abandoned run leaves nothing running
                ray.cancel(ref, force=True)
            if pending and started:
                ray.shutdown()


def _call(step: Step, item: Any) -> dict:
    return step(item)


# ----------------------------------------------------------------------------- outputs


class Jsonl:
    """A JSONL output, appended one flushed line per record in input order."""

    def __init__(self, path: str | os.PathLike, match: str = "order", key_field: str = "task_id") -> None:
        if match not in ("order", "key"):
            raise ValueError(f"match must be 'order' or 'key', not {match!r}")
        self.path, self.match, self.key_field = Path(path), match, key_field
        self._f = None
        self._next = 0
        self._waiting: dict[int, dict] = {}

    def read(self) -> list[dict]:
        """The complete lines; a torn last line is cut off the file."""
        return read_complete_jsonl(self.path, repair=True)

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._next, self._waiting = 0, {}
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close(), after the run)

    def put(self, position: int, record: dict) -> list[dict]:
        """Hold `record` until every earlier one is written; returns those written now."""
        self._waiting[position] = record
        written = []
        while self._next in self._waiting:
            r = self._waiting.pop(self._next)
            line = json_line(r)
            with shielded():  # a signal waits for the line: the file stays a list of whole lines
                self._f.write(line)
                self._f.flush()
            written.append(r)
            self._next += 1
        return written

    def close(self) -> None:
        if self._f:
            self._f.close()
            self._f = None


class Directory:
    """One JSON file per item, named by its key's digest, written whole and atomically."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def file(self, key: str) -> Path:
        return self.path / (hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:20] + ".json")

    def open(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def write(self, key: str, record: dict) -> None:
        write_atomic(self.file(key), json.dumps(record))

    def close(self) -> None:
        pass


def json_line(record: dict) -> str:
    """`record` as one JSONL line. Text stays readable (UTF-8, not \\u escapes), but a record holding
    a lone surrogate, which JSON allows and UTF-8 cannot hold, is written all escaped: any line can
    be written, and it reads back exactly as it was."""
    line = json.dumps(record, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(record)
    return line + "\n"


def read_complete_jsonl(path: str | os.PathLike, repair: bool = False) -> list[dict]:
    """Every complete line of a JSONL file (none if it does not exist); `repair` cuts a torn last line off."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):  # a kill mid-write
        data = data[: data.rfind(b"\n") + 1]
        if repair:
            with shielded():
                path.write_bytes(data)
    try:
        return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProofsmithError(f"{path}: not a results file ({exc.__class__.__name__}); use another --out") from None


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with shielded(), tmp.open("w", encoding="utf-8") as f:  # whole or not at all, signals too
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
        tmp.replace(path)


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
