/* cpm_triage_corpus: reading the labelled corpus. See cpm_triage_corpus.h. */
#include "cpm_triage_corpus.h"

#include "cpm_text.h"

#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HEADER "set\tstyle\tbusiness\tproduct\ttext"

struct cpm_triage_corpus {
    char (*cat)[65];
    size_t ncat;
    char **buf; /* one per file: the rows point into it */
    cpm_triage_row_t *row;
    size_t nrow, cap;
    char sha[65];
};

void cpm_triage_corpus_destroy(cpm_triage_corpus_t **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < (*p)->ncat; i++)
        free((*p)->buf[i]);
    free((*p)->buf);
    free((*p)->cat);
    free((*p)->row);
    free(*p);
    *p = NULL;
}

size_t cpm_triage_corpus_ncategories(const cpm_triage_corpus_t *c)
{
    return c->ncat;
}

const char *cpm_triage_corpus_category(const cpm_triage_corpus_t *c, size_t i)
{
    return i < c->ncat ? c->cat[i] : "";
}

size_t cpm_triage_corpus_nrows(const cpm_triage_corpus_t *c)
{
    return c->nrow;
}

const cpm_triage_row_t *cpm_triage_corpus_row(const cpm_triage_corpus_t *c, size_t i)
{
    return i < c->nrow ? &c->row[i] : NULL;
}

const char *cpm_triage_corpus_sha256(const cpm_triage_corpus_t *c)
{
    return c->sha;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .tsv names of dir, sorted; their count or -1. */
static long list_tsv(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **v = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".tsv") != 0)
            continue;
        char **nv = realloc(v, (n + 1) * sizeof *v);
        if (!nv || !(nv[n] = strdup(e->d_name))) {
            free(nv ? nv : v);
            closedir(d);
            return -1;
        }
        v = nv;
        n++;
    }
    closedir(d);
    if (n)
        qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    return (long)n;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f)
        return NULL;
    if (fstat(fileno(f), &st) != 0 || (uint64_t)st.st_size > CPM_TRIAGE_CORPUS_FILE_MAX) {
        fclose(f);
        return NULL;
    }
    char *b = malloc((size_t)st.st_size + 1);
    if (b && fread(b, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b)
        b[st.st_size] = 0;
    *len = (size_t)st.st_size;
    return b;
}

static int add_row(cpm_triage_corpus_t *c, const cpm_triage_row_t *r)
{
    if (c->nrow == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 1024;
        cpm_triage_row_t *nr = realloc(c->row, nc * sizeof *nr);
        if (!nr)
            return -1;
        c->row = nr;
        c->cap = nc;
    }
    c->row[c->nrow++] = *r;
    return 0;
}

/* Parse one file (buf, NUL-terminated, modified in place) as category k. */
static int parse_file(cpm_triage_corpus_t *c, size_t k, char *buf, size_t len,
                      crypto_hash_sha256_state *h, cpm_error_t *err)
{
    const char *name = c->cat[k];
    if (memchr(buf, 0, len) || !cpm_text_utf8_valid(buf, len))
        return cpm_error_set(err, CPM_E_INVALID, name, "%s.tsv is not UTF-8 text.", name);
    char *line = buf;
    for (size_t no = 1; line && *line; no++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        char *next = nl ? nl + 1 : NULL;
        if (no == 1) {
            if (strcmp(line, HEADER) != 0)
                return cpm_error_set(err, CPM_E_INVALID, name,
                                     "%s.tsv:1: the header must be \"%s\" (tabs).", name,
                                     "set\\tstyle\\tbusiness\\tproduct\\ttext");
            line = next;
            continue;
        }
        crypto_hash_sha256_update(h, (const unsigned char *)name, strlen(name));
        crypto_hash_sha256_update(h, (const unsigned char *)"\t", 1);
        crypto_hash_sha256_update(h, (const unsigned char *)line, strlen(line));
        crypto_hash_sha256_update(h, (const unsigned char *)"\n", 1);
        char *f[5];
        size_t nf = 0;
        for (char *p = line; nf < 5; nf++) {
            f[nf] = p;
            char *tab = strchr(p, '\t');
            if (!tab) {
                nf++;
                break;
            }
            *tab = 0;
            p = tab + 1;
        }
        bool test = nf == 5 && !strcmp(f[0], "test");
        if (nf != 5 || strchr(f[4], '\t') || (!test && strcmp(f[0], "train") != 0) ||
            strlen(f[4]) < 3 || strchr(f[4], '\r'))
            return cpm_error_set(err, CPM_E_INVALID, name,
                                 "%s.tsv:%zu: a row is set (train|test), style, business, "
                                 "product, text (3 bytes or more), separated by tabs.",
                                 name, no);
        if (c->nrow >= CPM_TRIAGE_CORPUS_ROWS_MAX)
            return cpm_error_set(err, CPM_E_TOO_LARGE, name, "corpus over %d rows.",
                                 CPM_TRIAGE_CORPUS_ROWS_MAX);
        cpm_triage_row_t r = {
            .cat = k, .test = test, .style = f[1], .business = f[2], .product = f[3], .text = f[4]};
        if (add_row(c, &r) != 0)
            return cpm_error_set(err, CPM_E_INTERNAL, name, "out of memory");
        line = next;
    }
    return 0;
}

cpm_triage_corpus_t *cpm_triage_corpus_load(const char *dir, cpm_error_t *err)
{
    char **names = NULL;
    long n = list_tsv(dir, &names);
    if (n < 0) {
        cpm_error_set(err, CPM_E_NOT_FOUND, "corpus", "cannot read the corpus folder %s.", dir);
        return NULL;
    }
    cpm_triage_corpus_t *c = calloc(1, sizeof *c);
    int rc = 0;
    if (!c || (n && (!(c->cat = calloc((size_t)n, sizeof *c->cat)) ||
                     !(c->buf = calloc((size_t)n, sizeof *c->buf)))))
        rc = cpm_error_set(err, CPM_E_INTERNAL, "corpus", "out of memory");
    if (rc == 0 && n < 2)
        rc = cpm_error_set(err, CPM_E_INVALID, "corpus",
                           "the corpus folder %s has fewer than 2 category files.", dir);
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    for (long i = 0; rc == 0 && i < n; i++) {
        size_t l = strlen(names[i]) - 4;
        snprintf(c->cat[i], sizeof c->cat[i], "%.*s", (int)l, names[i]);
        c->ncat = (size_t)i + 1;
        if (l > 64 || !cpm_text_slug_valid(c->cat[i])) {
            rc = cpm_error_set(err, CPM_E_INVALID, "corpus", "%s is not <category slug>.tsv.",
                               names[i]);
            break;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t len = 0;
        c->buf[i] = read_file(path, &len);
        if (!c->buf[i])
            rc = cpm_error_set(err, CPM_E_INVALID, c->cat[i], "cannot read %s (or over %u bytes).",
                               path, CPM_TRIAGE_CORPUS_FILE_MAX);
        else
            rc = parse_file(c, (size_t)i, c->buf[i], len, &h, err);
    }
    for (long i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc != 0) {
        cpm_triage_corpus_destroy(&c);
        return NULL;
    }
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&h, d);
    sodium_bin2hex(c->sha, sizeof c->sha, d, sizeof d);
    return c;
}
