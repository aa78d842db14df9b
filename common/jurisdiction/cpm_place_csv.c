/* cpm_place_csv: a strict reader of the reform data's CSV files.
 *
 * RFC 4180 as the data uses it: a header row, "\n" line ends (a "\r" before
 * it is dropped), fields optionally quoted with "" for a quote inside; a
 * quoted field may hold commas (lineage.csv's source_item does) but not a
 * line end. Every row must have the header's number of fields. Errors name the
 * file and the line. */
#include "cpm_place_csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int place_csv_open(place_csv_t *c, const char *dir, const char *file, cpm_error_t *err)
{
    memset(c, 0, sizeof *c);
    c->file = file;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return cpm_error_set(err, CPM_E_INVALID, file, "the path %s/%s is too long", dir, file);
    FILE *f = fopen(path, "rb");
    if (!f)
        return cpm_error_set(err, CPM_E_NOT_FOUND, file, "cannot open %s: %s", path,
                             strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return cpm_error_set(err, CPM_E_INVALID, file, "%s is not a regular file", path);
    }
    if ((unsigned long long)st.st_size > PLACE_CSV_MAX_BYTES) {
        fclose(f);
        return cpm_error_set(err, CPM_E_TOO_LARGE, file, "%s has %lld bytes, over the limit of %u",
                             path, (long long)st.st_size, PLACE_CSV_MAX_BYTES);
    }
    c->buf = malloc((size_t)st.st_size + 1);
    if (!c->buf) {
        fclose(f);
        return cpm_error_set(err, CPM_E_INTERNAL, file, "out of memory");
    }
    c->len = fread(c->buf, 1, (size_t)st.st_size, f);
    fclose(f);
    c->buf[c->len] = '\0';
    if (memchr(c->buf, '\0', c->len))
        return cpm_error_set(err, CPM_E_INVALID, file, "%s holds a NUL byte", path);
    /* The header names the columns. */
    int rc = place_csv_next(c, err);
    if (rc < 0)
        return -rc;
    if (rc == 0)
        return cpm_error_set(err, CPM_E_INVALID, file, "line 1: the header row is missing");
    c->ncols = c->nf;
    for (size_t i = 0; i < c->nf; i++)
        c->cols[i] = c->f[i];
    memcpy(c->colbuf, c->row, sizeof c->row);
    for (size_t i = 0; i < c->nf; i++)
        c->cols[i] = c->colbuf + (c->f[i] - c->row);
    return 0;
}

void place_csv_close(place_csv_t *c)
{
    free(c->buf);
    c->buf = NULL;
}

int place_csv_col(const place_csv_t *c, const char *name, cpm_error_t *err)
{
    for (size_t i = 0; i < c->ncols; i++)
        if (strcmp(c->cols[i], name) == 0)
            return (int)i;
    return -cpm_error_set(err, CPM_E_INVALID, c->file, "line 1: the header has no column %s", name);
}

/* One row into c->row (fields NUL-separated) and c->f. 1 row, 0 end, or
 * -code with err set. */
int place_csv_next(place_csv_t *c, cpm_error_t *err)
{
    if (c->pos >= c->len)
        return 0;
    c->line++;
    if (c->line > PLACE_MAX_ROWS + 1)
        return -cpm_error_set(err, CPM_E_TOO_LARGE, c->file, "line %d: more than %d rows", c->line,
                              PLACE_MAX_ROWS);
    size_t out = 0;
    c->nf = 0;
    c->f[c->nf++] = c->row;
    bool quoted = false, was_quoted = false;
    while (c->pos < c->len) {
        char ch = c->buf[c->pos++];
        if (quoted) {
            if (ch == '"') {
                if (c->pos < c->len && c->buf[c->pos] == '"') {
                    c->pos++;
                } else {
                    quoted = false;
                    continue;
                }
            } else if (ch == '\n' || ch == '\r') {
                return -cpm_error_set(err, CPM_E_INVALID, c->file,
                                      "line %d: field %zu: a quoted field runs past the line end",
                                      c->line, c->nf);
            }
        } else if (ch == '"') {
            if (c->f[c->nf - 1] != c->row + out || was_quoted)
                return -cpm_error_set(err, CPM_E_INVALID, c->file,
                                      "line %d: field %zu: a quote inside an unquoted field",
                                      c->line, c->nf);
            quoted = was_quoted = true;
            continue;
        } else if (ch == ',' || ch == '\n') {
            if (out + 1 >= sizeof c->row)
                goto too_long;
            c->row[out++] = '\0';
            if (ch == '\n')
                return 1;
            if (c->nf == PLACE_CSV_MAX_FIELDS)
                return -cpm_error_set(err, CPM_E_INVALID, c->file, "line %d: more than %d fields",
                                      c->line, PLACE_CSV_MAX_FIELDS);
            c->f[c->nf++] = c->row + out;
            was_quoted = false;
            continue;
        } else if (ch == '\r' && c->pos < c->len && c->buf[c->pos] == '\n') {
            continue;
        } else if (was_quoted) {
            return -cpm_error_set(err, CPM_E_INVALID, c->file,
                                  "line %d: field %zu: text after a closing quote", c->line, c->nf);
        }
        if (out + 2 >= sizeof c->row)
            goto too_long;
        c->row[out++] = ch;
    }
    if (quoted)
        return -cpm_error_set(err, CPM_E_INVALID, c->file,
                              "line %d: field %zu: a quoted field is not closed", c->line, c->nf);
    c->row[out] = '\0';
    return 1;
too_long:
    return -cpm_error_set(err, CPM_E_INVALID, c->file, "line %d: longer than %d bytes", c->line,
                          PLACE_LINE_MAX);
}

int place_csv_row(place_csv_t *c, cpm_error_t *err)
{
    int rc = place_csv_next(c, err);
    if (rc == 1 && c->nf == 1 && c->f[0][0] == '\0' && c->pos >= c->len)
        return 0; /* a last empty line */
    if (rc == 1 && c->nf != c->ncols)
        return -cpm_error_set(err, CPM_E_INVALID, c->file,
                              "line %d: %zu fields, the header has %zu", c->line, c->nf, c->ncols);
    return rc;
}
