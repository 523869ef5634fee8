#!/usr/bin/env python3
"""judge_example.py - a tiny working judge for `pp-rank --judge cmd`.

    pp-rank ... --judge cmd --judge-cmd "python3 examples/judge_example.py --target 40"

Protocol (docs/judge-protocol.md): one JSON request per line on stdin,
    {"id": "...", "prompt": "...", "a": "...", "b": "..."}
one JSON answer per line on stdout, in the same order,
    {"id": <the same id>, "winner": "a" | "b" | "tie"}
Exit when stdin ends.  Only answers go to stdout; log to stderr.

This judge calls nothing external: it prefers the answer whose length in
characters is nearer to --target, and calls it a tie when both are equally
near.  To plug in a real LLM judge, replace `judge()`; keep the loop.
"""
import argparse
import json
import sys


def judge(prompt, a, b, target):
    """Return "a", "b" or "tie".  A real judge would ask a model here."""
    da, db = abs(len(a) - target), abs(len(b) - target)
    if da < db:
        return "a"
    if db < da:
        return "b"
    return "tie"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", type=int, default=40, help="preferred length in characters")
    args = ap.parse_args()
    # Bytes in, bytes out: the texts are UTF-8 whatever the locale says.
    for raw in sys.stdin.buffer:
        try:
            req = json.loads(raw.decode("utf-8"))
            winner = judge(req["prompt"], req["a"], req["b"], args.target)
            answer = {"id": req["id"], "winner": winner}
        except (ValueError, KeyError, TypeError) as e:
            # No answer makes prefpipe time out, count it and retry; say why.
            print(f"judge_example: bad request: {e}", file=sys.stderr, flush=True)
            continue
        sys.stdout.buffer.write(json.dumps(answer).encode("utf-8") + b"\n")
        sys.stdout.buffer.flush()  # one answer per request, at once


if __name__ == "__main__":
    main()
