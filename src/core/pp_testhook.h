/* pp_testhook.h - the one test-only interface of the library.
 *
 * Crash and resume tests must kill a stage inside narrow windows (between
 * two saved chunks, between the write and the rename of an output, between
 * two training steps).  These hooks widen those windows by sleeping; they
 * are read from the environment here and nowhere else, and are 0 (no sleep)
 * when unset, which is every normal run.
 *
 *   PP_TEST_CHUNK_DELAY_MS   after each saved chunk (pp-generate, pp-eval) and
 *                            each chunk of reference log-probs (pp-train)
 *   PP_TEST_COMMIT_DELAY_MS  before NAME.tmp is renamed to NAME (every output)
 *   PP_TEST_STEP_DELAY_MS    after each training step (pp-sft, pp-train)
 *
 * One more is a switch, not a delay: the decoder and the scorer hold
 * packed weights in a node-shared window only from 128 MiB up
 * (infer_share_weights), so the tests' small models would never take that
 * path through them; with it set to 1 they share weights of any size.
 *
 *   PP_TEST_SHARE_WEIGHTS    1: share the packed weights whatever their size */
#ifndef PP_TESTHOOK_H
#define PP_TESTHOOK_H

typedef enum { PP_HOOK_CHUNK_DELAY, PP_HOOK_COMMIT_DELAY, PP_HOOK_STEP_DELAY, PP_HOOK_SHARE_WEIGHTS } pp_test_hook;

/* The hook's value (milliseconds for the delays); 0 when unset or not a
 * positive number. */
int pp_test_hook_ms(pp_test_hook hook);
/* Sleep for the hook's value (returns at once when it is 0). */
void pp_test_hook_sleep(pp_test_hook hook);

#endif
