/* rm_memory.h - what the reward model's users will hold in memory, from
 * the files' headers alone, before anything large is loaded: pp-rm's
 * estimate (rm_fit_memory_check, core/pp_memory.h) and the rm judge's
 * (rm_judge_estimate_bytes, for pp-rank). */
#ifndef RM_MEMORY_H
#define RM_MEMORY_H

#include "core/pp_memory.h"
#include "model/model.h"
#include "rm/reward_model.h"

/* The feature workspace rm_ws_alloc_shared makes for config c (max_tokens
 * 0: the default), the packed weights divided over node_ranks. */
double rm_ws_estimate_bytes(const model_config *c, int max_tokens, int node_ranks);

/* pp-rm's parts per rank: the feature model (held once per node), its
 * workspace, the pairs file, this rank's feature differences (and the
 * fit's copy of them) and the d x d Newton system; checked against
 * max_memory (pp_memory_check).  Collective over c->comm. */
PP_MUST_CHECK pp_status rm_fit_memory_check(const rm_fit_config *c, const char *max_memory, pp_memory *mem, pp_err *err);

/* Bytes of the rm judge (judge_rm.c) of an RM file: its feature model (the
 * one the file names, or model_path when given) and its workspace. */
PP_MUST_CHECK pp_status rm_judge_estimate_bytes(const char *rm_path, const char *model_path, double *bytes, pp_err *err);

#endif
