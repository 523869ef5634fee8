/* tasks.h - the built-in task suite: small text tasks with a graded,
 * deterministic scorer (DESIGN.md section 4).
 *
 * Each prompt ends with '='; the answer follows it directly and the model
 * ends it with EOS.  Formats (ID = train/test distribution):
 *
 *   family  prompt                 answer   ID operands           OOD operands
 *   add     "add 47+85="           "132"    a, b in 0..99         a, b in 100..999
 *   sub     "sub 85-47="           "38"     a in 0..99, b <= a    a in 100..999, b <= a
 *   rev     "rev tkqbe="           "ebqkt"  3..6 letters a-z      7..9 letters
 *   sort    "sort tkqbe="          "bekqt"  3..6 letters a-z      7..9 letters
 *   count   "count c in cabfc="    "2"      letter and word over  word of 11..16
 *                                           a-f, word 3..9 long   letters
 *
 * Splits.  A problem (= its prompt text) belongs to the test partition when
 * a fixed, seed-independent hash of the prompt falls in 1 of 8 buckets,
 * otherwise to the train partition.  `train` and `test` draw from the same
 * ID distribution and reject problems of the other partition, so no prompt
 * can ever be in both, whatever the seeds of the two files.  `ood` draws
 * from the OOD ranges above, which share no prompt with ID (longer
 * operands or words), so it is disjoint from both.
 *
 * Prompt i of a split is a pure function of (family set, split, i, seed):
 * its family is set->fam[i % set->n] (round robin over the set in canonical
 * order, so families are balanced) and its operands come from the stream
 * pp_rng_stream(seed, i, TASKS_STREAM_MAKE + split).
 *
 * Scoring (bytes, no decoding, so any completion text is safe):
 *   exact match                    -> 1
 *   otherwise 0.9 * similarity, with similarity
 *     = 1 - levenshtein(ref, completion) / max(len ref, len completion)
 *   and, for the numeric families (add, sub, count) when the completion is
 *   a well-formed integer ("-"? digits, nothing else), the larger of that
 *   and the numeric closeness 1 - log10(1 + |x - ref|) / D, where D is the
 *   digit count of max(|x|, |ref|, 1) (clamped at 0).  So for 100, "99"
 *   scores 0.81 (edit distance alone: 0) and "900" 0.6 (from its edit
 *   distance); for a count of 0, "1" scores 0.63 (edit distance alone: 0).
 *   Any non-exact answer scores at most 0.9;
 *   an empty answer scores 0; extra text after the answer counts as edit
 *   distance (and is not an integer, so it gets no numeric credit).  When
 *   both strings are longer than TASKS_SCORE_MAX_LEN, only exact match
 *   counts (1 or 0): built-in answers are far shorter. */
#ifndef TASKS_H
#define TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "core/pp_error.h"
#include "core/pp_rng.h"

typedef enum {
    TASK_ADD = 0,
    TASK_SUB,
    TASK_REV,
    TASK_SORT,
    TASK_COUNT,
    TASK_N_FAMILIES
} task_family;

typedef enum { TASK_SPLIT_TRAIN = 0, TASK_SPLIT_TEST = 1, TASK_SPLIT_OOD = 2 } task_split;

/* A set of families in canonical (enum) order, no duplicates. */
typedef struct {
    int n;
    task_family fam[TASK_N_FAMILIES];
} task_family_set;

/* Longest built-in prompt is 28 bytes ("count c in " + 16 letters + "="),
 * longest answer 9 bytes; room to spare for callers' own items. */
#define TASK_TEXT_MAX 48

typedef struct {
    task_family family;
    task_split split;
    char prompt[TASK_TEXT_MAX];
    char answer[TASK_TEXT_MAX];  /* the reference */
} task_item;

/* Stream ids (id2 of pp_rng_stream) reserved by the suite. */
#define TASKS_STREAM_MAKE 0x7A5C0000u  /* + split */
#define TASKS_STREAM_DEMO 0x7A5C0100u

#define TASKS_SCORE_MAX_LEN 1024

/* Names: "add", "sub", "rev", "sort", "count"; "train", "test", "ood". */
const char *tasks_family_name(task_family f);
const char *tasks_split_name(task_split s);
PP_MUST_CHECK pp_status tasks_family_from_name(const char *name, task_family *out, pp_err *err);
PP_MUST_CHECK pp_status tasks_parse_split(const char *name, task_split *out, pp_err *err);
/* "all" or a comma-separated list ("add,rev,sort"); spaces around names are
 * allowed; empty names, unknown names and duplicates are errors. */
PP_MUST_CHECK pp_status tasks_parse_families(const char *list, task_family_set *out, pp_err *err);
/* Comma-separated canonical names of a set, e.g. "add,rev" (for attributes). */
void tasks_families_string(const task_family_set *set, char *buf, size_t cap);

/* Prompt `index` of `split` for `seed` (see the comment at the top). */
PP_MUST_CHECK pp_status tasks_make(const task_family_set *set, task_split split, uint64_t index, uint64_t seed,
                     task_item *out, pp_err *err);

/* 1 when the problem with this prompt text is in the test partition. */
int tasks_in_test_partition(const char *prompt);

/* Graded score in [0, 1] (see the comment at the top).  `prompt` is
 * accepted for future families that need it; the built-in ones do not. */
double tasks_score(task_family f, const char *prompt, const char *reference,
                   const char *completion);
/* 1 when the completion is exactly the reference, else 0. */
int tasks_exact(const char *reference, const char *completion);

/* Byte Levenshtein distance (insert, delete, substitute cost 1).  Returns
 * -1 when both strings are longer than TASKS_SCORE_MAX_LEN. */
long tasks_edit_distance(const char *a, size_t len_a, const char *b, size_t len_b);

/* The stream for demonstration `index` of a data set made with `seed`:
 * pp_rng_stream(seed, index, TASKS_STREAM_DEMO). */
pp_rng tasks_demo_rng(uint64_t seed, uint64_t index);

/* A plausible wrong answer, always different from t->answer and non-empty:
 * numbers off by one or ten or with one digit changed; words with two
 * letters swapped, one replaced, dropped or doubled, or (rev) the word
 * left unreversed.  Writes into out[TASK_TEXT_MAX]. */
void tasks_wrong_answer(const task_item *t, pp_rng *rng, char *out);

/* The demonstrator's habit, a systematic mistake: on rev and sort prompts
 * whose word begins with a..m it answers with the word as given.  Unlike
 * the scattered wrong answers above, a habit is learnable: a model trained
 * on it puts its mass on one wrong answer where the habit applies, so when
 * the habit wins more than half of those demonstrations its greedy answer
 * there is the mistake although it can do the task (what preference
 * optimization is for).  1 when the habit applies to t (never when copying
 * happens to be right, as for a palindrome). */
int tasks_habit_applies(const task_item *t);

/* The demonstration answer: where the habit applies, with probability
 * habit_fraction the copied word; otherwise the reference, or with
 * probability wrong_fraction a plausible wrong answer.  Returns 1 when it
 * is wrong.  Draws from rng in a fixed pattern, so a stream from
 * tasks_demo_rng makes it deterministic per (seed, index). */
int tasks_demo_answer(const task_item *t, double wrong_fraction, double habit_fraction, pp_rng *rng,
                      char *out);

#endif
