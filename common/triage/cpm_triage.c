/* cpm_triage: loading a model file and suggesting. See cpm_triage.h. */
#include "cpm_triage_int.h"

#include "cpm_text.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void cpm_triage_destroy(cpm_triage_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->cat);
    free((*p)->logprior);
    free((*p)->logp);
    tvocab_destroy(&(*p)->vocab);
    free(*p);
    *p = NULL;
}

const char *cpm_triage_id(const cpm_triage_t *m)
{
    return m->id;
}

size_t cpm_triage_ncategories(const cpm_triage_t *m)
{
    return m->ncat;
}

const char *cpm_triage_category(const cpm_triage_t *m, size_t i)
{
    return i < m->ncat ? m->cat[i] : "";
}

size_t cpm_triage_nfeatures(const cpm_triage_t *m)
{
    return tvocab_size(m->vocab);
}

/* An integer member of o in [lo, hi], else CPM_E_INVALID naming it. */
static int get_uint(const json_t *o, const char *key, uint64_t lo, uint64_t hi, uint64_t *out,
                    cpm_error_t *err)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < lo ||
        (uint64_t)json_integer_value(v) > hi)
        return cpm_error_set(err, CPM_E_INVALID, key,
                             "model file: %s must be an integer from %llu to %llu.", key,
                             (unsigned long long)lo, (unsigned long long)hi);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static bool id_valid(const char *s)
{
    size_t pl = strlen(CPM_TRIAGE_PREFIX);
    if (strncmp(s, CPM_TRIAGE_PREFIX, pl) != 0)
        return false;
    const char *slash = strchr(s + pl, '/');
    if (!slash || slash == s + pl || strlen(slash + 1) != 8)
        return false;
    for (const char *p = s + pl; p < slash; p++)
        if (*p < '0' || *p > '9')
            return false;
    return strspn(slash + 1, "0123456789abcdef") == 8;
}

static int parse_head(cpm_triage_t *m, const json_t *root, uint32_t **docs, cpm_error_t *err)
{
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!fmt || strcmp(fmt, CPM_TRIAGE_FORMAT) != 0)
        return cpm_error_set(err, CPM_E_INVALID, "format",
                             "model file: format must be \"" CPM_TRIAGE_FORMAT "\".");
    uint64_t u;
    int rc;
    if ((rc = get_uint(root, "version", CPM_TRIAGE_VERSION, CPM_TRIAGE_VERSION, &u, err)))
        return rc;
    const char *kind = json_string_value(json_object_get(root, "kind"));
    if (!kind || strcmp(kind, "multinomial_nb") != 0)
        return cpm_error_set(err, CPM_E_INVALID, "kind",
                             "model file: kind must be \"multinomial_nb\".");
    const char *id = json_string_value(json_object_get(root, "model_id"));
    if (!id || strlen(id) > CPM_TRIAGE_ID_MAX || !id_valid(id))
        return cpm_error_set(err, CPM_E_INVALID, "model_id",
                             "model file: model_id must be \"" CPM_TRIAGE_PREFIX
                             "<version>/<8 hex digits>\".");
    snprintf(m->id, sizeof m->id, "%s", id);
    if ((rc = get_uint(root, "alpha_milli", 1, 100000, &u, err)))
        return rc;
    m->alpha_milli = (uint32_t)u;
    if ((rc = get_uint(root, "scale_milli", 1, 1000000, &u, err)))
        return rc;
    m->scale_milli = (uint32_t)u;
    if ((rc = get_uint(root, "shrink", 0, 1000, &u, err)))
        return rc;
    m->shrink = (uint32_t)u;
    if ((rc = get_uint(root, "min_known", 0, 1000, &u, err)))
        return rc;
    m->min_known = (uint32_t)u;
    const json_t *b = json_object_get(root, "binary");
    if (!json_is_boolean(b))
        return cpm_error_set(err, CPM_E_INVALID, "binary", "model file: binary must be a boolean.");
    m->binary = json_is_true(b);
    const json_t *cats = json_object_get(root, "categories");
    size_t nc = json_array_size(cats);
    if (!json_is_array(cats) || nc < 2 || nc > CPM_TRIAGE_CATS_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "categories",
                             "model file: categories must be an array of 2 to %d.",
                             CPM_TRIAGE_CATS_MAX);
    m->ncat = nc;
    m->cat = calloc(nc, sizeof *m->cat);
    *docs = calloc(nc, sizeof **docs);
    if (!m->cat || !*docs)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    for (size_t c = 0; c < nc; c++) {
        const json_t *e = json_array_get(cats, c);
        const char *slug = json_string_value(json_object_get(e, "slug"));
        if (!slug || !cpm_text_slug_valid(slug))
            return cpm_error_set(err, CPM_E_INVALID, "categories",
                                 "model file: category %zu has no valid slug.", c);
        for (size_t k = 0; k < c; k++)
            if (!strcmp(m->cat[k], slug))
                return cpm_error_set(err, CPM_E_INVALID, "categories",
                                     "model file: category %s appears twice.", slug);
        snprintf(m->cat[c], sizeof m->cat[c], "%s", slug);
        if ((rc = get_uint(e, "docs", 0, CPM_TRIAGE_COUNT_MAX, &u, err)))
            return cpm_error_set(err, CPM_E_INVALID, "categories",
                                 "model file: category %s: docs must be a count.", slug);
        (*docs)[c] = (uint32_t)u;
    }
    return 0;
}

