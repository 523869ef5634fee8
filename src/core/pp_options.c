/* pp_options.c - command line + key = value config files + generated help. */
#include "core/pp_options.h"
#include "core/pp_file.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Option names use '-', config keys may use '_' too. */
static int same_key(const char *name, const char *key, size_t keylen) {
    size_t n = strlen(name);
    if (n != keylen) return 0;
    for (size_t i = 0; i < n; i++) {
        char a = name[i], b = key[i];
        if (b == '_') b = '-';
        if (a != b) return 0;
    }
    return 1;
}

static int find_option(const pp_cli *cli, const char *key, size_t keylen) {
    for (int i = 0; i < cli->n_opts; i++)
        if (same_key(cli->opts[i].name, key, keylen)) return i;
    return -1;
}

static int choice_ok(const char *choices, const char *v) {
    size_t n = strlen(v);
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

/* Store value v into option i; `where` names the source for messages. */
static pp_status set_value(pp_cli *cli, int i, const char *v, char source, const char *where,
                           pp_err *err) {
    pp_option *o = &cli->opts[i];
    char *end;
    switch (o->type) {
    case OPT_STRING:
        *(const char **)o->dest = v;
        break;
    case OPT_CHOICE:
        if (!choice_ok(o->choices, v))
            return pp_fail(err, PP_EINPUT, "%s: --%s must be one of %s, not '%s'", where, o->name,
                           o->choices, v);
        *(const char **)o->dest = v;
        break;
    case OPT_INT:
    case OPT_INT64: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end || (o->type == OPT_INT && (x < INT_MIN || x > INT_MAX)))
            return pp_fail(err, PP_EINPUT, "%s: --%s wants an integer, not '%s'", where, o->name, v);
        if (o->min < o->max && (x < o->min || x > o->max))
            return pp_fail(err, PP_EINPUT, "%s: --%s %lld is outside [%g, %g]", where, o->name, x,
                           o->min, o->max);
        if (o->type == OPT_INT) *(int *)o->dest = (int)x;
        else *(long long *)o->dest = x;
        break;
    }
    case OPT_DOUBLE: {
        errno = 0;
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x))
            return pp_fail(err, PP_EINPUT, "%s: --%s wants a number, not '%s'", where, o->name, v);
        if (o->min < o->max && (x < o->min || x > o->max))
            return pp_fail(err, PP_EINPUT, "%s: --%s %g is outside [%g, %g]", where, o->name, x,
                           o->min, o->max);
        *(double *)o->dest = x;
        break;
    }
    case OPT_FLAG:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
            *(int *)o->dest = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
            *(int *)o->dest = 0;
        else
            return pp_fail(err, PP_EINPUT, "%s: %s wants true or false, not '%s'", where, o->name, v);
        break;
    }
    cli->set_by[i] = source;
    return PP_OK;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

/* Read one --config file into its own buffer (the values point into it).
 * A key given twice in one file is refused, as job files do. */
static pp_status read_config(pp_cli *cli, const char *path, char **store, pp_err *err) {
    size_t got;
    PP_TRY(pp_read_file(path, 1 << 20, "config file", store, &got, err));
    if (memchr(*store, '\0', got))
        return pp_fail(err, PP_EINPUT, "%s: config file contains a NUL byte", path);

    int lineno = 0, first_line[PP_MAX_OPTIONS] = {0};
    char *line = *store;
    while (line) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        char where[600];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        char *s = trim(line);
        if (*s && *s != '#') {
            char *eq = strchr(s, '=');
            if (!eq) return pp_fail(err, PP_EINPUT, "%s: expected 'key = value', got '%.60s'", where, s);
            *eq = '\0';
            char *key = trim(s), *val = trim(eq + 1);
            /* drop a trailing comment that follows whitespace */
            for (char *h = val; *h; h++)
                if (*h == '#' && h > val && isspace((unsigned char)h[-1]) && *val != '"') {
                    *h = '\0';
                    val = trim(val);
                    break;
                }
            size_t vl = strlen(val);
            if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
                val[vl - 1] = '\0';
                val++;
            }
            int i = find_option(cli, key, strlen(key));
            if (i < 0) return pp_fail(err, PP_EINPUT, "%s: unknown key '%s' (see %s --help)", where, key, cli->prog);
            if (first_line[i])
                return pp_fail(err, PP_EINPUT, "%s: '%s' given twice (first on line %d)", where, key, first_line[i]);
            first_line[i] = lineno;
            PP_TRY(set_value(cli, i, val, 'f', where, err));
        }
        line = next;
    }
    return PP_OK;
}

