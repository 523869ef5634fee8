/* inspect.c - generic summary of a prefpipe HDF5 file. */
#include "inspect.h"

#include <stdlib.h>
#include <string.h>

#include "pp_h5.h"

typedef struct {
    pp_h5 *f;
    FILE *out;
    int n_items;
} walk_ctx;

static void print_items(walk_ctx *c, const char *name, hid_t d, hid_t ty, int64_t n) {
    H5T_class_t cls = H5Tget_class(ty);
    int64_t k = n < c->n_items ? n : c->n_items;
    if (k <= 0) return;
    if (cls == H5T_STRING && H5Tis_variable_str(ty) > 0) {
        char **strs;
        int64_t got;
        pp_err e;
        if (pp_h5_read_text(c->f, name, -1, &got, &strs, &e) != PP_OK) return;
        for (int64_t i = 0; i < k; i++) {
            fprintf(c->out, "      [%lld] \"", (long long)i);
            int len = 0;
            for (const char *p = strs[i]; *p && len < 160; p++, len++) {
                if (*p == '\n') fputs("\\n", c->out);
                else if (*p == '"') fputs("\\\"", c->out);
                else fputc(*p, c->out);
            }
            fprintf(c->out, "\"%s\n", strlen(strs[i]) > 160 ? "..." : "");
        }
        free(strs);
    } else if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
        double v[8];
        int64_t m = k < 8 ? k : 8;
        if (pp_h5_read_rows(c->f, name, PP_F64, 0, m, v, &(pp_err){0}) != PP_OK) return;
        fprintf(c->out, "      first: ");
        for (int64_t i = 0; i < m; i++) fprintf(c->out, "%s%.6g", i ? ", " : "", v[i]);
        fprintf(c->out, "%s\n", n > m ? ", ..." : "");
    }
    (void)d;
}

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info, void *op) {
    walk_ctx *c = op;
    if (info->type != H5O_TYPE_DATASET) return 0;
    char full[512];
    snprintf(full, sizeof full, "/%s", name);
    hid_t d = H5Dopen2(obj, name, H5P_DEFAULT);
    if (d < 0) return 0;
    hid_t sp = H5Dget_space(d), ty = H5Dget_type(d);
    int nd = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[H5S_MAX_RANK] = {0};
    H5Sget_simple_extent_dims(sp, dims, NULL);
    char shape[128] = "";
    for (int i = 0; i < nd; i++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%llu", i ? " x " : "", (unsigned long long)dims[i]);
    const char *tn = "other";
    H5T_class_t cls = H5Tget_class(ty);
    if (cls == H5T_STRING) tn = "text";
    else if (cls == H5T_FLOAT) tn = H5Tget_size(ty) == 4 ? "float32" : "float64";
    else if (cls == H5T_INTEGER) tn = H5Tget_size(ty) == 8 ? "int64" : H5Tget_size(ty) == 4 ? "int32" : "int8";
    fprintf(c->out, "  %-44s %-8s [%s]\n", full, tn, shape);
    if (nd == 1) print_items(c, full, d, ty, (int64_t)dims[0]);
    H5Tclose(ty);
    H5Sclose(sp);
    H5Dclose(d);
    return 0;
}

static herr_t print_attr(hid_t loc, const char *name, const H5A_info_t *info, void *op) {
    walk_ctx *c = op;
    char buf[1024];
    pp_err e;
    if (pp_h5_get_attr_str(c->f, "/", name, buf, sizeof buf, &e) == PP_OK) {
        fprintf(c->out, "  %-24s %s\n", name, buf);
        return 0;
    }
    double v;
    if (pp_h5_get_attr_f64(c->f, "/", name, &v, &e) == PP_OK) fprintf(c->out, "  %-24s %.10g\n", name, v);
    (void)loc;
    (void)info;
    return 0;
}

pp_status inspect_print(const char *path, FILE *out, int n_items, pp_err *err) {
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, NULL, 0, err));
    char kind[64];
    int64_t version = 0;
    pp_h5_get_attr_str(&f, "/", "schema", kind, sizeof kind, err);
    pp_h5_get_attr_i64(&f, "/", "schema_version", &version, err);
    fprintf(out, "%s: a '%s' file, schema version %lld\n", path, kind, (long long)version);
    walk_ctx c = {&f, out, n_items};
    fprintf(out, "attributes:\n");
    hsize_t idx = 0;
    H5Aiterate2(f.id, H5_INDEX_NAME, H5_ITER_INC, &idx, print_attr, &c);
    fprintf(out, "datasets:\n");
    H5Ovisit(f.id, H5_INDEX_NAME, H5_ITER_INC, visit, &c);
    pp_h5_close(&f);
    return PP_OK;
}
