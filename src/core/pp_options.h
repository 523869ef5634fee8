/* pp_options.h - one option table serves the command line, jobs/ config
 * files (key = value lines, same keys as the long options) and --help.
 *
 * Every program gets --help, --version, --config FILE and --verbose for free.  The
 * command line wins over the config files; several --config files are read
 * in order, a later one winning.  Unknown keys, a key given twice in one
 * file and bad values are errors that name the file and line. */
#ifndef PP_OPTIONS_H
#define PP_OPTIONS_H

#include "core/pp_error.h"

typedef enum {
    OPT_STRING, /* dest: const char ** (NULL = unset) */
    OPT_INT,    /* dest: int *        */
    OPT_INT64,  /* dest: long long *  */
    OPT_DOUBLE, /* dest: double *     */
    OPT_FLAG,   /* dest: int *, set to 1 by --name, "true/false" in a config */
    OPT_CHOICE  /* dest: const char **, value must be one of choices "a|b|c" */
} pp_opt_type;

typedef struct {
    const char *name;    /* long name without "--"; the config key */
    pp_opt_type type;
    void *dest;
    const char *metavar; /* shown in --help, e.g. "FILE" */
    const char *help;
    const char *choices; /* OPT_CHOICE: "a|b|c" */
    int required;
    double min, max;     /* numeric range when min < max */
} pp_option;

#define PP_MAX_OPTIONS 96
#define PP_MAX_CONFIGS 8 /* --config files, read in order: a later one wins */

typedef struct {
    const char *prog;
    const char *synopsis;    /* one line after "usage: prog " */
    const char *description; /* paragraph printed by --help */
    pp_option *opts;
    int n_opts;
    /* one positional argument (pp-inspect FILE), or NULL */
    const char **positional;
    const char *positional_name;
    /* results */
    int help_requested;
    int version_requested;   /* --version: the program prints it and exits 0 */
    int verbose;
    const char *config_path;     /* the last --config file */
    char set_by[PP_MAX_OPTIONS]; /* 0 default, 'f' config file, 'c' command line */
    char *store[PP_MAX_CONFIGS]; /* config-file values live here, one per file */
    char *effective;             /* "name=value ..." of every set option */
} pp_cli;

/* Parse argv (and the --config file if given).  Returns PP_OK (check
 * help_requested) or PP_EINPUT with a one-line message. */
PP_MUST_CHECK pp_status pp_cli_parse(pp_cli *cli, int argc, char **argv, pp_err *err);
/* Print generated help to stdout. */
void pp_cli_help(const pp_cli *cli);
/* "name=value" for every option that was set, space-separated, quoted when
 * needed: stored as provenance. */
const char *pp_cli_effective(pp_cli *cli);
/* Was option `name` set (by file or command line)? */
int pp_cli_is_set(const pp_cli *cli, const char *name);
void pp_cli_free(pp_cli *cli);

#endif
