#!/usr/bin/python3
"""make_hf_fixture.py - tiny Hugging Face Llama checkpoints and their logits,
for the HF import (src/model/hf.c, safetensors.c).  Run once with Debian's
python3-torch:

    /usr/bin/python3 tests/torch/make_hf_fixture.py tests/fixtures/hf

Writes, with seeded random weights, checkpoint directories in Hugging Face's
own layout (config.json; model.safetensors written here byte by byte: an
8-byte little-endian header length, the JSON header, the raw tensor data):

  llama3_gqa/          LlamaForCausalLM, F32, 4 query heads / 2 key-value
                       heads of head_dim 12 (hidden_size 32: 32/4 = 8 is not
                       the head size), untied head, rope_scaling llama3
                       (factor 8, low 1, high 4, original context 16: one
                       frequency in the blended band, the rest divided)
  llama3_gqa_bf16/     the same weights stored as BF16
  llama3_gqa_sharded/  the same F32 weights in two shards with
                       model.safetensors.index.json, plus a stale
                       rotary_emb.inv_freq tensor as old checkpoints carry
  tied_plain/          tied head, 3 heads of 8 (no head_dim key), no RoPE
                       scaling, rope_theta 500000, stored as F16

and in each directory expected_logits.txt: the logits of every position of
one token sequence, from a float64 forward written here from the
conventions of transformers' modeling_llama (rotate_half RoPE on the
half-split head layout, repeat_kv for grouped-query attention, RMSNorm
x * rsqrt(mean(x^2) + eps) * w, SwiGLU, llama3 inv_freq scaling) applied to
the weights exactly as stored (so the BF16 and F16 copies have their own
logits).  tests/unit/test_hf.c reads these with the C engine.

expected_logits.txt format: "tokens N t0 t1 ...", "logits T V", then T
lines of V numbers.
"""
import json
import math
import os
import struct
import sys

import torch

F64 = torch.float64
TOKENS = [1, 7, 30, 2, 45, 11, 11, 0, 19, 33, 5, 40, 8, 27, 3, 16]

LLAMA3_GQA = dict(vocab_size=48, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=12,
                  max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0,
                  tie_word_embeddings=False,
                  rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                    high_freq_factor=4.0, original_max_position_embeddings=16))
TIED_PLAIN = dict(vocab_size=48, hidden_size=24, intermediate_size=32, num_hidden_layers=2,
                  num_attention_heads=3, num_key_value_heads=3,
                  max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=500000.0,
                  tie_word_embeddings=True, rope_scaling=None)


def head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def make_weights(cfg, seed):
    """Tensors in Hugging Face names and [out, in] shapes, float32."""
    g = torch.Generator().manual_seed(seed)
    d, V, hid, hd = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"], head_dim(cfg)
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd

    def rnd(*shape, std):
        return torch.randn(*shape, generator=g) * std

    w = {"model.embed_tokens.weight": rnd(V, d, std=1.0)}
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        w[p + "input_layernorm.weight"] = 1.0 + rnd(d, std=0.2)
        w[p + "self_attn.q_proj.weight"] = rnd(q, d, std=0.4)
        w[p + "self_attn.k_proj.weight"] = rnd(kv, d, std=0.4)
        w[p + "self_attn.v_proj.weight"] = rnd(kv, d, std=0.3)
        w[p + "self_attn.o_proj.weight"] = rnd(d, q, std=0.2)
        w[p + "post_attention_layernorm.weight"] = 1.0 + rnd(d, std=0.2)
        w[p + "mlp.gate_proj.weight"] = rnd(hid, d, std=0.3)
        w[p + "mlp.up_proj.weight"] = rnd(hid, d, std=0.3)
        w[p + "mlp.down_proj.weight"] = rnd(d, hid, std=0.2)
    w["model.norm.weight"] = 1.0 + rnd(d, std=0.2)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = rnd(V, d, std=0.3)
    return {k: v.to(torch.float32) for k, v in w.items()}


