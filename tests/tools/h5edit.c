/* h5edit - a small HDF5 editor for the damaged-input tests.
 *
 *   h5edit FILE attr NAME VALUE      int64 attribute of the root group
 *   h5edit FILE attrf NAME VALUE     double attribute of the root group (inf, nan too)
 *   h5edit FILE fattr NAME VALUE     the same (another name for attrf)
 *   h5edit FILE sattr NAME TEXT      variable-length text attribute of the root group
 *   h5edit FILE delete PATH          remove a dataset or group
 *   h5edit FILE shorten PATH         drop the last row of a dataset
 *   h5edit FILE poke PATH INDEX VALUE  overwrite one element (as a double)
 *   h5edit FILE hollow PATH ROWS     replace a dataset by one of ROWS rows (same
 *                                    type and other dimensions), chunked, with
 *                                    nothing written: a forged size in a small file
 */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    hid_t f = H5Fopen(argv[1], H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return 2;
    const char *op = argv[2], *name = argv[3];
    int rc = 0;
    if (!strcmp(op, "sattr") && argc == 5) {
        const char *str = argv[4];
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        if (H5Aexists(f, name) > 0) H5Adelete(f, name);
        hid_t sp = H5Screate(H5S_SCALAR), a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        rc = a < 0 || H5Awrite(a, t, &str) < 0;
        H5Aclose(a);
        H5Sclose(sp);
        H5Tclose(t);
    } else if ((!strcmp(op, "attr") || !strcmp(op, "attrf") || !strcmp(op, "fattr")) && argc == 5) {
        int is_f = strcmp(op, "attr") != 0;
        long long v = atoll(argv[4]);
        double x = strtod(argv[4], NULL);
        if (H5Aexists(f, name) > 0) H5Adelete(f, name);
        hid_t sp = H5Screate(H5S_SCALAR),
              a = H5Acreate2(f, name, is_f ? H5T_IEEE_F64LE : H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        rc = a < 0 || (is_f ? H5Awrite(a, H5T_NATIVE_DOUBLE, &x) : H5Awrite(a, H5T_NATIVE_LLONG, &v)) < 0;
        H5Aclose(a);
        H5Sclose(sp);
    } else if (!strcmp(op, "delete")) {
        rc = H5Ldelete(f, name, H5P_DEFAULT) < 0;
    } else if (!strcmp(op, "shorten") || (!strcmp(op, "poke") && argc == 6)) {
        hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp = H5Dget_space(d), ft = H5Dget_type(d);
        hsize_t dims[8], n = 1;
        int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
        for (int i = 0; i < nd; i++) n *= dims[i];
        double *buf = malloc((n ? n : 1) * sizeof *buf);
        int empty = !strcmp(op, "shorten") && dims[0] == 1; /* no data to keep: any type */
        rc = d < 0 || nd < 1 || (!empty && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0);
        if (!rc && !strcmp(op, "poke")) {
            buf[atoll(argv[4])] = strtod(argv[5], NULL);
            rc = H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0;
        } else if (!rc) { /* the same dataset with its last row dropped */
            H5Dclose(d);
            d = -1;
            H5Ldelete(f, name, H5P_DEFAULT);
            dims[0]--;
            hid_t sp2 = H5Screate_simple(nd, dims, NULL);
            hid_t d2 = H5Dcreate2(f, name, ft, sp2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            rc = d2 < 0 || (!empty && H5Dwrite(d2, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0);
            H5Dclose(d2);
            H5Sclose(sp2);
        }
        free(buf);
        if (d >= 0) H5Dclose(d);
        H5Tclose(ft);
        H5Sclose(sp);
    } else if (!strcmp(op, "hollow") && argc == 5) {
        hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp = H5Dget_space(d), ft = H5Dget_type(d);
        hsize_t dims[8], chunk[8];
        int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
        H5Dclose(d);
        H5Sclose(sp);
        rc = nd < 1 || H5Ldelete(f, name, H5P_DEFAULT) < 0;
        if (!rc) {
            dims[0] = (hsize_t)atoll(argv[4]);
            for (int i = 0; i < nd; i++) chunk[i] = i == 0 ? 1024 : dims[i];
            hid_t sp2 = H5Screate_simple(nd, dims, NULL), pl = H5Pcreate(H5P_DATASET_CREATE);
            H5Pset_chunk(pl, nd, chunk);
            hid_t d2 = H5Dcreate2(f, name, ft, sp2, H5P_DEFAULT, pl, H5P_DEFAULT);
            rc = d2 < 0;
            H5Dclose(d2);
            H5Pclose(pl);
            H5Sclose(sp2);
        }
        H5Tclose(ft);
    } else rc = 2;
    H5Fclose(f);
    return rc;
}
