/* pp_memory.c - memory estimates, the limit and the refusal (pp_memory.h). */
#include "core/pp_memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp_mpi.h"

pp_status pp_memory_parse(const char *text, const char *what, double *bytes, pp_err *err) {
    char *end = NULL;
    double v = strtod(text, &end);
    double unit = 1;
    if (end && (*end == 'K' || *end == 'k')) unit = 1024.0, end++;
    else if (end && (*end == 'M' || *end == 'm')) unit = 1048576.0, end++;
    else if (end && (*end == 'G' || *end == 'g')) unit = 1073741824.0, end++;
    else if (end && (*end == 'T' || *end == 't')) unit = 1099511627776.0, end++;
    if (end && (*end == 'i' || *end == 'B')) end += *end == 'i' ? (end[1] == 'B' ? 2 : 1) : 1;
    if (end == text || !end || *end != '\0' || !(v > 0) || v * unit > 1e18)
        return pp_fail(err, PP_EINPUT, "%s: '%s' is not a memory size (e.g. 20G, 512M)", what, text);
    *bytes = v * unit;
    return PP_OK;
}

/* MemAvailable in bytes, 0 when /proc/meminfo does not say. */
static double mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    double kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kib) == 1) break;
    fclose(f);
    return kib * 1024.0;
}

double pp_memory_default_limit(MPI_Comm comm) {
    int on_node = pp_ranks_on_node(comm);
    double avail = mem_available(), least = avail;
    /* every rank must take the same decision: the tightest node counts */
    double mine = avail / on_node;
    MPI_Allreduce(&mine, &least, 1, MPI_DOUBLE, MPI_MIN, comm);
    return least;
}

const char *pp_memory_str(double bytes, char buf[32]) {
    if (bytes >= 1073741824.0) snprintf(buf, 32, "%.2f GiB", bytes / 1073741824.0);
    else snprintf(buf, 32, "%.1f MiB", bytes / 1048576.0);
    return buf;
}

pp_status pp_memory_check(pp_memory *mem, const char *max_memory, const pp_memory_part *parts, int n_parts,
                          MPI_Comm comm, const pp_log *log, pp_err *err) {
    double limit = 0, total = 0, largest = 0;
    pp_status st = PP_OK;
    if (max_memory && *max_memory) st = pp_memory_parse(max_memory, "--max-memory", &limit, err);
    st = pp_agree(comm, st, err);
    if (st != PP_OK) return st;
    int given = limit > 0;
    if (!given) limit = pp_memory_default_limit(comm);
    for (int i = 0; i < n_parts; i++) total += parts[i].bytes;
    MPI_Allreduce(&total, &largest, 1, MPI_DOUBLE, MPI_MAX, comm);
    if (mem) {
        mem->limit = limit;
        mem->estimate = largest;
    }
    char detail[512] = "", a[32], b[32];
    size_t at = 0;
    for (int i = 0; i < n_parts && at < sizeof detail; i++)
        at += (size_t)snprintf(detail + at, sizeof detail - at, "%s%s %s", i ? ", " : "", parts[i].name,
                               pp_memory_str(parts[i].bytes, a));
    if (limit > 0 && largest > limit) /* the one line of the refusal, nothing before it */
        return pp_fail(err, PP_EINPUT, "needs an estimated %s per rank (%s), more than the %s %s", pp_memory_str(largest, a),
                       detail, given ? "--max-memory of" : "available", pp_memory_str(limit, b));
    pp_info(log, "memory estimate per rank %s (%s); limit %s%s", pp_memory_str(largest, a), detail,
            pp_memory_str(limit, b), given ? "" : " (MemAvailable / ranks on the node)");
    return PP_OK;
}
