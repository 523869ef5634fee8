/* pp_schema.c - schema registry and generic validator (pp_schema.h). */
#include "io/pp_schema.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/pp_h5.h"

extern const char *const pp_embedded_schemas[]; /* generated from hdf5-schemas/ */

static json_t *load_schema(const char *name) {
    for (int i = 0; pp_embedded_schemas[i]; i++) {
        json_t *j = json_loads(pp_embedded_schemas[i], 0, NULL);
        if (!j) continue;
        const char *s = json_string_value(json_object_get(j, "schema"));
        if (s && !strcmp(s, name)) return j;
        json_decref(j);
    }
    return NULL;
}

const char *pp_schema_text(const char *name) {
    for (int i = 0; pp_embedded_schemas[i]; i++) {
        json_t *j = json_loads(pp_embedded_schemas[i], 0, NULL);
        const char *s = j ? json_string_value(json_object_get(j, "schema")) : NULL;
        int match = s && !strcmp(s, name);
        json_decref(j);
        if (match) return pp_embedded_schemas[i];
    }
    return NULL;
}

const char *const *pp_schema_names(void) {
    static const char *names[64];
    int n = 0;
    for (int i = 0; pp_embedded_schemas[i] && n < 63; i++) {
        json_t *j = json_loads(pp_embedded_schemas[i], 0, NULL);
        const char *s = j ? json_string_value(json_object_get(j, "schema")) : NULL;
        /* the schema name lives in the embedded text; point into a copy that lives forever */
        if (s) names[n++] = strdup(s);
        json_decref(j);
    }
    names[n] = NULL;
    return names;
}

int pp_schema_version(const char *name) {
    json_t *j = load_schema(name);
    if (!j) return 0;
    int v = (int)json_integer_value(json_object_get(j, "version"));
    json_decref(j);
    return v;
}

/* Symbolic dimension bindings. */
typedef struct {
    char name[64];
    int64_t value;
} dim_binding;

typedef struct {
    dim_binding b[64];
    int n;
} dim_table;

static int64_t *dim_lookup(dim_table *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->b[i].name, name)) return &t->b[i].value;
    return NULL;
}

static void dim_bind(dim_table *t, const char *name, int64_t v) {
    if (t->n >= 64) return;
    snprintf(t->b[t->n].name, sizeof t->b[t->n].name, "%s", name);
    t->b[t->n++].value = v;
}

static int type_is_int(const char *t) { return !strncmp(t, "int", 3) || !strcmp(t, "uint8"); }
static int type_is_float(const char *t) { return !strncmp(t, "float", 5); }

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static pp_status check_values(pp_h5 *f, const char *name, json_t *spec, const char *type, int64_t count,
                              pp_err *err) {
    json_t *jmin = json_object_get(spec, "min"), *jmax = json_object_get(spec, "max");
    int finite = json_is_true(json_object_get(spec, "finite"));
    int unique = json_is_true(json_object_get(spec, "unique"));
    const char *offsets_of = json_string_value(json_object_get(spec, "offsets_of"));
    if (!jmin && !jmax && !finite && !unique && !offsets_of) return PP_OK;
    if (count > (int64_t)1 << 28)
        return PP_OK; /* value rules are for index-sized arrays; skip huge tensors */
    double *v = malloc((size_t)(count > 0 ? count : 1) * sizeof *v);
    if (!v) return pp_fail(err, PP_ESYS, "out of memory validating %s", name);
    pp_status st = pp_h5_read_all(f, name, PP_F64, v, err);
    for (int64_t i = 0; st == PP_OK && i < count; i++) {
        if (finite && !isfinite(v[i]))
            st = pp_fail(err, PP_EINPUT, "%s: dataset %s element %lld is not finite", f->path, name, (long long)i);
        else if (jmin && v[i] < json_number_value(jmin))
            st = pp_fail(err, PP_EINPUT, "%s: dataset %s element %lld = %g is below the minimum %g", f->path, name,
                         (long long)i, v[i], json_number_value(jmin));
        else if (jmax && v[i] > json_number_value(jmax))
            st = pp_fail(err, PP_EINPUT, "%s: dataset %s element %lld = %g is above the maximum %g", f->path, name,
                         (long long)i, v[i], json_number_value(jmax));
    }
    if (st == PP_OK && offsets_of) {
        int nd;
        int64_t td[4];
        st = pp_h5_dims(f, offsets_of, &nd, td, err);
        if (st == PP_OK && count > 0 && v[0] != 0)
            st = pp_fail(err, PP_EINPUT, "%s: offsets %s must start at 0", f->path, name);
        for (int64_t i = 1; st == PP_OK && i < count; i++)
            if (v[i] < v[i - 1])
                st = pp_fail(err, PP_EINPUT, "%s: offsets %s decrease at %lld", f->path, name, (long long)i);
        if (st == PP_OK && count > 0 && (int64_t)v[count - 1] != td[0])
            st = pp_fail(err, PP_EINPUT, "%s: offsets %s end at %lld but %s has %lld entries", f->path, name,
                         (long long)v[count - 1], offsets_of, (long long)td[0]);
    }
    if (st == PP_OK && unique && count > 1) {
        /* sort a copy and look for neighbours */
        qsort(v, (size_t)count, sizeof *v, cmp_double);
        for (int64_t i = 1; st == PP_OK && i < count; i++)
            if (v[i] == v[i - 1])
                st = pp_fail(err, PP_EINPUT, "%s: dataset %s has the value %g twice (must be unique)", f->path, name, v[i]);
    }
    free(v);
    return st;
}