static int parse_features(cpm_triage_t *m, const json_t *root, uint32_t **counts, cpm_error_t *err)
{
    const json_t *fs = json_object_get(root, "features");
    size_t nf = json_array_size(fs);
    if (!json_is_array(fs) || nf > CPM_TRIAGE_FEATS_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "features",
                             "model file: features must be an array of at most %d.",
                             CPM_TRIAGE_FEATS_MAX);
    /* The counts and probabilities are dense (nf x ncat each, which keeps
     * suggest() a row lookup): bound them before allocating. */
    if (nf > CPM_TRIAGE_CELLS_MAX / m->ncat)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "features",
                             "model file: %zu features x %zu categories is over %d cells.", nf,
                             m->ncat, CPM_TRIAGE_CELLS_MAX);
    m->vocab = tvocab_new();
    *counts = calloc(nf ? nf * m->ncat : 1, sizeof **counts);
    if (!m->vocab || !*counts)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    for (size_t f = 0; f < nf; f++) {
        const json_t *e = json_array_get(fs, f);
        size_t n = json_array_size(e);
        const char *s = json_string_value(json_array_get(e, 0));
        if (!json_is_array(e) || !s || n < 3 || n % 2 != 1 || n > 1 + 2 * m->ncat ||
            strlen(s) >= CPM_TRIAGE_WHY_LEN || !*s || !cpm_text_utf8_valid(s, strlen(s)))
            return cpm_error_set(err, CPM_E_INVALID, "features",
                                 "model file: feature %zu must be [text, category, count, ...].",
                                 f);
        long k = tvocab_add(m->vocab, s);
        if (k < 0)
            return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
        if ((size_t)k != f)
            return cpm_error_set(err, CPM_E_INVALID, "features",
                                 "model file: feature %zu appears twice.", f);
        long last = -1;
        for (size_t i = 1; i < n; i += 2) {
            const json_t *ci = json_array_get(e, i), *cn = json_array_get(e, i + 1);
            if (!json_is_integer(ci) || !json_is_integer(cn) || json_integer_value(ci) <= last ||
                json_integer_value(ci) >= (json_int_t)m->ncat || json_integer_value(cn) < 1 ||
                json_integer_value(cn) > CPM_TRIAGE_COUNT_MAX)
                return cpm_error_set(err, CPM_E_INVALID, "features",
                                     "model file: feature %zu: categories must be increasing "
                                     "indices below %zu, counts from 1 to %u.",
                                     f, m->ncat, CPM_TRIAGE_COUNT_MAX);
            last = (long)json_integer_value(ci);
            (*counts)[f * m->ncat + (size_t)last] = (uint32_t)json_integer_value(cn);
        }
    }
    return 0;
}

cpm_triage_t *cpm_triage_parse(const char *buf, size_t len, cpm_error_t *err)
{
    if (len > CPM_TRIAGE_FILE_MAX) {
        cpm_error_set(err, CPM_E_TOO_LARGE, "model", "model file over %u bytes.",
                      CPM_TRIAGE_FILE_MAX);
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        cpm_error_set(err, CPM_E_INVALID, "model", "model file is not a JSON object (line %d: %s).",
                      je.line, root ? "not an object" : je.text);
        json_decref(root);
        return NULL;
    }
    cpm_triage_t *m = calloc(1, sizeof *m);
    uint32_t *docs = NULL, *counts = NULL;
    int rc = m ? parse_head(m, root, &docs, err)
               : cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    if (rc == 0)
        rc = parse_features(m, root, &counts, err);
    if (rc == 0) {
        size_t nf = tvocab_size(m->vocab);
        m->logp = malloc((nf ? nf : 1) * m->ncat * sizeof *m->logp);
        m->logprior = malloc(m->ncat * sizeof *m->logprior);
        if (!m->logp || !m->logprior)
            rc = cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
        else
            tnb_fit(counts, nf, m->ncat, docs, m->alpha_milli / 1000.0, m->logp, m->logprior);
    }
    free(docs);
    free(counts);
    json_decref(root);
    if (rc != 0)
        cpm_triage_destroy(&m);
    return m;
}

