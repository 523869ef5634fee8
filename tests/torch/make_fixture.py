#!/usr/bin/python3
"""make_fixture.py - PyTorch reference for the training engine (model_train.c,
adamw.c).  Run once with Debian's python3-torch:

    /usr/bin/python3 tests/torch/make_fixture.py tests/fixtures

It builds a tiny Llama (RMSNorm, RoPE with llama2.c's consecutive-pair
convention, SwiGLU, grouped-query attention, tied or untied head) straight
from the formulas, in float64, with float32 initial weights from a seeded
torch generator (the weights are written into the fixture, so the C test
needs no generator).  For a small batch of variable-length sequences with
prompt masks it records the logits, the per-sequence summed log-probs of the
scored tokens, the loss, every parameter gradient, and then 10 AdamW steps
(torch.optim.AdamW + clip_grad_norm_) with their losses, gradient norms and
the final weights.  tests/unit/test_torch_parity.c reproduces all of it.

File format (little-endian): records of
    char name[32] (NUL-padded); int32 type (0 float32, 1 int32); int32 0;
    int64 count; then count 4-byte values.
Flat parameter arrays follow model.h's layout: embed, then each kind stacked
over layers (attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_down, w_up),
final_norm, and lm_head when untied.
"""
import math
import os
import struct
import sys

import torch

F64 = torch.float64

# The loss: mean NLL over all scored tokens plus a DPO-style term that
# prefers sequence 0 over sequence 1 (no reference model):
#   loss = -sum_s logp_s / n_scored - log sigmoid(beta * (logp_0 - logp_1))
DPO_BETA = 0.5
ADAMW = dict(lr=1e-2, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, clip=1.0, steps=10)

LENS = [8, 5, 11]
TOKENS = [1, 5, 7, 3, 18, 0, 2, 9,
          4, 11, 6, 17, 12,
          3, 8, 14, 10, 2, 2, 15, 16, 1, 0, 7]
MASK = [0, 0, 0, 1, 1, 1, 1, 1,
        0, 0, 1, 1, 1,
        0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]


def config(tied):
    return dict(dim=16, hidden_dim=24, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=19,
                seq_len=16, tied=tied, norm_eps=1e-5, rope_theta=10000.0)


KINDS = ["attn_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w_gate", "w_down", "w_up"]


def shapes(c):
    d, hd = c["dim"], c["dim"] // c["n_heads"]
    q, kv, h = c["n_heads"] * hd, c["n_kv_heads"] * hd, c["hidden_dim"]
    return {"attn_norm": (d,), "wq": (q, d), "wk": (kv, d), "wv": (kv, d), "wo": (d, q),
            "ffn_norm": (d,), "w_gate": (h, d), "w_down": (d, h), "w_up": (h, d)}


def init_weights(c, seed):
    """float32 draws: matrices normal * 0.25, norm gains 1 + 0.2 normal."""
    g = torch.Generator().manual_seed(seed)
    rnd = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float32)
    W = {"embed": 0.25 * rnd(c["vocab_size"], c["dim"])}
    for kind, shp in shapes(c).items():
        for l in range(c["n_layers"]):
            W[(kind, l)] = (1 + 0.2 * rnd(*shp)) if len(shp) == 1 else 0.25 * rnd(*shp)
    W["final_norm"] = 1 + 0.2 * rnd(c["dim"])
    if not c["tied"]:
        W["lm_head"] = 0.25 * rnd(c["vocab_size"], c["dim"])
    return {k: v.to(F64).requires_grad_(True) for k, v in W.items()}


def flat_order(c):
    keys = ["embed"] + [(kind, l) for kind in KINDS for l in range(c["n_layers"])] + ["final_norm"]
    return keys + ([] if c["tied"] else ["lm_head"])


def flatten(c, tensors):
    return torch.cat([tensors[k].detach().reshape(-1) for k in flat_order(c)])


def rmsnorm(x, w, eps):
    return w * (x * torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + eps))


def rope(x, theta):
    """x [T, heads, hd]: rotate consecutive pairs (2j, 2j+1) at position t by
    t * theta^(-2j/hd) (the llama2.c / Meta convention)."""
    T, _, hd = x.shape
    freq = theta ** (-torch.arange(0, hd, 2, dtype=F64) / hd)
    ang = torch.arange(T, dtype=F64)[:, None] * freq[None, :]
    cos, sin = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1).reshape(x.shape)


