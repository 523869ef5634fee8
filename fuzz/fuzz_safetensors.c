/* fuzz_safetensors.c - the safetensors reader (st_open_file, st_read_f32)
 * on arbitrary bytes.
 *
 * Every input is opened as one safetensors file.  When the header passes,
 * every tensor must lie inside the data and apart from the others, convert
 * to fp32 without touching bytes outside it, and the 1- and 2-dimensional
 * ones must come back bit for bit through the f32 writer. */
#include "fuzz_common.h"
#include "model/safetensors.h"

static void check_round_trip(const safetensors *s, float **values) {
    st_out_tensor list[64];
    int idx[64], n = 0;
    for (int i = 0; i < s->n_tensors && n < 64; i++) {
        const st_tensor *t = &s->tensors[i];
        if (t->ndim < 1 || t->ndim > 2) continue;
        list[n] = (st_out_tensor){t->name, t->ndim, {t->shape[0], t->ndim == 2 ? t->shape[1] : 1}};
        idx[n++] = i;
    }
    char out[300];
    snprintf(out, sizeof out, "%s/rt.safetensors", fuzz_dir());
    pp_err err;
    st_writer w;
    FUZZ_CHECK(st_writer_begin(&w, out, list, n, ST_F32, &err) == PP_OK);
    for (int k = 0; k < n; k++) FUZZ_CHECK(st_writer_put(&w, values[idx[k]], &err) == PP_OK);
    FUZZ_CHECK(st_writer_end(&w, &err) == PP_OK);
    safetensors back = {0};
    pp_status st = st_open_file(&back, out, &err);
    FUZZ_CHECK_ERR(st, err);
    FUZZ_CHECK(st == PP_OK && back.n_tensors == n);
    for (int k = 0; k < n; k++) {
        const st_tensor *t = st_find(&back, list[k].name);
        FUZZ_CHECK(t && t->dtype == ST_F32 && st_count(t) == st_count(&s->tensors[idx[k]]));
        size_t cnt = st_count(t);
        float *v = malloc(cnt ? cnt * sizeof *v : 1);
        st_read_f32(&back, t, v);
        FUZZ_CHECK(memcmp(v, values[idx[k]], cnt * sizeof *v) == 0);
        free(v);
    }
    st_close(&back);
    unlink(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, 0);
    safetensors s = {0};
    pp_err err;
    pp_status st = st_open_file(&s, path, &err);
    FUZZ_CHECK_ERR(st, err);
    if (st != PP_OK) {
        st_close(&s);
        return 0;
    }
    size_t data_size = s.files[0].size - s.files[0].data_start;
    float **values = calloc((size_t)s.n_tensors + 1, sizeof *values);
    for (int i = 0; i < s.n_tensors; i++) {
        const st_tensor *t = &s.tensors[i];
        FUZZ_CHECK(t->begin + t->nbytes <= data_size);
        FUZZ_CHECK(st_count(t) * (t->dtype == ST_F32 ? 4 : 2) == t->nbytes);
        for (int j = 0; j < i; j++) {
            const st_tensor *u = &s.tensors[j];
            FUZZ_CHECK(t->nbytes == 0 || u->nbytes == 0 || t->begin >= u->begin + u->nbytes ||
                       u->begin >= t->begin + t->nbytes);
        }
        values[i] = malloc(st_count(t) ? st_count(t) * sizeof(float) : 1);
        st_read_f32(&s, t, values[i]);
    }
    check_round_trip(&s, values);
    for (int i = 0; i < s.n_tensors; i++) free(values[i]);
    free(values);
    st_close(&s);
    return 0;
}
