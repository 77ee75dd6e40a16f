"""A long run of the pathway engine's state machine (tests/test_engine_defects.py, EngineMachine),
through the real CLI: peers' records in any date order, whole pathways walked, voids, sessions,
offerings closed, observations, settings changes, sweeps at several dates, lapses, reactivations, holds and recruits skipping stages,
checking after every step that `leaders` agrees with `progress`, that every status change has its
audit event and that funnel conversions stay within 0-100 %.

    python bench/engine_machine.py [--examples 500] [--steps 60] [--seed N]

The test suite runs the same machine briefly; this is where it runs long. Exits 1 with the
shrunk failing sequence of steps if any invariant breaks.
"""

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

from hypothesis import seed as hypothesis_seed  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

from test_engine_defects import EngineMachine, machine_settings  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=500, help="sequences of steps to try")
    parser.add_argument("--steps", type=int, default=60, help="at most this many steps in each")
    parser.add_argument("--seed", type=int, help="repeat a run")
    args = parser.parse_args(argv)
    machine = EngineMachine if args.seed is None else hypothesis_seed(args.seed)(EngineMachine)
    started = time.perf_counter()
    try:
        run_state_machine_as_test(machine, settings=machine_settings(args.examples, args.steps))
    except AssertionError as error:
        print(f"an invariant of the engine broke: {error}", file=sys.stderr)
        return 1
    print(f"{args.examples} sequences of up to {args.steps} steps: every invariant held after every step "
          f"({time.perf_counter() - started:.0f} s)")
    reached = ", ".join(f"{status} {count}" for status, count in EngineMachine.statuses_seen.most_common())
    print(f"leader statuses checked: {reached}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
