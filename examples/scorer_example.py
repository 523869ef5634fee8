#!/usr/bin/env python3
"""scorer_example.py - a tiny working pointwise scorer for
`pp-rank --method score --judge cmd --judge-protocol score`.

    pp-rank ... --method score --judge cmd --judge-protocol score \
                --judge-cmd "python3 examples/scorer_example.py --target 40"

Protocol (docs/judge-protocol.md, "The score protocol"): one JSON request
per line on stdin,
    {"id": "...", "prompt": "...", "response": "..."}
one JSON answer per line on stdout, in the same order,
    {"id": <the same id>, "score": <a finite number, higher is better>}
Exit when stdin ends.  Only answers go to stdout; log to stderr.

This scorer calls nothing external: a response scores higher the nearer its
length in characters is to --target.  To plug in a real reward model (any
language, any framework), replace `score()`; keep the loop.
"""
import argparse
import json
import sys


def score(prompt, response, target):
    """Return a float, higher = better.  A real reward model would run here."""
    return -abs(len(response) - target)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", type=int, default=40, help="preferred length in characters")
    args = ap.parse_args()
    for raw in sys.stdin.buffer:  # bytes in, bytes out: UTF-8 whatever the locale
        try:
            req = json.loads(raw.decode("utf-8"))
            answer = {"id": req["id"], "score": float(score(req["prompt"], req["response"], args.target))}
        except (ValueError, KeyError, TypeError) as e:
            # No answer makes prefpipe time out, count it and retry; say why.
            print(f"scorer_example: bad request: {e}", file=sys.stderr, flush=True)
            continue
        sys.stdout.buffer.write(json.dumps(answer).encode("utf-8") + b"\n")
        sys.stdout.buffer.flush()  # one answer per request, at once


if __name__ == "__main__":
    main()
