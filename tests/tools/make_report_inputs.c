/* make_report_inputs - small model and eval files for pp-report tests,
 * with whatever text attributes a test wants (hostile ones included):
 *
 *   make_report_inputs model OUT.h5 TRAINING ARGUMENTS   metrics of a pp-train run
 *   make_report_inputs sft OUT.h5 TRAINING ARGUMENTS     loss and grad_norm only
 *   make_report_inputs eval OUT.h5 SPLITS                win rate and accuracies per split
 *
 * Only what pp-report reads is written; these are not complete files. */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

static int attr_str(hid_t obj, const char *name, const char *v) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, t, &v) < 0;
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

static int attr_num(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *v) {
    hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, mem_type, v) < 0;
    H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

static int series(hid_t f, const char *name, double scale) {
    double v[6];
    for (int i = 0; i < 6; i++) v[i] = scale * (6 - i) / 6.0;
    hsize_t n = 6;
    hid_t lc = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lc, 1);
    hid_t sp = H5Screate_simple(1, &n, NULL), d = H5Dcreate2(f, name, H5T_IEEE_F64LE, sp, lc, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0;
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(lc);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: make_report_inputs model|sft|eval OUT.h5 ...\n");
        return 2;
    }
    const char *what = argv[1];
    int is_model = !strcmp(what, "model") || !strcmp(what, "sft");
    if ((is_model && argc != 5) || (!is_model && (strcmp(what, "eval") || argc != 4))) return 2;
    hid_t f = H5Fcreate(argv[2], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return 2;
    long long one = 1;
    int rc = attr_str(f, "schema", is_model ? "model" : "eval") | attr_num(f, "schema_version", H5T_STD_I64LE, H5T_NATIVE_LLONG, &one);
    if (is_model) {
        rc |= attr_str(f, "training", argv[3]) | attr_str(f, "arguments", argv[4]);
        rc |= series(f, "/metrics/loss", 0.7) | series(f, "/metrics/grad_norm", 5);
        if (!strcmp(what, "model"))
            for (const char **m = (const char *[]){"rewards/margins", "rewards/accuracies", "logps/chosen", "delta/chosen_mean",
                                                  "rewards/chosen", "rewards/rejected", NULL};
                 *m; m++) {
                char name[64];
                snprintf(name, sizeof name, "/metrics/%s", *m);
                rc |= series(f, name, 0.5);
            }
    } else {
        rc |= attr_str(f, "splits", argv[3]);
        char list[1024];
        snprintf(list, sizeof list, "%s", argv[3]);
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            hid_t g = H5Gcreate2(f, t, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            double w = 0.6, se = 0.05;
            rc |= g < 0;
            for (const char **a = (const char *[]){"win_rate", "policy_accuracy", "baseline_accuracy", NULL}; *a && g >= 0; a++) {
                char name[64];
                snprintf(name, sizeof name, "%s_se", *a);
                rc |= attr_num(g, *a, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &w) | attr_num(g, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &se);
            }
            H5Gclose(g);
        }
    }
    H5Fclose(f);
    return rc ? 2 : 0;
}
