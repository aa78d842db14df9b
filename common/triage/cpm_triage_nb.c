/* cpm_triage_nb: the vocabulary and naive Bayes scoring shared by the
 * model's loading, suggestions and training. See cpm_triage_int.h. */
#include "cpm_triage_int.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct tvocab {
    char **str; /* by index */
    size_t n, cap;
    long *slot;   /* open addressing: index or -1; at most half full */
    size_t nslot; /* power of two */
    unsigned char key[crypto_shorthash_KEYBYTES];
};

/* SipHash-2-4 under a random key of this table: the feature names come
 * from a model file, which may be crafted, and an unkeyed hash (FNV) lets
 * names be chosen to collide and make loading quadratic. The key changes
 * only slots, never indices: training's output order does not depend on
 * it. */
static uint64_t hash(const tvocab_t *v, const char *s)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)s, strlen(s), v->key);
    uint64_t x;
    memcpy(&x, h, sizeof x);
    return x;
}

tvocab_t *tvocab_new(void)
{
    if (sodium_init() < 0)
        return NULL;
    tvocab_t *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    randombytes_buf(v->key, sizeof v->key);
    v->nslot = 1024;
    v->slot = malloc(v->nslot * sizeof *v->slot);
    if (!v->slot) {
        free(v);
        return NULL;
    }
    memset(v->slot, 0xff, v->nslot * sizeof *v->slot);
    return v;
}

void tvocab_destroy(tvocab_t **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < (*p)->n; i++)
        free((*p)->str[i]);
    free((*p)->str);
    free((*p)->slot);
    free(*p);
    *p = NULL;
}

long tvocab_find(const tvocab_t *v, const char *s)
{
    size_t mask = v->nslot - 1;
    for (size_t i = hash(v, s) & mask;; i = (i + 1) & mask) {
        long k = v->slot[i];
        if (k < 0)
            return -1;
        if (!strcmp(v->str[k], s))
            return k;
    }
}

static int grow(tvocab_t *v)
{
    size_t ns = v->nslot * 2;
    long *nslot = malloc(ns * sizeof *nslot);
    if (!nslot)
        return -1;
    memset(nslot, 0xff, ns * sizeof *nslot);
    for (size_t k = 0; k < v->n; k++) {
        size_t i = hash(v, v->str[k]) & (ns - 1);
        while (nslot[i] >= 0)
            i = (i + 1) & (ns - 1);
        nslot[i] = (long)k;
    }
    free(v->slot);
    v->slot = nslot;
    v->nslot = ns;
    return 0;
}

long tvocab_add(tvocab_t *v, const char *s)
{
    long k = tvocab_find(v, s);
    if (k >= 0)
        return k;
    if ((v->n + 1) * 2 > v->nslot && grow(v) != 0)
        return -1;
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 1024;
        char **ns = realloc(v->str, nc * sizeof *ns);
        if (!ns)
            return -1;
        v->str = ns;
        v->cap = nc;
    }
    char *copy = strdup(s);
    if (!copy)
        return -1;
    size_t i = hash(v, s) & (v->nslot - 1);
    while (v->slot[i] >= 0)
        i = (i + 1) & (v->nslot - 1);
    v->slot[i] = (long)v->n;
    v->str[v->n] = copy;
    return (long)v->n++;
}

size_t tvocab_size(const tvocab_t *v)
{
    return v->n;
}

const char *tvocab_str(const tvocab_t *v, size_t i)
{
    return i < v->n ? v->str[i] : "";
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

int tdoc_from_text(tdoc_t *d, const tvocab_t *v, const cpm_ttext_t *t, bool binary)
{
    d->n = 0;
    d->tokens = cpm_ttext_tokens(t);
    d->known = 0;
    long last_known_tok = -1;
    for (size_t i = 0; i < cpm_ttext_count(t); i++) {
        long k = tvocab_find(v, cpm_ttext_feature(t, i));
        if (k < 0)
            continue;
        long tok = cpm_ttext_token(t, i);
        if (tok >= 0 && tok != last_known_tok) {
            d->known++;
            last_known_tok = tok;
        }
        if (d->n == d->cap) {
            size_t nc = d->cap ? d->cap * 2 : 256;
            long *ni = realloc(d->idx, nc * sizeof *ni);
            if (!ni)
                return -1;
            d->idx = ni;
            d->cap = nc;
        }
        d->idx[d->n++] = k;
    }
    if (binary && d->n > 1) {
        qsort(d->idx, d->n, sizeof *d->idx, cmp_long);
        size_t k = 1;
        for (size_t i = 1; i < d->n; i++)
            if (d->idx[i] != d->idx[k - 1])
                d->idx[k++] = d->idx[i];
        d->n = k;
    }
    return 0;
}

void tdoc_free(tdoc_t *d)
{
    free(d->idx);
    memset(d, 0, sizeof *d);
}

void tnb_posterior(const float *logp, const double *logprior, size_t ncat, double scale,
                   double shrink, const long *idx, size_t n, double *p)
{
    for (size_t c = 0; c < ncat; c++)
        p[c] = 0;
    for (size_t i = 0; i < n; i++) {
        const float *row = logp + (size_t)idx[i] * ncat;
        for (size_t c = 0; c < ncat; c++)
            p[c] += row[c];
    }
    double mx = -INFINITY;
    for (size_t c = 0; c < ncat; c++) {
        p[c] = (n ? scale * p[c] / ((double)n + shrink) : 0) + logprior[c];
        if (p[c] > mx)
            mx = p[c];
    }
    double sum = 0;
    for (size_t c = 0; c < ncat; c++) {
        p[c] = exp(p[c] - mx);
        sum += p[c];
    }
    for (size_t c = 0; c < ncat; c++)
        p[c] /= sum;
}

void tnb_fit(const uint32_t *counts, size_t nfeat, size_t ncat, const uint32_t *docs, double alpha,
             float *logp, double *logprior)
{
    double ndocs = 0;
    for (size_t c = 0; c < ncat; c++)
        ndocs += docs[c];
    for (size_t c = 0; c < ncat; c++) {
        double total = 0;
        for (size_t f = 0; f < nfeat; f++)
            total += counts[f * ncat + c];
        double denom = log(total + alpha * (double)nfeat);
        for (size_t f = 0; f < nfeat; f++)
            logp[f * ncat + c] = (float)(log(counts[f * ncat + c] + alpha) - denom);
        logprior[c] = log((docs[c] + 1.0) / (ndocs + (double)ncat));
    }
}