def sequence_logits(c, W, toks):
    T, d, H, KV = len(toks), c["dim"], c["n_heads"], c["n_kv_heads"]
    hd = d // H
    x = W["embed"][torch.tensor(toks)]
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    for l in range(c["n_layers"]):
        xn = rmsnorm(x, W[("attn_norm", l)], c["norm_eps"])
        q = rope((xn @ W[("wq", l)].T).view(T, H, hd), c["rope_theta"])
        k = rope((xn @ W[("wk", l)].T).view(T, KV, hd), c["rope_theta"])
        v = (xn @ W[("wv", l)].T).view(T, KV, hd)
        k = k.repeat_interleave(H // KV, dim=1)  # query head h reads kv head h // group
        v = v.repeat_interleave(H // KV, dim=1)
        scores = torch.einsum("thd,shd->hts", q, k) / math.sqrt(hd)
        p = torch.softmax(scores.masked_fill(causal, float("-inf")), dim=-1)
        att = torch.einsum("hts,shd->thd", p, v).reshape(T, H * hd)
        x = x + att @ W[("wo", l)].T
        xn = rmsnorm(x, W[("ffn_norm", l)], c["norm_eps"])
        gate, up = xn @ W[("w_gate", l)].T, xn @ W[("w_up", l)].T
        x = x + (torch.nn.functional.silu(gate) * up) @ W[("w_down", l)].T
    head = W["embed"] if c["tied"] else W["lm_head"]
    return rmsnorm(x, W["final_norm"], c["norm_eps"]) @ head.T


def forward(c, W):
    """logits [N][V] of all positions, per-sequence summed logps, counts, loss."""
    logits, logps, counts, start = [], [], [], 0
    for n in LENS:
        toks = TOKENS[start:start + n]
        z = sequence_logits(c, W, toks)
        lsm = torch.log_softmax(z, dim=-1)
        scored = [t for t in range(1, n) if MASK[start + t]]
        logps.append(sum((lsm[t - 1, toks[t]] for t in scored), torch.zeros((), dtype=F64)))
        counts.append(len(scored))
        logits.append(z)
        start += n
    nll = -sum(logps) / sum(counts)
    dpo = -torch.nn.functional.logsigmoid(DPO_BETA * (logps[0] - logps[1]))
    return torch.cat(logits), torch.stack(logps), counts, nll + dpo


def write_record(f, name, values, is_int=False):
    vals = [int(v) for v in values] if is_int else [float(v) for v in values]
    f.write(struct.pack("<32sii q", name.encode(), 1 if is_int else 0, 0, len(vals)))
    f.write(struct.pack("<%d%s" % (len(vals), "i" if is_int else "f"), *vals))


def make(c, seed, path):
    W = init_weights(c, seed)
    init_flat = flatten(c, W)
    logits, logps, counts, loss = forward(c, W)
    loss.backward()
    grads = torch.cat([W[k].grad.reshape(-1) for k in flat_order(c)])

    # weight decay on the matrices only: not on the embedding (nor the tied head) or the norms
    decay = [W[k] for k in flat_order(c) if W[k].dim() == 2 and k != "embed"]
    no_decay = [W[k] for k in flat_order(c) if W[k].dim() == 1 or k == "embed"]
    params = decay + no_decay
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": ADAMW["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=ADAMW["lr"], betas=(ADAMW["beta1"], ADAMW["beta2"]), eps=ADAMW["eps"])
    losses, norms = [], []
    for _ in range(ADAMW["steps"]):
        opt.zero_grad()
        step_loss = forward(c, W)[3]
        step_loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, ADAMW["clip"])))
        losses.append(float(step_loss))
        opt.step()

    with open(path, "wb") as f:
        write_record(f, "config", [c["dim"], c["hidden_dim"], c["n_layers"], c["n_heads"], c["n_kv_heads"],
                                   c["vocab_size"], c["seq_len"], int(c["tied"])], is_int=True)
        write_record(f, "norm_eps_rope_theta", [c["norm_eps"], c["rope_theta"]])
        write_record(f, "lens", LENS, is_int=True)
        write_record(f, "tokens", TOKENS, is_int=True)
        write_record(f, "mask", MASK, is_int=True)
        write_record(f, "dpo_beta", [DPO_BETA])
        write_record(f, "adamw", [ADAMW[k] for k in ("lr", "beta1", "beta2", "eps", "weight_decay", "clip")])
        write_record(f, "params", init_flat.tolist())
        write_record(f, "logits", logits.detach().reshape(-1).tolist())
        write_record(f, "logps", logps.detach().tolist())
        write_record(f, "counts", counts, is_int=True)
        write_record(f, "loss", [float(loss)])
        write_record(f, "grads", grads.tolist())
        write_record(f, "step_losses", losses)
        write_record(f, "step_grad_norms", norms)
        write_record(f, "final_params", flatten(c, W).tolist())
    print("%s: %d parameters, loss %.6f, losses after AdamW %s" %
          (path, init_flat.numel(), float(loss), " ".join("%.5f" % x for x in losses)))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures")
    make(config(True), 20240601, os.path.join(out, "torch_tied.bin"))
    make(config(False), 20240602, os.path.join(out, "torch_untied.bin"))


if __name__ == "__main__":
    main()
