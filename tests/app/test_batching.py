"""The batcher: a lone caller runs at once, concurrent callers share a batch up to the maximum, a batch waits for
announced callers, errors reach every caller of their batch and only them, and a closed batcher takes nothing new."""

import threading

import pytest

from app.services.batching import Batcher, BatcherClosed
from app.services.models import ServedModel

LONG_S = 600.0  # a window no test may wait out: a caller that waited it would fail its thread's join first


class Recorder:
    """``run`` for a batcher: records each batch, answers each item doubled, can hold a batch until released."""

    def __init__(self, hold_first: bool = False) -> None:
        self.batches: list[list] = []
        self.release = threading.Event()
        if not hold_first:
            self.release.set()
        self.started = threading.Event()

    def __call__(self, items: list) -> list:
        self.batches.append(list(items))
        self.started.set()
        self.release.wait()
        if "bad" in items:
            raise ValueError("a bad batch")
        return [2 * item for item in items]


def submit_in_thread(batcher: Batcher, item, answers: dict, errors: dict) -> threading.Thread:
    def call() -> None:
        try:
            answers[item] = batcher.submit(item)
        except Exception as exc:  # checked by the test
            errors[item] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def wait_until(predicate, what: str) -> None:
    for _ in range(2000):
        if predicate():
            return
        threading.Event().wait(0.005)
    raise AssertionError(f"never happened: {what}")


def test_a_lone_caller_runs_at_once_whatever_the_window():
    run = Recorder()
    batcher = Batcher(run, max_size=8, window_s=LONG_S)
    answers, errors = {}, {}
    thread = submit_in_thread(batcher, 21, answers, errors)
    thread.join(timeout=30)
    assert not thread.is_alive() and answers == {21: 42} and not errors
    assert run.batches == [[21]]
    assert batcher.stats() == {"batches": 1, "images": 1, "sizes": {"1": 1}}


def test_callers_that_queue_while_a_batch_runs_share_the_next_batches_up_to_the_maximum():
    run = Recorder(hold_first=True)
    batcher = Batcher(run, max_size=3, window_s=LONG_S)
    answers, errors = {}, {}
    threads = [submit_in_thread(batcher, 0, answers, errors)]
    assert run.started.wait(30)  # the first runs alone, held
    threads += [submit_in_thread(batcher, item, answers, errors) for item in (1, 2, 3, 4)]
    wait_until(lambda: batcher.queued == 4, "four callers queued")
    run.release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert answers == {item: 2 * item for item in range(5)} and not errors
    assert [len(batch) for batch in run.batches] == [1, 3, 1]  # the maximum, then the rest at once
    assert sorted(item for batch in run.batches for item in batch) == [0, 1, 2, 3, 4]
    assert batcher.stats() == {"batches": 3, "images": 5, "sizes": {"1": 2, "3": 1}}


def test_a_batch_waits_for_a_caller_on_its_way_and_not_for_one_that_withdrew():
    run = Recorder()
    batcher = Batcher(run, max_size=8, window_s=LONG_S)
    answers, errors = {}, {}
    with batcher.arriving() as arrival:
        early = submit_in_thread(batcher, 1, answers, errors)
        wait_until(lambda: batcher.queued == 1, "the first caller queued")
        assert not run.batches  # it waits for the announced caller
        assert batcher.submit(2, arrival) == 4
    early.join(timeout=30)
    assert run.batches == [[1, 2]] and answers == {1: 2}

    with batcher.arriving():
        late = submit_in_thread(batcher, 3, answers, errors)
        wait_until(lambda: batcher.queued == 1, "the caller queued")
    late.join(timeout=30)  # the announced caller left without submitting: no waiting for it
    assert not late.is_alive() and run.batches[-1] == [3] and answers[3] == 6


def test_an_error_reaches_every_caller_of_its_batch_and_no_other():
    run = Recorder(hold_first=True)
    batcher = Batcher(run, max_size=2, window_s=LONG_S)
    answers, errors = {}, {}
    threads = [submit_in_thread(batcher, 0, answers, errors)]
    assert run.started.wait(30)
    threads += [submit_in_thread(batcher, item, answers, errors) for item in ("bad", 5)]
    wait_until(lambda: batcher.queued == 2, "two callers queued")
    run.release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert answers == {0: 0} and set(errors) == {"bad", 5}
    assert all(isinstance(e, ValueError) for e in errors.values())
    assert batcher.submit(7) == 14  # the batcher goes on


def test_a_run_that_answers_too_few_fails_its_batch():
    batcher = Batcher(lambda items: items[1:], max_size=4, window_s=0)
    with pytest.raises(RuntimeError, match="a batch of 1 items got 0 answers"):
        batcher.submit("x")


def test_a_closed_batcher_takes_nothing_new_but_answers_what_was_queued():
    run = Recorder(hold_first=True)
    batcher = Batcher(run, max_size=4, window_s=LONG_S)
    answers, errors = {}, {}
    threads = [submit_in_thread(batcher, 1, answers, errors)]
    assert run.started.wait(30)
    threads.append(submit_in_thread(batcher, 2, answers, errors))
    wait_until(lambda: batcher.queued == 1, "a caller queued")
    batcher.close()
    with pytest.raises(BatcherClosed):
        batcher.submit(3)
    run.release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert answers == {1: 2, 2: 4} and not errors


class Preparing:
    """A model with the batched contract whose preparation fails for one picture."""

    def prepare(self, image):
        if image == "broken":
            raise OSError("cannot prepare this picture")
        return image

    def describe_arrays(self, images):
        from pipeline.models.honesty import Description

        return [Description(f"a picture {image}", True, 0.9, True) for image in images]


def test_a_picture_that_fails_preparation_fails_only_its_own_request():
    captioner = Preparing()
    batcher = Batcher(lambda items: captioner.describe_arrays(items), max_size=8, window_s=LONG_S)
    model = ServedModel("m", "1", captioner, {}, (), None, None, None, 0.0, "float32", batcher=batcher)
    results, failures = {}, {}

    def convert(image) -> None:
        with model.arriving() as arrival:
            try:
                results[image] = model.describe(image, arrival).caption
            except OSError as exc:
                failures[image] = exc

    threads = [threading.Thread(target=convert, args=(image,)) for image in ("one", "broken", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == {"one": "a picture one", "two": "a picture two"} and list(failures) == ["broken"]
    assert batcher.stats()["images"] == 2
