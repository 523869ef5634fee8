// render.cjs - the reference side of tests/integration/chat.sh: renders
// conversations with @huggingface/jinja (Hugging Face's own Jinja renderer
// for chat templates) from real template strings.
//
//   node render.cjs TEMPLATE_FILE CASES.jsonl BOS EOS GEN OUTDIR
//
// TEMPLATE_FILE holds the chat_template text (a tokenizer_config.json, whose
// "chat_template" is used, or the bare template).  CASES.jsonl has one JSON
// array of {role, content} per line.  GEN is 1 or 0 (add_generation_prompt).
// Output: OUTDIR/N.txt, the rendering of case N (non-blank lines counted
// from 0) byte for byte, or OUTDIR/N.err when the template raises.
const { readFileSync, writeFileSync } = require("node:fs");
const { Template } = require("@huggingface/jinja");

const [file, cases, bos, eos, gen, outdir] = process.argv.slice(2);
let text = readFileSync(file, "utf8");
if (file.endsWith(".json")) text = JSON.parse(text).chat_template;
const template = new Template(text);
let n = 0;
for (const line of readFileSync(cases, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const messages = JSON.parse(line);
    try {
        const out = template.render({ messages, bos_token: bos, eos_token: eos, add_generation_prompt: gen === "1" });
        writeFileSync(`${outdir}/${n}.txt`, out, "utf8");
    } catch (e) {
        writeFileSync(`${outdir}/${n}.err`, String(e.message || e), "utf8");
    }
    n++;
}
