/* fuzz_config.c - pp_cli_parse reading a --config file of arbitrary bytes,
 * with an option table holding every option type (string, int and int64
 * with and without ranges, double, flag, choice, a required option).
 *
 * The file is parsed twice, as "--config FILE --seed 7" (the command line
 * must win) and as "--config=FILE".  After a successful parse the effective
 * option string and the --help text (to /dev/null) are produced too. */
#include <fcntl.h>

#include "fuzz_common.h"
#include "core/pp_options.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    /* pp_cli_help prints to stdout; libFuzzer reports on stderr */
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) fuzz_die("/dev/null");
    close(fd);
    return 0;
}

static void parse(const char *path, int form) {
    const char *out = NULL, *model = NULL, *loss = "dpo";
    int steps = 10, batch = 4, resume = 0, k = 0;
    long long seed = 1, tokens = 0;
    double lr = 1e-4, beta = 0.1;
    pp_option opts[] = {
        {"out", OPT_STRING, &out, "DIR", "output directory", NULL, 1, 0, 0},
        {"model", OPT_STRING, &model, "M.h5", "model file", NULL, 0, 0, 0},
        {"steps", OPT_INT, &steps, "N", "optimizer steps", NULL, 0, 1, 1e6},
        {"batch-size", OPT_INT, &batch, "N", "pairs per step", NULL, 0, 1, 4096},
        {"k", OPT_INT, &k, "K", "candidates (no range)", NULL, 0, 0, 0},
        {"seed", OPT_INT64, &seed, "S", "random seed", NULL, 0, 0, 0},
        {"max-tokens", OPT_INT64, &tokens, "N", "token budget", NULL, 0, 0, 1e12},
        {"lr", OPT_DOUBLE, &lr, "X", "learning rate", NULL, 0, 0, 1},
        {"beta", OPT_DOUBLE, &beta, "X", "KL weight (no range)", NULL, 0, 0, 0},
        {"resume", OPT_FLAG, &resume, NULL, "resume from the checkpoint", NULL, 0, 0, 0},
        {"loss", OPT_CHOICE, &loss, "L", "preference loss", "dpo|ipo|simpo", 0, 0, 0},
    };
    pp_cli cli = {.prog = "pp-fuzz", .opts = opts, .n_opts = (int)(sizeof opts / sizeof *opts)};
    char eq_form[512];
    snprintf(eq_form, sizeof eq_form, "--config=%s", path);
    char *argv_a[] = {"pp-fuzz", "--config", (char *)path, "--seed", "7", NULL};
    char *argv_b[] = {"pp-fuzz", eq_form, NULL};
    pp_err err;
    pp_status st = form == 0 ? pp_cli_parse(&cli, 5, argv_a, &err) : pp_cli_parse(&cli, 2, argv_b, &err);
    FUZZ_CHECK_ERR(st, err);
    if (st == PP_OK && !cli.help_requested) {
        FUZZ_CHECK(out != NULL); /* required */
        FUZZ_CHECK(steps >= 1 && steps <= 1000000 && batch >= 1 && batch <= 4096);
        FUZZ_CHECK(lr >= 0 && lr <= 1 && beta == beta);
        FUZZ_CHECK(resume == 0 || resume == 1);
        FUZZ_CHECK(!strcmp(loss, "dpo") || !strcmp(loss, "ipo") || !strcmp(loss, "simpo"));
        if (form == 0) FUZZ_CHECK(seed == 7 && cli.set_by[5] == 'c');
        const char *eff = pp_cli_effective(&cli);
        FUZZ_CHECK(eff != NULL && strstr(eff, "--out=") != NULL);
        FUZZ_CHECK(pp_cli_is_set(&cli, "out") && !pp_cli_is_set(&cli, "no-such-option"));
        pp_cli_help(&cli);
    }
    pp_cli_free(&cli);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, 0);
    parse(path, 0);
    parse(path, 1);
    return 0;
}
