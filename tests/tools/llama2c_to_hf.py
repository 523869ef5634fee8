#!/usr/bin/env python3
"""llama2c_to_hf.py - a second, independent llama2.c -> Hugging Face writer
for tests (Python standard library only; no torch, no prefpipe code).

    python3 tests/tools/llama2c_to_hf.py X.bin OUT_DIR f32|bf16

Reads a llama2.c v0 checkpoint and writes OUT_DIR/config.json and
OUT_DIR/model.safetensors the way Hugging Face lays them out: q_proj and
k_proj rows of each head reordered from consecutive pairs (2i, 2i+1) to
halves (i, i + head_dim/2), bf16 rounded to nearest even.  convert_hf.sh
checks that pp-convert reads this directory to the same model as the
llama2.c import, and that pp-convert --to-hf --dtype bf16 agrees with it.
"""
import json
import os
import struct
import sys
from array import array


def read_llama2c(path):
    with open(path, "rb") as f:
        data = f.read()
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack("<7i", data[:28])
    tied = vocab > 0
    vocab = abs(vocab)
    floats = array("f")
    floats.frombytes(data[28:])
    hd = dim // heads
    kv = kv_heads * hd
    cfg = dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, vocab=vocab,
               seq_len=seq_len, tied=tied, hd=hd, kv=kv)
    pos = 0

    def take(n):
        nonlocal pos
        out = floats[pos:pos + n]
        pos += n
        return out

    w = {}
    w["embed"] = take(vocab * dim)
    for name, n in (("attn_norm", dim), ("wq", dim * dim), ("wk", kv * dim), ("wv", kv * dim),
                    ("wo", dim * dim), ("ffn_norm", dim), ("w1", hidden * dim), ("w2", dim * hidden),
                    ("w3", hidden * dim)):
        w[name] = [take(n) for _ in range(layers)]
    w["final_norm"] = take(dim)
    take(seq_len * hd)  # the two RoPE tables of a v0 file
    if not tied:
        w["lm_head"] = take(vocab * dim)
    return cfg, w


def pairs_to_halves(m, n_heads, hd, cols):
    out = array("f", bytes(4 * len(m)))
    for h in range(n_heads):
        for i in range(hd // 2):
            for j in range(2):
                src = (h * hd + 2 * i + j) * cols
                dst = (h * hd + i + j * (hd // 2)) * cols
                out[dst:dst + cols] = m[src:src + cols]
    return out


def to_bf16(a):
    bits = array("I")
    bits.frombytes(a.tobytes())
    out = array("H", ((u + 0x7FFF + ((u >> 16) & 1)) >> 16 & 0xFFFF for u in bits))
    return out.tobytes()


def main():
    src, out, dtype = sys.argv[1], sys.argv[2], sys.argv[3]
    c, w = read_llama2c(src)
    d, hd = c["dim"], c["hd"]
    t = [("model.embed_tokens.weight", [c["vocab"], d], w["embed"])]
    for l in range(c["layers"]):
        p = "model.layers.%d." % l
        t += [(p + "input_layernorm.weight", [d], w["attn_norm"][l]),
              (p + "self_attn.q_proj.weight", [d, d], pairs_to_halves(w["wq"][l], c["heads"], hd, d)),
              (p + "self_attn.k_proj.weight", [c["kv"], d], pairs_to_halves(w["wk"][l], c["kv_heads"], hd, d)),
              (p + "self_attn.v_proj.weight", [c["kv"], d], w["wv"][l]),
              (p + "self_attn.o_proj.weight", [d, d], w["wo"][l]),
              (p + "post_attention_layernorm.weight", [d], w["ffn_norm"][l]),
              (p + "mlp.gate_proj.weight", [c["hidden"], d], w["w1"][l]),
              (p + "mlp.down_proj.weight", [d, c["hidden"]], w["w2"][l]),
              (p + "mlp.up_proj.weight", [c["hidden"], d], w["w3"][l])]
    t.append(("model.norm.weight", [d], w["final_norm"]))
    if not c["tied"]:
        t.append(("lm_head.weight", [c["vocab"], d], w["lm_head"]))
    header, blobs, off = {}, [], 0
    for name, shape, a in t:
        b = a.tobytes() if dtype == "f32" else to_bf16(a)
        header[name] = {"dtype": "F32" if dtype == "f32" else "BF16", "shape": shape, "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    text = json.dumps(header).encode()
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    config = {"architectures": ["LlamaForCausalLM"], "hidden_size": d, "intermediate_size": c["hidden"],
              "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"],
              "num_key_value_heads": c["kv_heads"], "vocab_size": c["vocab"],
              "max_position_embeddings": c["seq_len"], "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
              "tie_word_embeddings": c["tied"], "hidden_act": "silu"}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


if __name__ == "__main__":
    main()
