"""The ``privdomain`` command line: ``python -m privdomain demo``. The only module that prints."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from privdomain.demo import WEEKS, run_demo

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="privdomain", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="simulate a pool and walk it through the library")
    demo.add_argument("--customers", type=int, default=20_000, help="pool size (default 20000)")
    demo.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    demo.add_argument(
        "--weeks", type=int, default=WEEKS, help=f"weekly runs of the daily cycle (default {WEEKS})"
    )
    args = parser.parse_args(argv)
    if args.command == "demo" and not (args.customers >= 1 and args.weeks >= 1):
        parser.error("--customers and --weeks must be at least 1")

    if args.command == "demo":
        for title, text in run_demo(args.customers, seed=args.seed, weeks=args.weeks):
            print(f"\n== {title} " + "=" * max(0, 66 - len(title)))
            print(text, flush=True)
        print(f"\n(done in {time.process_time():.1f} s of CPU)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
