/* h5kind FILE KIND - open FILE expecting a file of KIND (test helper for
 * the "file of the wrong kind" error). */
#include <stdio.h>

#include "io/pp_h5.h"
#include "io/pp_schema.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: h5kind FILE KIND\n");
        return 1;
    }
    pp_h5 f;
    pp_err err = {0};
    if (pp_h5_open(&f, argv[1], argv[2], pp_schema_version(argv[2]) ? pp_schema_version(argv[2]) : 1, &err) != PP_OK)
        return pp_report_error("h5kind", &err);
    pp_h5_close(&f);
    return 0;
}
