"""`python -m bench.soak --minutes M --seed N`: one soak on its own services on 127.0.0.1 (docs/reliability.md).

Exit 0 when every invariant held (all counts zero), 1 when one did not, 2 when the soak could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="faults for this long (default 60)")
    parser.add_argument("--seed", type=int, default=26, help="draws the fault schedule (default 26)")
    parser.add_argument("--interval", type=float, default=5.0, help="lagwatch's scrape interval, s (default 5)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--markdown", type=Path, help="write the summary table here (also printed)")
    parser.add_argument("--workdir", type=Path, help="logs, configs and state (default: a new temporary dir)")
    parser.add_argument("--schedule", action="store_true", help="print the seed's fault schedule and exit")
    args = parser.parse_args(argv)

    from bench.soak.schedule import draw

    if args.schedule:
        for fault in draw(args.seed, args.minutes):
            print(f"{fault.at:7.1f}s  {fault.kind:<20} {fault.target:<12} {fault.duration:5.1f}s")
        return 0

    from bench.soak.report import markdown
    from bench.soak.run import soak

    def progress(message: str) -> None:
        print(f"[soak] {message}", file=sys.stderr, flush=True)

    try:
        result = soak(args.minutes, args.seed, args.interval, args.workdir, progress)
    except Exception as exc:  # noqa: BLE001 - a soak that cannot run says why, with its exit code
        import traceback

        progress(f"the soak could not run: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        return 2
    result["command"] = " ".join(["python -m bench.soak", *(argv if argv is not None else sys.argv[1:])])
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    text = markdown(result)
    if args.markdown:
        args.markdown.write_text(text)
    print(text)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
