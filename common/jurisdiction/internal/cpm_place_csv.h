/* cpm_place_csv: the strict CSV reader of the reform data (internal to
 * cpm_place). A whole file is read into memory (bounded by
 * PLACE_CSV_MAX_BYTES); rows are returned one at a time, their fields valid
 * until the next row. Errors: err->field is the file name, err->message
 * starts with "line N". */
#ifndef CPM_PLACE_CSV_H
#define CPM_PLACE_CSV_H

#include "cpm_place_int.h"

#define PLACE_CSV_MAX_FIELDS 32

typedef struct {
    const char *file;
    char *buf;
    size_t len, pos;
    int line;
    size_t nf, ncols;
    char *f[PLACE_CSV_MAX_FIELDS];
    char *cols[PLACE_CSV_MAX_FIELDS];
    char row[PLACE_LINE_MAX];
    char colbuf[PLACE_LINE_MAX];
} place_csv_t;

/* Open dir/file and read its header. 0, or an error code with err set
 * (CPM_E_NOT_FOUND, CPM_E_TOO_LARGE, CPM_E_INVALID, CPM_E_INTERNAL); close
 * it either way. */
int place_csv_open(place_csv_t *c, const char *dir, const char *file, cpm_error_t *err);
void place_csv_close(place_csv_t *c);
/* The index of the header's column name, or -code with err set. */
int place_csv_col(const place_csv_t *c, const char *name, cpm_error_t *err);
/* Any row (the header too): 1, 0 at the end, or -code. */
int place_csv_next(place_csv_t *c, cpm_error_t *err);
/* A data row with the header's number of fields: 1, 0 at the end, or -code. */
int place_csv_row(place_csv_t *c, cpm_error_t *err);

#endif
