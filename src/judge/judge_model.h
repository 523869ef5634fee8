/* judge_model.h - an LLM judge run by prefpipe's own engine
 * ("--judge model"): no external service, any model file as the judge.
 *
 * A match is written into a judge prompt: the template (--judge-template
 * FILE, or the built-in one modelled on the MT-Bench pairwise judge) with
 * {prompt}, {a} and {b} replaced by the texts, then the verdict cue (a new
 * line, "Verdict: " and the answer prefix "[[").  The placeholders are
 * plain text substitution: nothing in a template or a text is ever run.
 * The verdict is read from the judge model's next-token probabilities of
 * the two labels (--judge-labels, "A,B"): P(A) and P(B) after the cue.
 * The first answer is better when P(A) > P(B), a tie when
 * |P(A) - P(B)| <= margin x (P(A) + P(B)) (--judge-tie-margin, 0 by
 * default: ties only when equal).  Each label must be one token after the
 * cue (checked at start, refused by name otherwise).
 *
 * Matches are judged in batches: the prompts of a batch share one stream of
 * infer_rows calls (their prefill rows packed together, one slot each, one
 * rowmatmul per weight matrix), and a row's bits do not depend on the other
 * rows (rowmatmul.h), so a verdict does not depend on the batch, on the
 * other matches or on the rank that judged it.  pp-rank judges every match
 * in both orders with this judge, and hands a worker's queued matches over
 * as one batch.
 *
 * A judge prompt longer than the judge model's context is a failed match
 * (counted, its reason in the match log), not an error. */
#ifndef JUDGE_MODEL_H
#define JUDGE_MODEL_H

#include <stddef.h>

#include "core/pp_error.h"
#include "judge/judge.h"
#include "model/tokenizer.h"

/* The built-in template. */
extern const char judge_model_default_template[];

/* The judge prompt of one match: template with {prompt}, {a}, {b} replaced
 * (every occurrence), then "\nVerdict: " and the answer prefix.  *buf is
 * grown as needed (realloc); returns the length, or 0 when out of memory. */
size_t judge_model_render(const char *templ, const char *prompt, const char *a, const char *b, char **buf,
                          size_t *cap);

/* The label tokens of "A,B" (--judge-labels) for a judge model with
 * tokenizer tok: each label must be exactly one token after the verdict
 * cue; otherwise one line naming the label. */
PP_MUST_CHECK pp_status judge_model_labels(const tokenizer *tok, const char *labels, int ids[2], pp_err *err);

/* A template must hold {prompt}, {a} and {b}. */
PP_MUST_CHECK pp_status judge_model_check_template(const char *templ, const char *what, pp_err *err);

/* The judge's table for judge.h ("model"). */
extern const judge_ops judge_model_ops;

#endif
