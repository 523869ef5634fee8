/* safetensors.c - safetensors reader (mmap) and writer (see safetensors.h). */
#include "model/safetensors.h"

#include "core/pp_text.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader assumes a little-endian host"
#endif

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {{"F32", 4}, {"F16", 2}, {"BF16", 2}};

const char *st_dtype_name(st_dtype d) { return dtypes[d].name; }

size_t st_count(const st_tensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

/* ---- reading --------------------------------------------------------------- */

/* Tensor names come from the file: print at most 80 bytes of one, and none
 * with a control character (an error is one line). */
#define NAME_FMT "%.80s"
#define SHOWN(name) pp_text_shown(name, "(name with control characters)")

/* Parse one header entry into t (name already set). */
static pp_status parse_entry(const char *path, const char *key, json_t *v, size_t data_size, st_tensor *t,
                             pp_err *err) {
    const char *name = SHOWN(key);
    if (!json_is_object(v)) return pp_fail(err, PP_EINPUT, "%s: tensor " NAME_FMT ": header entry is not an object", path, name);
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"), *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) || json_array_size(jo) != 2)
        return pp_fail(err, PP_EINPUT, "%s: tensor " NAME_FMT ": needs dtype (string), shape (array) and data_offsets ([begin, end])",
                       path, name);
    const char *dt = json_string_value(jd);
    int found = -1;
    for (int i = 0; i < (int)(sizeof dtypes / sizeof dtypes[0]); i++)
        if (!strcmp(dt, dtypes[i].name)) found = i;
    if (found < 0)
        return pp_fail(err, PP_EINPUT, "%s: tensor " NAME_FMT ": dtype %.16s is not supported (F32, F16, BF16)", path, name,
                       pp_text_shown(dt, "(unprintable)"));
    t->dtype = (st_dtype)found;
    if (json_array_size(js) > SAFETENSORS_MAX_DIMS)
        return pp_fail(err, PP_EINPUT, "%s: tensor " NAME_FMT ": %zu dimensions (at most %d)", path, name, json_array_size(js),
                       SAFETENSORS_MAX_DIMS);
    t->ndim = (int)json_array_size(js);
    /* element count with an overflow guard: no product may pass 2^62 */
    uint64_t count = 1;
    for (int i = 0; i < t->ndim; i++) {
        json_t *e = json_array_get(js, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > ((json_int_t)1 << 40))
            return pp_fail(err, PP_EINPUT, "%s: tensor " NAME_FMT ": shape entry %d is not a size", path, name, i);
        t->shape[i] = json_integer_value(e);
        count = t->shape[i] == 0 ? 0 : count * (uint64_t)t->shape[i];
        if (count > ((uint64_t)1 << 62)) return pp_fail(err, PP_EINPUT, "%s: tensor " NAME_FMT ": shape is too large", path, name);
    }
    json_t *b = json_array_get(jo, 0), *e = json_array_get(jo, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
        json_integer_value(e) < json_integer_value(b))
        return pp_fail(err, PP_EINPUT, "%s: tensor " NAME_FMT ": data_offsets is not [begin, end] with begin <= end", path, name);
    uint64_t begin = (uint64_t)json_integer_value(b), end = (uint64_t)json_integer_value(e);
    if (end > data_size)
        return pp_fail(err, PP_EINPUT,
                       "%s: tensor " NAME_FMT ": data_offsets [%llu, %llu] run past the data (%zu bytes; file truncated?)",
                       path, name, (unsigned long long)begin, (unsigned long long)end, data_size);
    if (count * dtypes[found].size != end - begin)
        return pp_fail(err, PP_EINPUT,
                       "%s: tensor " NAME_FMT ": shape needs %llu bytes of %s but data_offsets span %llu bytes", path, name,
                       (unsigned long long)(count * dtypes[found].size), dt, (unsigned long long)(end - begin));
    t->begin = (size_t)begin;
    t->nbytes = (size_t)(end - begin);
    return PP_OK;
}

static int by_begin(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

/* No two tensors of file fi may share a byte. */
static pp_status check_overlap(const safetensors *s, int first, const char *path, pp_err *err) {
    int n = s->n_tensors - first;
    if (n < 2) return PP_OK;
    const st_tensor **order = malloc((size_t)n * sizeof *order);
    if (!order) return pp_fail(err, PP_ESYS, "out of memory");
    for (int i = 0; i < n; i++) order[i] = &s->tensors[first + i];
    qsort(order, (size_t)n, sizeof *order, by_begin);
    pp_status st = PP_OK;
    for (int i = 1; i < n && st == PP_OK; i++)
        if (order[i]->begin < order[i - 1]->begin + order[i - 1]->nbytes)
            st = pp_fail(err, PP_EINPUT, "%s: tensors " NAME_FMT " and " NAME_FMT " overlap in the data", path,
                         SHOWN(order[i - 1]->name), SHOWN(order[i]->name));
    free(order);
    return st;
}

static pp_status parse_header(safetensors *s, st_file *f, const char *path, pp_err *err) {
    if (f->size < 8) return pp_fail(err, PP_EINPUT, "%s: %zu bytes is too short for a safetensors file", path, f->size);
    uint64_t n;
    memcpy(&n, f->map, 8);
    if (n > SAFETENSORS_MAX_HEADER)
        return pp_fail(err, PP_EINPUT, "%s: header length %llu is above the 100 MB limit (not a safetensors file?)", path,
                       (unsigned long long)n);
    if (n < 2 || n > f->size - 8)
        return pp_fail(err, PP_EINPUT, "%s: header length %llu does not fit the file's %zu bytes", path,
                       (unsigned long long)n, f->size);
    f->data_start = 8 + (size_t)n;
    json_error_t jerr;
    json_t *h = json_loadb((const char *)f->map + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!h)
        return pp_fail(err, PP_EINPUT, "%s: header is not JSON (line %d: %.100s)", path, jerr.line,
                       pp_text_shown(jerr.text, "(unprintable)"));
    if (!json_is_object(h)) {
        json_decref(h);
        return pp_fail(err, PP_EINPUT, "%s: header is not a JSON object", path);
    }
    size_t want = (size_t)s->n_tensors + json_object_size(h);
    st_tensor *grown = realloc(s->tensors, (want ? want : 1) * sizeof *grown);
    if (!grown) {
        json_decref(h);
        return pp_fail(err, PP_ESYS, "out of memory");
    }
    s->tensors = grown;
    int first = s->n_tensors;
    pp_status st = PP_OK;
    const char *key;
    json_t *v;
    json_object_foreach(h, key, v) {
        if (!strcmp(key, "__metadata__")) {
            if (!json_is_object(v)) st = pp_fail(err, PP_EINPUT, "%s: __metadata__ is not an object", path);
            if (st != PP_OK) break;
            continue;
        }
        if (st_find(s, key)) {
            st = pp_fail(err, PP_EINPUT, "%s: tensor " NAME_FMT " appears in two files", path, SHOWN(key));
            break;
        }
        st_tensor *t = &s->tensors[s->n_tensors];
        memset(t, 0, sizeof *t);
        t->file = s->n_files - 1;
        st = parse_entry(path, key, v, f->size - f->data_start, t, err);
        if (st == PP_OK && !(t->name = strdup(key))) st = pp_fail(err, PP_ESYS, "out of memory");
        if (st != PP_OK) break;
        s->n_tensors++;
    }
    json_decref(h);
    if (st == PP_OK) st = check_overlap(s, first, path, err);
    return st;
}

pp_status st_open_file(safetensors *s, const char *path, pp_err *err) {
    st_file *grown = realloc(s->files, (size_t)(s->n_files + 1) * sizeof *grown);
    if (!grown) return pp_fail(err, PP_ESYS, "out of memory");
    s->files = grown;
    st_file *f = &s->files[s->n_files];
    memset(f, 0, sizeof *f);
    if ((size_t)snprintf(f->path, sizeof f->path, "%s", path) >= sizeof f->path)
        return pp_fail(err, PP_EINPUT, "%s: path too long", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return pp_fail(err, PP_EINPUT, "%s: cannot open (%s)", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return pp_fail(err, PP_EINPUT, "%s: not a regular file", path);
    }
    f->size = (size_t)sb.st_size;
    if (f->size > 0) {
        void *map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            close(fd);
            return pp_fail(err, PP_ESYS, "%s: cannot map %zu bytes (%s)", path, f->size, strerror(errno));
        }
        f->map = map;
    }
    close(fd); /* the mapping stays valid */
    s->n_files++;
    return parse_header(s, f, path, err);
}

/* A shard name from the index must be a plain file name in the directory. */
static int plain_file_name(const char *name) {
    return name[0] && name[0] != '.' && !strchr(name, '/') && strlen(name) < 256;
}

static pp_status open_index(safetensors *s, const char *dir, const char *index_path, pp_err *err) {
    json_t *j;
    PP_TRY(pp_read_json(index_path, SAFETENSORS_MAX_HEADER, "safetensors index", JSON_REJECT_DUPLICATES, &j, err));
    json_t *map = json_object_get(j, "weight_map");
    pp_status st = json_is_object(map) ? PP_OK : pp_fail(err, PP_EINPUT, "%s: no weight_map object", index_path);
    const char *name;
    json_t *v;
    /* open each shard once, in the order first named */
    json_object_foreach(map, name, v) {
        if (st != PP_OK) break;
        const char *shard = json_string_value(v);
        if (!shard || !plain_file_name(shard)) {
            st = pp_fail(err, PP_EINPUT, "%s: weight_map entry " NAME_FMT " is not a file name in the directory", index_path,
                         SHOWN(name));
            break;
        }
        char path[PP_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, shard);
        int seen = 0;
        for (int i = 0; i < s->n_files; i++) seen |= !strcmp(s->files[i].path, path);
        if (!seen) st = st_open_file(s, path, err);
    }
    json_object_foreach(map, name, v) {
        if (st != PP_OK) break;
        const st_tensor *t = st_find(s, name);
        char path[PP_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, json_string_value(v));
        if (!t || strcmp(s->files[t->file].path, path) != 0)
            st = pp_fail(err, PP_EINPUT, "%s: tensor " NAME_FMT " is not in %.200s, where weight_map puts it", index_path,
                         SHOWN(name), json_string_value(v));
    }
    json_decref(j);
    return st;
}

pp_status st_open_dir(safetensors *s, const char *dir, pp_err *err) {
    memset(s, 0, sizeof *s);
    char single[PP_PATH_MAX], index[PP_PATH_MAX];
    snprintf(single, sizeof single, "%s/model.safetensors", dir);
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    pp_status st;
    if (access(single, F_OK) == 0) st = st_open_file(s, single, err);
    else if (access(index, F_OK) == 0) st = open_index(s, dir, index, err);
    else st = pp_fail(err, PP_EINPUT, "%s: no model.safetensors or model.safetensors.index.json", dir);
    if (st != PP_OK) st_close(s);
    return st;
}

const st_tensor *st_find(const safetensors *s, const char *name) {
    for (int i = 0; i < s->n_tensors; i++)
        if (!strcmp(s->tensors[i].name, name)) return &s->tensors[i];
    return NULL;
}

/* IEEE half -> float, subnormals, infinities and NaN included. */
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) bits = sign | 0x7f800000u | (mant << 13);
    else if (exp != 0) bits = sign | ((exp + 112) << 23) | (mant << 13);
    else if (mant == 0) bits = sign;
    else { /* subnormal: normalise */
        int shift = 0;
        while (!(mant & 0x400)) mant <<= 1, shift++;
        bits = sign | ((uint32_t)(113 - shift) << 23) | ((mant & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float st_bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t st_f32_to_bf16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40); /* quiet NaN */
    bits += 0x7fffu + ((bits >> 16) & 1); /* ties go to the even neighbour */
    return (uint16_t)(bits >> 16);
}

void st_read_f32(const safetensors *s, const st_tensor *t, float *out) {
    const st_file *f = &s->files[t->file];
    const unsigned char *src = f->map + f->data_start + t->begin;
    size_t n = st_count(t);
    if (t->dtype == ST_F32) memcpy(out, src, n * 4);
    for (size_t i = 0; t->dtype != ST_F32 && i < n; i++) {
        uint16_t v;
        memcpy(&v, src + 2 * i, 2);
        out[i] = t->dtype == ST_BF16 ? st_bf16_to_f32(v) : f16_to_f32(v);
    }
    /* the source pages are no longer needed: keep the resident set at the
     * fp32 model, not the model plus the checkpoint */
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)src + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t e = ((uintptr_t)src + t->nbytes) & ~(uintptr_t)(page - 1);
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}

void st_close(safetensors *s) {
    for (int i = 0; i < s->n_files; i++)
        if (s->files[i].map) munmap(s->files[i].map, s->files[i].size);
    for (int i = 0; i < s->n_tensors; i++) free(s->tensors[i].name);
    free(s->files);
    free(s->tensors);
    memset(s, 0, sizeof *s);
}

/* ---- writing --------------------------------------------------------------- */

#define WRITE_CHUNK 65536

pp_status st_writer_begin(st_writer *w, const char *path, const st_out_tensor *list, int n, st_dtype dtype,
                          pp_err *err) {
    memset(w, 0, sizeof *w);
    if (dtype != ST_F32 && dtype != ST_BF16) return pp_fail(err, PP_EINPUT, "%s: writes F32 or BF16 only", path);
    if ((size_t)snprintf(w->path, sizeof w->path, "%s", path) >= sizeof w->path) return pp_fail(err, PP_EINPUT, "%s: path too long", path);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
    w->dtype = dtype;
    w->n = n;
    w->list = list;
    json_t *h = json_object();
    json_t *meta = json_object();
    json_object_set_new(meta, "format", json_string("pt"));
    json_object_set_new(h, "__metadata__", meta);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        json_t *shape = json_array(), *e = json_object();
        size_t count = 1;
        for (int d = 0; d < list[i].ndim; d++) {
            json_array_append_new(shape, json_integer(list[i].shape[d]));
            count *= (size_t)list[i].shape[d];
        }
        size_t bytes = count * dtypes[dtype].size;
        json_t *offs = json_array();
        json_array_append_new(offs, json_integer((json_int_t)off));
        json_array_append_new(offs, json_integer((json_int_t)(off + bytes)));
        json_object_set_new(e, "dtype", json_string(dtypes[dtype].name));
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "data_offsets", offs);
        json_object_set_new(h, list[i].name, e);
        off += bytes;
    }
    char *text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(h);
    if (!text) return pp_fail(err, PP_ESYS, "out of memory");
    /* pad the header with spaces so the data starts 8-byte aligned */
    size_t len = strlen(text), padded = (len + 7) & ~(size_t)7;
    uint64_t n64 = padded;
    w->f = fopen(w->tmp, "wb");
    w->scratch = malloc(WRITE_CHUNK * sizeof *w->scratch);
    int ok = w->f && w->scratch && fwrite(&n64, 8, 1, w->f) == 1 && fwrite(text, 1, len, w->f) == len;
    for (size_t i = len; ok && i < padded; i++) ok = fputc(' ', w->f) != EOF;
    free(text);
    if (!ok) {
        st_writer_abort(w);
        return pp_fail(err, PP_ESYS, "%s: cannot write (disk full or no permission?)", path);
    }
    return PP_OK;
}

