#!/usr/bin/python3
"""make_dpo_fixture.py - PyTorch reference for one full DPO / BCR training
step as pp-train runs it (src/train/dpo.c dpo_grad, then adamw_step).  Run once
with Debian's python3-torch:

    /usr/bin/python3 tests/torch/make_dpo_fixture.py tests/fixtures

The tiny Llama is make_fixture.py's (same formulas, same consecutive-pair
RoPE, float64, float32 initial weights from a seeded generator), imported
from there.  A batch of three preference pairs of different lengths
(prompt, chosen response, rejected response) becomes six sequences,
prompt + response, scored on the response tokens only.  The losses are
written here from DESIGN.md §2 "train", not from src/train/pref_loss.c:

    Δw = log πθ(yw|x) − log πref(yw|x),  Δl likewise (summed over tokens)
    dpo: −log σ(β(Δw − Δl))
    bcr: dpo + λ·max(0, −Δw − δ)          (the "outside" form)

with β = 0.1, λ = 1, δ = 0.5, and the batch loss is the mean over the
three pairs.  The reference log-probs are fixed numbers, set from the
policy's own log-probs so that Δw = −1.5, +0.7, −0.2: the budget penalty
is active for the first pair only (−Δw − δ = 1.0 there, < 0 for the
others, all well away from the kink).  autograd gives every parameter
gradient; then one torch.optim.AdamW step with clip_grad_norm_ as pp-train
configures it: betas (0.9, 0.999), eps 1e-8, weight decay on the matrices
only (not the embedding nor the tied head, not the norm gains), gradient
clipping at 1.0, and the learning rate of update 0 under pp-train's
default warmup of 10 steps (lr / 10).

Each fixture file (tied and untied head) holds both losses: records
prefixed dpo_ and bcr_.  Format: make_fixture.py's records (name[32],
int32 type, int32 0, int64 count, count 4-byte values).  Records:
    config, norm_eps_rope_theta       as make_fixture.py
    prompt_lens, chosen_lens, rejected_lens   [3] int32
    prompt_tokens, chosen_tokens, rejected_tokens  back to back, int32
    ref_chosen, ref_rejected          [3] float32 (exact inputs)
    loss_opts                         beta, bcr_weight, bcr_budget
    adamw                             lr, beta1, beta2, eps, weight_decay,
                                      clip, warmup_steps, lr_used
    params                            initial weights (model.h layout)
    policy_chosen, policy_rejected    [3] summed response log-probs
    <L>_loss                          [1] mean loss over the pairs
    <L>_metrics                       [9] TRL's means, in this order: loss,
        rewards/chosen, rewards/rejected, rewards/margins,
        rewards/accuracies, logps/chosen, logps/rejected,
        bcr/over_budget_fraction (−Δw > δ), mean Δw
    <L>_grads                         d loss / d params
    <L>_grad_norm                     [1] global norm before clipping
    <L>_params                        weights after the AdamW step
"""
import os
import sys

import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixture import F64, config, flat_order, flatten, init_weights, sequence_logits, write_record  # noqa: E402

BETA, BCR_WEIGHT, BCR_BUDGET = 0.1, 1.0, 0.5
# lr is the peak; update 0 of pp-train's warmup uses lr * 1 / warmup_steps
ADAMW = dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, clip=1.0, warmup_steps=10)
LR_USED = ADAMW["lr"] * 1 / ADAMW["warmup_steps"]

PROMPTS = [[1, 5, 7], [1, 11, 6, 17, 2], [1, 9]]
CHOSEN = [[3, 18, 0, 2], [12, 4], [8, 14, 10, 2, 15, 16, 7]]
REJECTED = [[13, 3, 3, 9, 0, 2], [5], [16, 15, 1, 10, 2]]
# Δw and Δl of each pair at the initial weights: set through the reference
DELTA_CHOSEN = [-1.5, 0.7, -0.2]
DELTA_REJECTED = [0.4, -0.9, 1.1]


def response_logp(c, W, prompt, response):
    """Sum of log p(response token | everything before it)."""
    toks = prompt + response
    lsm = torch.log_softmax(sequence_logits(c, W, toks), dim=-1)
    return sum((lsm[t - 1, toks[t]] for t in range(len(prompt), len(toks))), torch.zeros((), dtype=F64))


def policy_logps(c, W):
    chosen = torch.stack([response_logp(c, W, p, r) for p, r in zip(PROMPTS, CHOSEN)])
    rejected = torch.stack([response_logp(c, W, p, r) for p, r in zip(PROMPTS, REJECTED)])
    return chosen, rejected


