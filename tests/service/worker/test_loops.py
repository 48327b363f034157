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


def test_a_loop_that_fails_stops_the_others_and_is_named(app):
    stop = threading.Event()

    def fails(stop_event, options):
        raise RuntimeError("the receiver table is gone")

    def waits(stop_event, options):
        stop_event.wait()

    failed = run_loops(app, [Loop("broken", "fails", fails), Loop("patient", "waits", waits)],
                       WorkerOptions(name="w-2"), stop)
    assert failed == ["broken"] and stop.is_set()


def test_once_runs_no_loop_but_delivery(app):
    result = app.test_cli_runner().invoke(args=["worker", "--once", "--only", "jobs"])
    assert result.exit_code == 2 and "--once delivers what is due" in result.output
    assert app.test_cli_runner().invoke(args=["worker", "--once"]).output.endswith(
        "0 event(s) handled.\n")
