"""`python -m kosmos_eval.generators [TASK ...] [--check]`: rewrite (or check) the bundled samples."""

from __future__ import annotations

import argparse
import sys

from kosmos_eval.generators.samples import check, regenerate, writers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kosmos_eval.generators", description=__doc__)
    parser.add_argument("tasks", nargs="*", help="tasks to regenerate (default: every task)")
    parser.add_argument("--check", action="store_true", help="compare fresh renderings with what ships")
    args = parser.parse_args(argv)
    tasks = args.tasks or list(writers())
    unknown = sorted(set(tasks) - set(writers()))
    if unknown:
        parser.error(f"no sample writer for {', '.join(unknown)} (known: {', '.join(writers())})")
    if args.check:
        failed = {task: lines for task, lines in check(tasks).items() if lines}
        for task, lines in failed.items():
            print(f"{task}: the shipped sample differs from a fresh rendering")
            print("\n".join(f"  {line}" for line in lines[:20]))
        print(f"{len(tasks) - len(failed)} of {len(tasks)} samples match")
        return 1 if failed else 0
    for path in regenerate(tasks):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
