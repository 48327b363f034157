"""The worker runs the loops the capabilities declare, each with an app context of its own,
and returns once told to stop."""

import threading

from flask import current_app

from service.worker import LOOP_NAMES, Loop, WorkerOptions, loops, run_loops


def test_every_capability_declares_its_loop():
    declared = loops()
    assert tuple(declared) == LOOP_NAMES == ("delivery", "jobs", "shadow", "retention")
    assert all(loop.description for loop in declared.values())


def test_the_chosen_loops_run_side_by_side_in_app_contexts_until_stopped(app):
    seen: dict[str, tuple[str, str]] = {}
    running = threading.Barrier(3)  # both loops and the test: they run at once
    stop = threading.Event()

    def record(name):
        def run(stop_event, options):
            seen[name] = (current_app.name, options.name)
            running.wait(timeout=10)
            stop_event.wait()
        return run

    chosen = [Loop("first", "one", record("first")), Loop("second", "two", record("second"))]
    runner = threading.Thread(target=run_loops,
                              args=(app, chosen, WorkerOptions(name="w-1"), stop))
    runner.start()
    running.wait(timeout=10)
    stop.set()
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert seen == {"first": (app.name, "w-1"), "second": (app.name, "w-1")}
