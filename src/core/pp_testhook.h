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
 *   PP_TEST_STEP_DELAY_MS    after each training step (pp-sft, pp-train) */
#ifndef PP_TESTHOOK_H
#define PP_TESTHOOK_H

typedef enum { PP_HOOK_CHUNK_DELAY, PP_HOOK_COMMIT_DELAY, PP_HOOK_STEP_DELAY } pp_test_hook;

/* The hook's value in milliseconds; 0 when unset or not a positive number. */
int pp_test_hook_ms(pp_test_hook hook);
/* Sleep for the hook's value (returns at once when it is 0). */
void pp_test_hook_sleep(pp_test_hook hook);

#endif