/* "type": "enum", "enum": [names]: an HDF5 enum whose members are exactly
 * names[i] = i, or (files of older versions) integers in [0, n). */
static pp_status check_enum(pp_h5 *f, const char *name, hid_t ty, H5T_class_t cls, json_t *spec, int nd,
                            const int64_t *d, pp_err *err) {
    json_t *names = json_object_get(spec, "enum");
    int n = (int)json_array_size(names);
    if (cls == H5T_ENUM) {
        if (H5Tget_nmembers(ty) != n)
            return pp_fail(err, PP_EINPUT, "%s: dataset %s: enum has %d names, schema says %d", f->path, name,
                           H5Tget_nmembers(ty), n);
        for (int i = 0; i < n; i++) {
            char got[64] = "";
            int value = i;
            /* H5Tenum_nameof wants the value in the enum's own (file) type */
            hid_t native = H5Tget_native_type(ty, H5T_DIR_ASCEND);
            int64_t v64 = i;
            herr_t rc = H5Tenum_nameof(native, H5Tget_size(native) == 8 ? (void *)&v64 : (void *)&value, got, sizeof got);
            H5Tclose(native);
            const char *want = json_string_value(json_array_get(names, (size_t)i));
            if (rc < 0 || !want || strcmp(got, want) != 0)
                return pp_fail(err, PP_EINPUT, "%s: dataset %s: enum value %d is '%s', schema says '%s'", f->path, name, i,
                               rc < 0 ? "(none)" : got, want ? want : "?");
        }
        return PP_OK;
    }
    if (cls != H5T_INTEGER)
        return pp_fail(err, PP_EINPUT, "%s: dataset %s should be an enum of %d names", f->path, name, n);
    int64_t count = 1;
    for (int i = 0; i < nd; i++) count *= d[i];
    json_t *range = json_pack("{s:i, s:i}", "min", 0, "max", n - 1);
    pp_status st = range ? check_values(f, name, range, "int32", count, err) : pp_fail(err, PP_ESYS, "out of memory");
    json_decref(range);
    return st;
}

