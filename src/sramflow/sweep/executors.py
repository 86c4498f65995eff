"""Where points are evaluated: in this process, on a local process pool, or on an existing Dask cluster.

Every executor calls ``on_outcome`` in the parent process for each finished point, as soon as its batch
returns, so the parent (the only writer of the store) can commit it at once.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from sramflow.sim.api import PreparedGraph
from sramflow.sweep.errors import SweepError
from sramflow.sweep.evaluate import PointTask, evaluate_batch, evaluate_batch_in_worker, init_worker
from sramflow.sweep.store import PointOutcome

EXECUTORS = ("local", "dask")
OnOutcome = Callable[[PointOutcome], None]


def run_serial(prep: PreparedGraph, batches: Sequence[Sequence[PointTask]], objective: str,
               on_outcome: OnOutcome) -> None:
    for batch in batches:
        for o in evaluate_batch(prep, batch, objective):
            on_outcome(o)


def run_pool(prep: PreparedGraph, batches: Sequence[Sequence[PointTask]], objective: str, workers: int,
             on_outcome: OnOutcome) -> None:
    """Process pool (spawned workers: the parent may hold torch's threads, which do not survive fork).
    At most 2 batches per worker are in flight, so a killed sweep loses little work."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_worker, initargs=(prep,)) as pool:
        pending: set[Future] = set()
        queue = iter(batches)
        try:
            for batch in queue:
                pending.add(pool.submit(evaluate_batch_in_worker, batch, objective))
                if len(pending) >= 2 * workers:
                    pending = _drain(pending, on_outcome)
            while pending:
                pending = _drain(pending, on_outcome)
        except BaseException:
            for f in pending:
                f.cancel()
            raise


def _drain(pending: set[Future], on_outcome: OnOutcome) -> set[Future]:
    done, rest = wait(pending, return_when=FIRST_COMPLETED)
    for f in done:
        for o in f.result():
            on_outcome(o)
    return set(rest)


def run_dask(prep: PreparedGraph, batches: Sequence[Sequence[PointTask]], objective: str, address: str,
             on_outcome: OnOutcome) -> None:
    """On an existing Dask cluster (its workers need the same sramflow installed). The prepared graph is
    scattered once to every worker; batches run as ordinary tasks."""
    try:
        from distributed import Client, as_completed
    except ModuleNotFoundError as exc:  # pragma: no cover - a declared dependency
        raise SweepError(f"--executor dask needs the 'distributed' package: {exc}") from None
    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise SweepError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None
    try:
        prep_f = client.scatter(prep, broadcast=True)
        futures = [client.submit(evaluate_batch, prep_f, list(b), objective, pure=False) for b in batches]
        try:
            for fut in as_completed(futures):
                for o in fut.result():
                    on_outcome(o)
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        client.close()