pp_status st_writer_put(st_writer *w, const float *data, pp_err *err) {
    if (w->next >= w->n) return pp_fail(err, PP_ESYS, "%s: more tensors than the header lists", w->path);
    const st_out_tensor *t = &w->list[w->next++];
    size_t count = 1;
    for (int d = 0; d < t->ndim; d++) count *= (size_t)t->shape[d];
    int ok = 1;
    if (w->dtype == ST_F32) ok = fwrite(data, sizeof(float), count, w->f) == count;
    for (size_t i = 0; w->dtype == ST_BF16 && ok && i < count; i += WRITE_CHUNK) {
        size_t m = count - i < WRITE_CHUNK ? count - i : WRITE_CHUNK;
        for (size_t j = 0; j < m; j++) w->scratch[j] = st_f32_to_bf16(data[i + j]);
        ok = fwrite(w->scratch, 2, m, w->f) == m;
    }
    if (!ok) {
        st_writer_abort(w);
        return pp_fail(err, PP_ESYS, "%s: write failed (disk full?)", w->tmp);
    }
    return PP_OK;
}

pp_status st_writer_end(st_writer *w, pp_err *err) {
    if (w->next != w->n) {
        st_writer_abort(w);
        return pp_fail(err, PP_ESYS, "%s: %d of %d tensors written", w->path, w->next, w->n);
    }
    int ok = fclose(w->f) == 0;
    w->f = NULL;
    free(w->scratch);
    w->scratch = NULL;
    if (!ok || rename(w->tmp, w->path) != 0) {
        remove(w->tmp);
        return pp_fail(err, PP_ESYS, "%s: cannot finish writing %s", w->path, w->tmp);
    }
    return PP_OK;
}

void st_writer_abort(st_writer *w) {
    if (w->f) fclose(w->f);
    w->f = NULL;
    free(w->scratch);
    w->scratch = NULL;
    remove(w->tmp);
}