static pp_status check_dataset(pp_h5 *f, const char *name, json_t *spec, dim_table *dims, pp_err *err) {
    int required = !json_is_false(json_object_get(spec, "required"));
    if (!pp_h5_exists(f, name)) {
        if (required) return pp_fail(err, PP_EINPUT, "%s: required dataset %s is missing", f->path, name);
        return PP_OK;
    }
    const char *type = json_string_value(json_object_get(spec, "type"));
    if (!type) return pp_fail(err, PP_ESYS, "schema: dataset %s has no type", name);
    int nd;
    int64_t d[4];
    PP_TRY(pp_h5_dims(f, name, &nd, d, err));
    json_t *jd = json_object_get(spec, "dims");
    int want_nd = (int)json_array_size(jd);
    if (nd != want_nd)
        return pp_fail(err, PP_EINPUT, "%s: dataset %s has %d dimensions, schema says %d", f->path, name, nd, want_nd);
    for (int i = 0; i < nd; i++) {
        json_t *e = json_array_get(jd, (size_t)i);
        if (json_is_integer(e)) {
            if (d[i] != json_integer_value(e))
                return pp_fail(err, PP_EINPUT, "%s: dataset %s dimension %d is %lld, schema says %lld", f->path, name,
                               i, (long long)d[i], (long long)json_integer_value(e));
        } else if (json_is_string(e)) {
            const char *sym = json_string_value(e);
            int64_t *have = dim_lookup(dims, sym);
            if (!have) dim_bind(dims, sym, d[i]);
            else if (*have != d[i])
                return pp_fail(err, PP_EINPUT, "%s: dataset %s dimension %d is %lld but %s = %lld elsewhere", f->path,
                               name, i, (long long)d[i], sym, (long long)*have);
        }
    }
    hid_t ds = H5Dopen2(f->id, name, H5P_DEFAULT);
    hid_t ty = H5Dget_type(ds);
    H5T_class_t cls = H5Tget_class(ty);
    int vstr = cls == H5T_STRING && H5Tis_variable_str(ty) > 0;
    pp_status est = !strcmp(type, "enum") ? check_enum(f, name, ty, cls, spec, nd, d, err) : PP_OK;
    H5Tclose(ty);
    H5Dclose(ds);
    if (est != PP_OK) return est;
    if (!strcmp(type, "text") && !vstr)
        return pp_fail(err, PP_EINPUT, "%s: dataset %s should be variable-length UTF-8 text", f->path, name);
    if (type_is_int(type) && cls != H5T_INTEGER)
        return pp_fail(err, PP_EINPUT, "%s: dataset %s should be %s", f->path, name, type);
    if (type_is_float(type) && cls != H5T_FLOAT)
        return pp_fail(err, PP_EINPUT, "%s: dataset %s should be %s", f->path, name, type);
    if (type_is_int(type) || type_is_float(type)) {
        int64_t count = 1;
        for (int i = 0; i < nd; i++) count *= d[i];
        PP_TRY(check_values(f, name, spec, type, count, err));
    }
    return PP_OK;
}

/* A spec with "repeat": "n_layers" stands for one dataset per index i,
 * its name containing "{i}". */
static pp_status check_each(pp_h5 *f, const char *name, json_t *spec, dim_table *dims, pp_err *err) {
    const char *rep = json_string_value(json_object_get(spec, "repeat"));
    if (!rep) return check_dataset(f, name, spec, dims, err);
    int64_t *count = dim_lookup(dims, rep);
    if (!count) return pp_fail(err, PP_EINPUT, "%s: attribute %s (needed for %s) is missing", f->path, rep, name);
    const char *hole = strstr(name, "{i}");
    if (!hole) return pp_fail(err, PP_ESYS, "schema: repeated dataset %s has no {i}", name);
    for (int64_t i = 0; i < *count; i++) {
        char full[512];
        snprintf(full, sizeof full, "%.*s%lld%s", (int)(hole - name), name, (long long)i, hole + 3);
        PP_TRY(check_dataset(f, full, spec, dims, err));
    }
    return PP_OK;
}