cpm_triage_t *cpm_triage_load(const char *path, cpm_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cpm_error_set(err, errno == ENOENT ? CPM_E_NOT_FOUND : CPM_E_INVALID, "triage_model",
                      "cannot open model file %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > CPM_TRIAGE_FILE_MAX) {
        fclose(f);
        cpm_error_set(err, CPM_E_TOO_LARGE, "triage_model",
                      "model file %s is not a regular file of at most %u bytes.", path,
                      CPM_TRIAGE_FILE_MAX);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n ? n : 1);
    size_t got = buf ? fread(buf, 1, n, f) : 0;
    fclose(f);
    if (!buf || got != n) {
        free(buf);
        cpm_error_set(err, CPM_E_INVALID, "triage_model", "cannot read model file %s.", path);
        return NULL;
    }
    cpm_triage_t *m = cpm_triage_parse(buf, n, err);
    free(buf);
    return m;
}

/* The features of the top category that weighed most against the
 * runner-up, strongest first, distinct. */
static void explain(const cpm_triage_t *m, const tdoc_t *d, size_t top, size_t second,
                    cpm_triage_suggestion_t *out)
{
    double best[CPM_TRIAGE_WHY_MAX];
    long which[CPM_TRIAGE_WHY_MAX];
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) {
        long k = d->idx[i];
        bool seen = false;
        for (size_t j = 0; j < n; j++)
            seen |= which[j] == k;
        if (seen)
            continue;
        const float *row = m->logp + (size_t)k * m->ncat;
        double w = (double)row[top] - (double)row[second];
        if (w <= 0)
            continue;
        size_t pos = n < CPM_TRIAGE_WHY_MAX ? n++ : CPM_TRIAGE_WHY_MAX;
        if (pos == CPM_TRIAGE_WHY_MAX) {
            if (w <= best[CPM_TRIAGE_WHY_MAX - 1])
                continue;
            pos = CPM_TRIAGE_WHY_MAX - 1;
        }
        while (pos > 0 && best[pos - 1] < w) {
            best[pos] = best[pos - 1];
            which[pos] = which[pos - 1];
            pos--;
        }
        best[pos] = w;
        which[pos] = k;
    }
    out->nwhy = n;
    for (size_t j = 0; j < n; j++)
        snprintf(out->why[j], sizeof out->why[j], "%s", tvocab_str(m->vocab, (size_t)which[j]));
}

int cpm_triage_suggest(const cpm_triage_t *m, const char *business, const char *product,
                       const char *description, cpm_triage_suggestion_t *out, cpm_error_t *err)
{
    memset(out, 0, sizeof *out);
    cpm_ttext_t *t = cpm_ttext_new();
    double *p = malloc(m->ncat * sizeof *p);
    tdoc_t d = {0};
    int rc = 0;
    if (!t || !p)
        rc = cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    if (rc == 0 && (rc = cpm_ttext_add(t, "business", business, err)) == 0 &&
        (rc = cpm_ttext_add(t, "product", product, err)) == 0)
        rc = cpm_ttext_add(t, "description", description, err);
    if (rc == 0 && tdoc_from_text(&d, m->vocab, t, m->binary) != 0)
        rc = cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    if (rc == 0) {
        tnb_posterior(m->logp, m->logprior, m->ncat, m->scale_milli / 1000.0, m->shrink, d.idx, d.n,
                      p);
        size_t top = 0, second = 1;
        for (size_t c = 1; c < m->ncat; c++)
            if (p[c] > p[top]) {
                second = top;
                top = c;
            } else if (second == top || p[c] > p[second]) {
                second = c;
            }
        snprintf(out->top, sizeof out->top, "%s", m->cat[top]);
        out->top_pm = (uint32_t)lround(p[top] * 1000);
        out->tokens = d.tokens;
        out->known = d.known;
        explain(m, &d, top, second, out);
        /* Unknown: too little the model knows, or mostly words it never saw. */
        if (d.known >= m->min_known && d.known > 0 && d.known * 2 >= d.tokens) {
            snprintf(out->category, sizeof out->category, "%s", m->cat[top]);
            out->pm = (uint32_t)lround(p[top] * 1000.0 * (double)d.known / (double)d.tokens);
        }
    }
    tdoc_free(&d);
    free(p);
    cpm_ttext_destroy(&t);
    return rc;
}
