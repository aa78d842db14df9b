/* cpm_triage_corpus: the labelled corpus the model is trained and evaluated
 * on: a folder of <category slug>.tsv files (docs/protocol.md section 24.1:
 * header "set\tstyle\tbusiness\tproduct\ttext", then rows whose set is
 * "train" or "test"). Categories are the files' slugs in byte order; rows
 * keep file order. The corpus hash is SHA-256 over every row as
 * "<slug>\t<row>\n", in that order: it names the model trained on it. */
#ifndef CPM_TRIAGE_CORPUS_H
#define CPM_TRIAGE_CORPUS_H

#include "cpm_err.h"

#include <stdbool.h>
#include <stddef.h>

#define CPM_TRIAGE_CORPUS_FILE_MAX (8u << 20) /* bytes of one .tsv */
#define CPM_TRIAGE_CORPUS_ROWS_MAX 100000     /* rows in all */

typedef struct cpm_triage_corpus cpm_triage_corpus_t;

typedef struct {
    size_t cat; /* index into the categories */
    bool test;  /* held out */
    const char *style, *business, *product, *text;
} cpm_triage_row_t;

/* Read dir. NULL with err (the field names the file and line, e.g.
 * "food_safety.tsv:12") on a missing folder, a bad header or row, invalid
 * UTF-8, or fewer than 2 categories. */
CPM_MUST_CHECK cpm_triage_corpus_t *cpm_triage_corpus_load(const char *dir, cpm_error_t *err);
void cpm_triage_corpus_destroy(cpm_triage_corpus_t **p);

size_t cpm_triage_corpus_ncategories(const cpm_triage_corpus_t *c);
const char *cpm_triage_corpus_category(const cpm_triage_corpus_t *c, size_t i);
size_t cpm_triage_corpus_nrows(const cpm_triage_corpus_t *c);
const cpm_triage_row_t *cpm_triage_corpus_row(const cpm_triage_corpus_t *c, size_t i);
/* 64 hex digits. */
const char *cpm_triage_corpus_sha256(const cpm_triage_corpus_t *c);

#endif
