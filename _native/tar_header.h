/* Parsing one tar header block (libcontainer_py.images.tarstream), in the
 * parent only: the fields as Python's tarfile reads them, without the
 * Python per field. */
#ifndef TAR_HEADER_H
#define TAR_HEADER_H

#include <stddef.h>

/* lc_tar_header's results: the fields are in out[] only with LC_TAR_OK. */
#define LC_TAR_OK 0
#define LC_TAR_ZERO 1     /* a block of zeros */
#define LC_TAR_INVALID 2  /* a number field that is not a number */
#define LC_TAR_CHECKSUM 3 /* the checksum does not match */
#define LC_TAR_NEGATIVE 4 /* a negative size */
#define LC_TAR_PYTHON 5   /* a number only Python's int() can judge ("0o7", "+7", "1_7") or too large */

/* out[] after LC_TAR_OK, in this order. */
#define LC_TAR_FIELDS 10
/* A record of lc_tar_headers: status, offset of the block, the fields. */
#define LC_TAR_RECORD 12

int lc_tar_header(const char *block, long long *out);
long lc_tar_headers(const char *buf, size_t len, size_t pos, long long *out, long max);

#endif
