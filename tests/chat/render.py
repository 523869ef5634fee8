#!/usr/bin/env python3
"""render.py - the second reference of tests/integration/chat.sh: renders
conversations with Python's Jinja2 set up as transformers'
apply_chat_template sets it up (a sandboxed environment, trim_blocks,
lstrip_blocks, the loopcontrols extension, raise_exception), from the same
template strings as render.cjs.

    python3 render.py TEMPLATE_FILE CASES.jsonl BOS EOS GEN OUTDIR

Output as render.cjs: OUTDIR/N.txt (UTF-8 bytes) or OUTDIR/N.err."""
import json
import sys

from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise TemplateError(message)


def main():
    path, cases, bos, eos, gen, outdir = sys.argv[1:7]
    text = open(path, encoding="utf-8").read()
    if path.endswith(".json"):
        text = json.loads(text)["chat_template"]
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.globals["raise_exception"] = raise_exception
    template = env.from_string(text)
    n = 0
    for line in open(cases, encoding="utf-8").read().split("\n"):
        if not line.strip():
            continue
        messages = json.loads(line)
        try:
            out = template.render(messages=messages, bos_token=bos, eos_token=eos, add_generation_prompt=gen == "1")
            with open(f"{outdir}/{n}.txt", "wb") as f:
                f.write(out.encode("utf-8"))
        except Exception as e:  # the template raised: an error on this side
            with open(f"{outdir}/{n}.err", "w", encoding="utf-8") as f:
                f.write(str(e))
        n += 1


main()