static pp_status check_attributes(pp_h5 *f, json_t *attrs, dim_table *dims, pp_err *err) {
    const char *key;
    json_t *spec;
    json_object_foreach(attrs, key, spec) {
        int required = !json_is_false(json_object_get(spec, "required"));
        const char *type = json_string_value(json_object_get(spec, "type"));
        if (!pp_h5_has_attr(f, "/", key)) {
            if (required) return pp_fail(err, PP_EINPUT, "%s: required attribute %s is missing", f->path, key);
            continue;
        }
        if (type && !strcmp(type, "int")) {
            int64_t v;
            PP_TRY(pp_h5_get_attr_i64(f, "/", key, &v, err));
            json_t *jmin = json_object_get(spec, "min");
            if (jmin && v < json_number_value(jmin))
                return pp_fail(err, PP_EINPUT, "%s: attribute %s = %lld is below %g", f->path, key, (long long)v,
                               json_number_value(jmin));
            dim_bind(dims, key, v); /* attributes named like a dim bind it */
        } else if (type && !strcmp(type, "float")) {
            double v;
            PP_TRY(pp_h5_get_attr_f64(f, "/", key, &v, err));
        } else {
            char buf[256];
            PP_TRY(pp_h5_get_attr_str(f, "/", key, buf, sizeof buf, err));
            json_t *choices = json_object_get(spec, "choices");
            if (choices) {
                size_t i;
                json_t *c;
                int found = 0;
                json_array_foreach(choices, i, c) if (!strcmp(json_string_value(c), buf)) found = 1;
                if (!found) return pp_fail(err, PP_EINPUT, "%s: attribute %s = '%s' is not an allowed value", f->path, key, buf);
            }
        }
    }
    return PP_OK;
}

/* The description of one documented dataset, when the file has it. */
static pp_status describe_one(pp_h5 *f, const char *name, const char *doc, pp_err *err) {
    if (!pp_h5_exists(f, name)) return PP_OK;
    return pp_h5_attr_str(f, name, "description", doc, err);
}

pp_status pp_schema_describe(pp_h5 *f, const char *kind, pp_err *err) {
    json_t *schema = load_schema(kind);
    if (!schema) return PP_OK; /* scratch kinds (chunk files) have no schema */
    pp_status st = PP_OK;
    const char *name;
    json_t *spec;
    json_object_foreach(json_object_get(schema, "datasets"), name, spec) {
        const char *doc = json_string_value(json_object_get(spec, "doc"));
        const char *hole = strstr(name, "{i}");
        if (!doc) continue;
        if (!hole) st = describe_one(f, name, doc, err);
        for (int i = 0; hole && st == PP_OK; i++) {
            char full[512];
            snprintf(full, sizeof full, "%.*s%d%s", (int)(hole - name), name, i, hole + 3);
            if (!pp_h5_exists(f, full)) break;
            st = describe_one(f, full, doc, err);
        }
        if (st != PP_OK) break;
    }
    json_decref(schema);
    return st;
}

pp_status pp_validate_file(const char *path, pp_err *err) {
    pp_h5 f;
    PP_TRY(pp_h5_open(&f, path, NULL, 0, err));
    char kind[64];
    pp_status st = pp_h5_get_attr_str(&f, "/", "schema", kind, sizeof kind, err);
    json_t *schema = st == PP_OK ? load_schema(kind) : NULL;
    if (st == PP_OK && !schema) st = pp_fail(err, PP_EINPUT, "%s: unknown schema '%s'", path, kind);
    if (st == PP_OK) {
        int64_t v = 0;
        int known = (int)json_integer_value(json_object_get(schema, "version"));
        st = pp_h5_get_attr_i64(&f, "/", "schema_version", &v, err);
        if (st == PP_OK && (v < 1 || v > known))
            st = pp_fail(err, PP_EINPUT, "%s: %s schema version %lld is newer than this program's (%d)", path, kind,
                         (long long)v, known);
    }
    static const char *common[] = {"program", "program_version", "arguments", "created"};
    for (int i = 0; st == PP_OK && i < 4; i++)
        if (!pp_h5_has_attr(&f, "/", common[i]))
            st = pp_fail(err, PP_EINPUT, "%s: provenance attribute %s is missing", path, common[i]);
    dim_table dims = {.n = 0};
    if (st == PP_OK) st = check_attributes(&f, json_object_get(schema, "attributes"), &dims, err);
    if (st == PP_OK) {
        const char *name;
        json_t *spec;
        json_object_foreach(json_object_get(schema, "datasets"), name, spec) {
            st = check_each(&f, name, spec, &dims, err);
            if (st != PP_OK) break;
        }
    }
    json_decref(schema);
    pp_h5_close(&f);
    return st;
}
