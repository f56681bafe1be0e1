"""Where a run's steps execute, swapped without touching a step: `Serial`, `Threads`,
`Processes`, `Ray`. Each has `map(step, items)` yielding (index, record) as results finish."""

from __future__ import annotations

import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..core import ProofsmithError
from .signals import Cancelled, _cancel_thread

Step = Callable[[Any], dict]


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
_START_FAILED: BaseException | None = None  # why the worker could not start, raised by its first job


def _install_step(step: Step, initializer: Callable[..., None] | None, initargs: tuple, parent: int) -> None:
    # an initializer that raises would make the pool respawn workers for ever: keep the error
    # and let the first job raise it, so the run stops with it instead of hanging
    global _STEP, _START_FAILED
    try:
        from ..children import die_with_parent

        die_with_parent(parent)  # a killed run takes its workers (and so their children) with it
        _STEP = step
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the pool's terminate()
        if initializer:
            initializer(*initargs)
    except Exception as exc:  # noqa: BLE001 - reported through the first job
        _START_FAILED = exc


def _run_installed(job: tuple[int, Any]) -> tuple[int, dict]:
    if _START_FAILED is not None:
        raise _START_FAILED
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