pp_status pp_cli_parse(pp_cli *cli, int argc, char **argv, pp_err *err) {
    if (cli->n_opts > PP_MAX_OPTIONS) return pp_fail(err, PP_ESYS, "too many options");
    memset(cli->set_by, 0, sizeof cli->set_by);
    /* First pass: --help, --config, --verbose.  Several --config files are
     * read in order, a later one winning over an earlier one. */
    const char *configs[PP_MAX_CONFIGS];
    int n_configs = 0;
    for (int a = 1; a < argc; a++) {
        const char *s = argv[a];
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            cli->help_requested = 1;
            return PP_OK;
        }
        if (!strcmp(s, "--version")) {
            cli->version_requested = 1;
            return PP_OK;
        }
        if (!strcmp(s, "--verbose") || !strcmp(s, "-v")) cli->verbose = 1;
        const char *c = NULL;
        if (!strncmp(s, "--config=", 9)) c = s + 9;
        else if (!strcmp(s, "--config")) {
            if (a + 1 >= argc) return pp_fail(err, PP_EINPUT, "--config needs a FILE");
            c = argv[++a];
        }
        if (c && n_configs == PP_MAX_CONFIGS) return pp_fail(err, PP_EINPUT, "more than %d --config files", PP_MAX_CONFIGS);
        if (c) configs[n_configs++] = cli->config_path = c;
    }
    for (int k = 0; k < n_configs; k++) PP_TRY(read_config(cli, configs[k], &cli->store[k], err));
    /* Second pass: everything else; the command line wins. */
    for (int a = 1; a < argc; a++) {
        const char *s = argv[a];
        if (!strcmp(s, "--verbose") || !strcmp(s, "-v")) continue;
        if (!strcmp(s, "--config")) {
            a++;
            continue;
        }
        if (!strncmp(s, "--config=", 9)) continue;
        if (strncmp(s, "--", 2) != 0 || s[2] == '\0') {
            if (cli->positional && !*cli->positional) {
                *cli->positional = s;
                continue;
            }
            return pp_fail(err, PP_EINPUT, "unexpected argument '%s' (options start with --; see --help)", s);
        }
        const char *key = s + 2, *eq = strchr(key, '=');
        size_t keylen = eq ? (size_t)(eq - key) : strlen(key);
        int i = find_option(cli, key, keylen);
        if (i < 0) return pp_fail(err, PP_EINPUT, "unknown option '--%.*s' (see %s --help)", (int)keylen, key, cli->prog);
        const char *val;
        if (cli->opts[i].type == OPT_FLAG && !eq) val = "1";
        else if (eq) val = eq + 1;
        else {
            if (a + 1 >= argc) return pp_fail(err, PP_EINPUT, "--%s needs a value", cli->opts[i].name);
            val = argv[++a];
        }
        PP_TRY(set_value(cli, i, val, 'c', "command line", err));
    }
    for (int i = 0; i < cli->n_opts; i++)
        if (cli->opts[i].required && !cli->set_by[i])
            return pp_fail(err, PP_EINPUT, "--%s is required (see %s --help)", cli->opts[i].name, cli->prog);
    if (cli->positional && cli->positional_name && !*cli->positional)
        return pp_fail(err, PP_EINPUT, "missing %s (see %s --help)", cli->positional_name, cli->prog);
    return PP_OK;
}

