/* test_train_run.c - the run key of pp-train and pp-sft (trainer_run_key).
 *
 * The key is built in the library: ordered name=value lines (pp_runkey)
 * with the data file's fingerprint, the starting model's, the steps and the
 * effective arguments.  A data file that cannot be fingerprinted is an
 * error (before, the mains ignored the status and went on with an empty
 * fingerprint in the key), and a key too long for a checkpoint's run_key
 * attribute is refused instead of being cut. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pp_file.h"
#include "model/model_io.h"
#include "train/trainer.h"

static void small_model(model *m) {
    model_config c = {.dim = 16, .hidden_dim = 32, .n_layers = 1, .n_heads = 2, .n_kv_heads = 2, .vocab_size = 259,
                      .seq_len = 16, .tied_embeddings = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    pp_err err = {0};
    memset(m, 0, sizeof *m);
    assert_int_equal(model_alloc(m, &c, &err), PP_OK);
    model_init_random(m, 3);
    assert_int_equal(tok_init_bytes(&m->tok, &err), PP_OK);
    m->fingerprint = model_fingerprint(m);
}

static void data_file(char *path, size_t cap) {
    snprintf(path, cap, "%s/pp-train-run-%ld.bin", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("some pairs\n", f);
    fclose(f);
}

static void test_key_fields_in_order(void **state) {
    (void)state;
    model m;
    small_model(&m);
    char path[512], fp[17], mfp[17], want[1024];
    data_file(path, sizeof path);
    pp_err err = {0};
    assert_int_equal(pp_file_hash(path, fp, &err), PP_OK);
    model_fingerprint_hex(&m, mfp);
    pp_runkey k;
    pp_runkey_init(&k);
    assert_int_equal(trainer_run_key(&k, "train", "pairs", path, "policy", &m, 12, "--beta=0.1 --x=a\\b", MPI_COMM_WORLD, &err),
                     PP_OK);
    snprintf(want, sizeof want,
             "stage=train\npairs_fingerprint=%s\npolicy_fingerprint=%s\nsteps=12\narguments=--beta=0.1 --x=a\\\\b\n", fp,
             mfp);
    assert_string_equal(pp_runkey_text(&k), want);
    pp_runkey_free(&k);
    unlink(path);
    model_free(&m);
}

static void test_unreadable_data_is_an_error(void **state) {
    (void)state;
    model m;
    small_model(&m);
    pp_err err = {0};
    pp_runkey k;
    pp_runkey_init(&k);
    pp_status st = trainer_run_key(&k, "sft", "data", "/nonexistent-dir/p.h5", "init", &m, 5, "", MPI_COMM_WORLD, &err);
    assert_int_not_equal(st, PP_OK);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/p.h5"));
    pp_runkey_free(&k);
    model_free(&m);
}

static void test_key_too_long_refused(void **state) {
    (void)state;
    model m;
    small_model(&m);
    char path[512];
    data_file(path, sizeof path);
    char *args = malloc(9001);
    memset(args, 'a', 9000);
    args[9000] = '\0';
    pp_err err = {0};
    pp_runkey k;
    pp_runkey_init(&k);
    assert_int_equal(trainer_run_key(&k, "train", "pairs", path, "policy", &m, 1, args, MPI_COMM_WORLD, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "too long"));
    pp_runkey_free(&k);
    free(args);
    unlink(path);
    model_free(&m);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_fields_in_order),
        cmocka_unit_test(test_unreadable_data_is_an_error),
        cmocka_unit_test(test_key_too_long_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return rc;
}
