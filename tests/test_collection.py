"""Spaced-out garbage collections for bulk steps (kura.collection): the process's thresholds come back as they were
once the last step running in any thread ends."""

import gc
import threading

from kura.collection import SPACED_ALLOCATIONS, collections_spaced


def test_collections_are_spaced_within_a_step_and_as_before_after_it():
    before = gc.get_threshold()
    with collections_spaced():
        assert gc.get_threshold() == (SPACED_ALLOCATIONS, *before[1:])
        with collections_spaced():
            pass
        assert gc.get_threshold()[0] == SPACED_ALLOCATIONS  # the inner step's end is not the outer's
    assert gc.get_threshold() == before


def test_a_step_ending_in_one_thread_leaves_another_threads_step_spaced():
    before = gc.get_threshold()
    entered, release, seen = threading.Event(), threading.Event(), []

    def other_step() -> None:
        with collections_spaced():
            entered.set()
            release.wait(10)
            seen.append(gc.get_threshold()[0])

    with collections_spaced():
        thread = threading.Thread(target=other_step)
        thread.start()
        assert entered.wait(10)
    assert gc.get_threshold()[0] == SPACED_ALLOCATIONS  # the other thread's step still runs
    release.set()
    thread.join(10)
    assert seen == [SPACED_ALLOCATIONS] and gc.get_threshold() == before