static void format_value(const pp_option *o, char *buf, size_t cap, int exact) {
    switch (o->type) {
    case OPT_STRING:
    case OPT_CHOICE: {
        const char *v = *(const char **)o->dest;
        snprintf(buf, cap, "%s", v ? v : "");
        break;
    }
    case OPT_INT: snprintf(buf, cap, "%d", *(int *)o->dest); break;
    case OPT_INT64: snprintf(buf, cap, "%lld", *(long long *)o->dest); break;
    case OPT_DOUBLE: snprintf(buf, cap, exact ? "%.17g" : "%g", *(double *)o->dest); break;
    case OPT_FLAG: snprintf(buf, cap, "%s", *(int *)o->dest ? "true" : "false"); break;
    }
}

void pp_cli_help(const pp_cli *cli) {
    printf("usage: %s %s\n\n", cli->prog, cli->synopsis ? cli->synopsis : "[OPTIONS]");
    if (cli->description) printf("%s\n\n", cli->description);
    printf("options (also accepted as 'key = value' lines in a --config file):\n");
    for (int i = 0; i < cli->n_opts; i++) {
        const pp_option *o = &cli->opts[i];
        char left[64], def[256];
        const char *mv = o->metavar ? o->metavar : (o->type == OPT_FLAG ? "" : "X");
        snprintf(left, sizeof left, "--%s%s%s", o->name, *mv ? " " : "", mv);
        printf("  %-28s %s", left, o->help ? o->help : "");
        if (o->type == OPT_CHOICE) printf(" (%s)", o->choices);
        format_value(o, def, sizeof def, 0);
        if (o->required) printf(" [required]");
        else if (def[0] && !(o->type == OPT_FLAG && !*(int *)o->dest)) printf(" [default: %s]", def);
        printf("\n");
    }
    printf("  %-28s %s\n  %-28s %s\n  %-28s %s\n  %-28s %s\n", "--config FILE",
           "read options from FILE (command line wins; several: later files win)", "--verbose", "more detail on stderr",
           "--help", "this text", "--version", "version, git commit and library versions (MPI, HDF5, OpenBLAS)");
    printf("\nexit status: 0 ok, 1 bad input or usage, 2 internal/system error,\n"
           "75 stopped by a signal after saving its state (run the same command again to resume)\n");
}

const char *pp_cli_effective(pp_cli *cli) {
    free(cli->effective);
    size_t cap = 256;
    for (int i = 0; i < cli->n_opts; i++) {
        cap += strlen(cli->opts[i].name) + 8;
        if ((cli->opts[i].type == OPT_STRING || cli->opts[i].type == OPT_CHOICE) && *(const char **)cli->opts[i].dest)
            cap += 2 * strlen(*(const char **)cli->opts[i].dest);
        else cap += 40;
    }
    cli->effective = malloc(cap);
    if (!cli->effective) return "";
    char *p = cli->effective;
    *p = '\0';
    for (int i = 0; i < cli->n_opts; i++) {
        const pp_option *o = &cli->opts[i];
        if (o->type == OPT_STRING && !*(const char **)o->dest) continue;
        char v[8192];
        format_value(o, v, sizeof v, 1);
        int quote = strpbrk(v, " \t\"") != NULL || !v[0];
        p += sprintf(p, "%s--%s=%s%s%s", p == cli->effective ? "" : " ", o->name, quote ? "\"" : "", v, quote ? "\"" : "");
    }
    return cli->effective;
}

int pp_cli_is_set(const pp_cli *cli, const char *name) {
    int i = find_option(cli, name, strlen(name));
    return i >= 0 && cli->set_by[i];
}

void pp_cli_free(pp_cli *cli) {
    for (int k = 0; k < PP_MAX_CONFIGS; k++) {
        free(cli->store[k]);
        cli->store[k] = NULL;
    }
    free(cli->effective);
    cli->effective = NULL;
}