def batch_loss(kind, pc, pr, rc, rr):
    """Mean loss over the pairs and TRL's metrics."""
    dw, dl = pc - rc, pr - rr
    per_pair = -torch.nn.functional.logsigmoid(BETA * (dw - dl))
    if kind == "bcr":
        per_pair = per_pair + BCR_WEIGHT * torch.relu(-dw - BCR_BUDGET)
    loss = per_pair.mean()
    rw, rl = BETA * dw.detach(), BETA * dl.detach()
    metrics = [float(loss), float(rw.mean()), float(rl.mean()), float((rw - rl).mean()),
               float((rw > rl).to(F64).mean()), float(pc.detach().mean()), float(pr.detach().mean()),
               float((-dw.detach() > BCR_BUDGET).to(F64).mean()), float(dw.detach().mean())]
    return loss, metrics


def one_step(c, seed, kind, ref_chosen, ref_rejected):
    W = init_weights(c, seed)
    pc, pr = policy_logps(c, W)
    loss, metrics = batch_loss(kind, pc, pr, ref_chosen, ref_rejected)
    loss.backward()
    grads = torch.cat([W[k].grad.reshape(-1) for k in flat_order(c)])
    decay = [W[k] for k in flat_order(c) if W[k].dim() == 2 and k != "embed"]
    no_decay = [W[k] for k in flat_order(c) if W[k].dim() == 1 or k == "embed"]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": ADAMW["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR_USED, betas=(ADAMW["beta1"], ADAMW["beta2"]), eps=ADAMW["eps"])
    norm = float(torch.nn.utils.clip_grad_norm_(decay + no_decay, ADAMW["clip"]))
    opt.step()
    return float(loss), metrics, grads, norm, flatten(c, W)


def flat(lists):
    return [t for seq in lists for t in seq]


def make(c, seed, path):
    W = init_weights(c, seed)
    init_flat = flatten(c, W)
    with torch.no_grad():
        pc, pr = policy_logps(c, W)
    # reference log-probs as float32 numbers, so C and PyTorch read the same inputs
    f32 = lambda x: torch.tensor(x, dtype=torch.float32).to(F64)
    ref_chosen = f32([float(p) - d for p, d in zip(pc, DELTA_CHOSEN)])
    ref_rejected = f32([float(p) - d for p, d in zip(pr, DELTA_REJECTED)])

    with open(path, "wb") as f:
        write_record(f, "config", [c["dim"], c["hidden_dim"], c["n_layers"], c["n_heads"], c["n_kv_heads"],
                                   c["vocab_size"], c["seq_len"], int(c["tied"])], is_int=True)
        write_record(f, "norm_eps_rope_theta", [c["norm_eps"], c["rope_theta"]])
        for name, seqs in (("prompt", PROMPTS), ("chosen", CHOSEN), ("rejected", REJECTED)):
            write_record(f, name + "_lens", [len(s) for s in seqs], is_int=True)
            write_record(f, name + "_tokens", flat(seqs), is_int=True)
        write_record(f, "ref_chosen", ref_chosen.tolist())
        write_record(f, "ref_rejected", ref_rejected.tolist())
        write_record(f, "loss_opts", [BETA, BCR_WEIGHT, BCR_BUDGET])
        write_record(f, "adamw", [ADAMW[k] for k in ("lr", "beta1", "beta2", "eps", "weight_decay", "clip",
                                                     "warmup_steps")] + [LR_USED])
        write_record(f, "params", init_flat.tolist())
        write_record(f, "policy_chosen", pc.tolist())
        write_record(f, "policy_rejected", pr.tolist())
        for kind in ("dpo", "bcr"):
            loss, metrics, grads, norm, after = one_step(c, seed, kind, ref_chosen, ref_rejected)
            write_record(f, kind + "_loss", [loss])
            write_record(f, kind + "_metrics", metrics)
            write_record(f, kind + "_grads", grads.tolist())
            write_record(f, kind + "_grad_norm", [norm])
            write_record(f, kind + "_params", after.tolist())
            print("%s %s: loss %.6f, grad norm %.4f%s, over budget %.3f" %
                  (path, kind, loss, norm, " (clipped)" if norm > ADAMW["clip"] else "", metrics[7]))
    print("%s: %d parameters, policy logps chosen %s rejected %s" %
          (path, init_flat.numel(), " ".join("%.4f" % x for x in pc), " ".join("%.4f" % x for x in pr)))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures")
    make(config(True), 20240611, os.path.join(out, "torch_dpo_tied.bin"))
    make(config(False), 20240612, os.path.join(out, "torch_dpo_untied.bin"))


if __name__ == "__main__":
    main()
