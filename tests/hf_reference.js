// hf_reference.js - Hugging Face's side of the tokenizer comparison
// (tests/integration/hftok.sh; tests/tools/hf_tok.c is prefpipe's side).
// Runs the Rust `tokenizers` library through its Node binding
// (@anush008/tokenizers), loaded from the directory NPM_DIR/node_modules.
//
//   node hf_reference.js NPM_DIR encode TOKENIZER_JSON < strings.jsonl
//       one JSON string a line in; {"ids":[...],"text":"..."} a line out:
//       the ids with the post-processor's special tokens, and
//       decode(ids, skip_special_tokens=true)
//   node hf_reference.js NPM_DIR vicuna QUESTIONS.jsonl
//       every turn of the Vicuna questions, one JSON string a line
//   node hf_reference.js NPM_DIR compare OURS.jsonl THEIRS.jsonl INPUT.jsonl
//       prints "ids N/N text N/N roundtrip N" and the first differences;
//       exits 1 when any ids or decoded text differ
'use strict';
const fs = require('fs');
const path = require('path');
const [npmDir, mode, ...args] = process.argv.slice(2);

const lines = (file) => fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));

async function encode(tokenizerJson) {
  const { Tokenizer } = require(path.join(npmDir, 'node_modules', '@anush008', 'tokenizers'));
  const tok = Tokenizer.fromFile(tokenizerJson);
  const out = [];
  for (const text of lines('/dev/stdin')) {
    const enc = await tok.encode(text, null, { addSpecialTokens: true });
    const ids = enc.getIds();
    out.push(JSON.stringify({ ids, text: await tok.decode(ids, true) }));
  }
  process.stdout.write(out.join('\n') + '\n');
}

function vicuna(file) {
  for (const q of lines(file)) for (const turn of q.turns) console.log(JSON.stringify(turn));
}

function compare(oursFile, theirsFile, inputFile) {
  const ours = lines(oursFile), theirs = lines(theirsFile), input = lines(inputFile);
  if (ours.length !== theirs.length || ours.length !== input.length) {
    console.log(`line counts differ: ours ${ours.length}, HF ${theirs.length}, input ${input.length}`);
    process.exit(1);
  }
  let sameIds = 0, sameText = 0, roundtrip = 0, shown = 0;
  for (let i = 0; i < ours.length; i++) {
    const idsOk = JSON.stringify(ours[i].ids) === JSON.stringify(theirs[i].ids);
    const textOk = ours[i].text === theirs[i].text;
    sameIds += idsOk;
    sameText += textOk;
    roundtrip += textOk && theirs[i].text === input[i];
    if ((!idsOk || !textOk) && shown++ < 3) {
      console.log(`line ${i + 1}: ${JSON.stringify(input[i]).slice(0, 200)}`);
      if (!idsOk) console.log(`  ours ${JSON.stringify(ours[i].ids).slice(0, 300)}\n  HF   ${JSON.stringify(theirs[i].ids).slice(0, 300)}`);
      if (!textOk) console.log(`  ours text ${JSON.stringify(ours[i].text).slice(0, 200)}\n  HF   text ${JSON.stringify(theirs[i].text).slice(0, 200)}`);
    }
  }
  console.log(`ids ${sameIds}/${ours.length} text ${sameText}/${ours.length} roundtrip ${roundtrip}`);
  process.exit(sameIds === ours.length && sameText === ours.length ? 0 : 1);
}

if (mode === 'encode') encode(args[0]).catch((e) => { console.error(`hf_reference: ${e.message}`); process.exit(1); });
else if (mode === 'vicuna') vicuna(args[0]);
else if (mode === 'compare') compare(args[0], args[1], args[2]);
else { console.error('usage: see the head of tests/hf_reference.js'); process.exit(2); }