def inv_freq(cfg):
    """RotaryEmbedding's inverse frequencies, with llama3 scaling."""
    hd = head_dim(cfg)
    f = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=F64) / hd))
    rs = cfg.get("rope_scaling")
    if rs:
        old = rs["original_max_position_embeddings"]
        low, high, factor = rs["low_freq_factor"], rs["high_freq_factor"], rs["factor"]
        wavelen = 2 * math.pi / f
        scaled = torch.where(wavelen > old / low, f / factor, f)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < old / high) & ~(wavelen > old / low)
        f = torch.where(medium, smoothed, scaled)
    return f


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def forward(cfg, w, tokens):
    """Logits [T][V], float64, from the stored weights."""
    w = {k: v.to(F64) for k, v in w.items()}
    T, H, Hkv, hd = len(tokens), cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim(cfg)
    eps = cfg["rms_norm_eps"]
    freqs = torch.outer(torch.arange(T, dtype=F64), inv_freq(cfg))
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((T, T), float("-inf"), dtype=F64).triu(1)
    h = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        x = rmsnorm(h, w[p + "input_layernorm.weight"], eps)
        q = (x @ w[p + "self_attn.q_proj.weight"].T).view(T, H, hd).transpose(0, 1)
        k = (x @ w[p + "self_attn.k_proj.weight"].T).view(T, Hkv, hd).transpose(0, 1)
        v = (x @ w[p + "self_attn.v_proj.weight"].T).view(T, Hkv, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = H // Hkv  # repeat_kv: query head i reads key/value head i // rep
        k = k[:, None].expand(Hkv, rep, T, hd).reshape(H, T, hd)
        v = v[:, None].expand(Hkv, rep, T, hd).reshape(H, T, hd)
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd) + mask, dim=-1)
        o = (att @ v).transpose(0, 1).reshape(T, H * hd)
        h = h + o @ w[p + "self_attn.o_proj.weight"].T
        x = rmsnorm(h, w[p + "post_attention_layernorm.weight"], eps)
        gate = x @ w[p + "mlp.gate_proj.weight"].T
        up = x @ w[p + "mlp.up_proj.weight"].T
        h = h + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    h = rmsnorm(h, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return h @ head.T


DTYPES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}


def tensor_bytes(t):
    # raw little-endian element bytes (bf16 has no numpy type: view as int16)
    return t.contiguous().view(torch.int16 if t.element_size() == 2 else torch.int32).numpy().tobytes()


def write_safetensors(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        b = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def write_config(d, cfg, arch="LlamaForCausalLM"):
    c = dict(architectures=[arch], model_type="llama", hidden_act="silu", attention_bias=False,
             mlp_bias=False, bos_token_id=1, eos_token_id=2, **cfg)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(c, f, indent=2)


def write_expected(d, cfg, w):
    logits = forward(cfg, w, TOKENS)
    with open(os.path.join(d, "expected_logits.txt"), "w") as f:
        f.write("tokens %d %s\n" % (len(TOKENS), " ".join(map(str, TOKENS))))
        f.write("logits %d %d\n" % tuple(logits.shape))
        for row in logits.tolist():
            f.write(" ".join("%.10e" % x for x in row) + "\n")


def checkpoint(out, name, cfg, w, dtype, shards=1, extra=None):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    stored = {k: v.to(dtype) for k, v in w.items()}
    write_config(d, cfg)
    if shards == 1:
        write_safetensors(os.path.join(d, "model.safetensors"), stored)
    else:
        names = list(stored)
        cut = len(names) // 2
        weight_map = {}
        for i, part in enumerate((names[:cut], names[cut:])):
            fname = "model-%05d-of-%05d.safetensors" % (i + 1, shards)
            chunk = {k: stored[k] for k in part}
            if i == 1 and extra:
                chunk.update(extra)
            write_safetensors(os.path.join(d, fname), chunk)
            weight_map.update({k: fname for k in chunk})
        total = sum(len(tensor_bytes(t)) for t in stored.values())
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    # the logits of the weights as stored (rounded for BF16 / F16)
    write_expected(d, cfg, {k: v.to(torch.float32) for k, v in stored.items()})


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/hf"
    w = make_weights(LLAMA3_GQA, 20)
    checkpoint(out, "llama3_gqa", LLAMA3_GQA, w, torch.float32)
    checkpoint(out, "llama3_gqa_bf16", LLAMA3_GQA, w, torch.bfloat16)
    stale = {"model.layers.0.self_attn.rotary_emb.inv_freq": inv_freq(LLAMA3_GQA).to(torch.float32)}
    checkpoint(out, "llama3_gqa_sharded", LLAMA3_GQA, w, torch.float32, shards=2, extra=stale)
    tw = make_weights(TIED_PLAIN, 21)
    checkpoint(out, "tied_plain", TIED_PLAIN, tw, torch.float16)


if __name__ == "__main__":
    main()
