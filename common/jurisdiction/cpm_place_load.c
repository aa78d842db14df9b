/* cpm_place_load: the reform data's CSV files into the tables and indexes of
 * cpm_place_int.h, every field and cross-reference checked, and the lookups
 * by code, slug and lineage. */
#include "cpm_place_csv.h"
#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

#define MAX_UNITS 1000
#define MAX_DISTRICTS 200
#define MAX_WARDS 5000

static int cmp_code(const void *a, const void *b)
{
    return strcmp(((const cpm_place_unit_t *)a)->code, ((const cpm_place_unit_t *)b)->code);
}

static cpm_place_unit_t *find_code(cpm_place_unit_t *t, size_t n, const char *code)
{
    cpm_place_unit_t k;
    cpm_str_copy(k.code, sizeof k.code, code);
    return bsearch(&k, t, n, sizeof *t, cmp_code);
}

/* ---- field checks: each names the file, the line and the column ---- */

static int check_code(place_csv_t *c, const char *col, const char *v, size_t digits,
                      cpm_error_t *err)
{
    size_t n = strlen(v);
    bool ok = n == digits;
    for (size_t i = 0; ok && i < n; i++)
        ok = v[i] >= '0' && v[i] <= '9';
    if (!ok)
        return cpm_error_set(err, CPM_E_INVALID, c->file, "line %d: %s '%.16s' is not %zu digits",
                             c->line, col, v, digits);
    return 0;
}

static int check_text(place_csv_t *c, const char *col, const char *v, size_t cap, bool empty_ok,
                      cpm_error_t *err)
{
    size_t n = strlen(v);
    if (n == 0 && !empty_ok)
        return cpm_error_set(err, CPM_E_INVALID, c->file, "line %d: %s is empty", c->line, col);
    if (n >= cap)
        return cpm_error_set(err, CPM_E_INVALID, c->file, "line %d: %s is over %zu bytes", c->line,
                             col, cap - 1);
    if (u8_check((const uint8_t *)v, n) != NULL)
        return cpm_error_set(err, CPM_E_INVALID, c->file, "line %d: %s is not UTF-8", c->line, col);
    return 0;
}

static int check_slug(place_csv_t *c, const char *v, cpm_error_t *err)
{
    size_t n = strlen(v);
    bool ok = n > 0 && n < CPM_PLACE_SLUG_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '-';
    if (!ok)
        return cpm_error_set(err, CPM_E_INVALID, c->file,
                             "line %d: slug '%.64s' is not lower-case letters, digits and '-'",
                             c->line, v);
    return 0;
}

static int check_one_of(place_csv_t *c, const char *col, const char *v, const char *const *set,
                        cpm_error_t *err)
{
    for (size_t i = 0; set[i]; i++)
        if (strcmp(v, set[i]) == 0)
            return 0;
    return cpm_error_set(err, CPM_E_INVALID, c->file, "line %d: %s '%.32s' is not a known value",
                         c->line, col, v);
}

/* Look up the named columns of the header into idx. */
static int columns(place_csv_t *c, const char *const *names, int *idx, cpm_error_t *err)
{
    for (size_t i = 0; names[i]; i++)
        if ((idx[i] = place_csv_col(c, names[i], err)) < 0)
            return -idx[i];
    return 0;
}

static int add_unit(place_csv_t *c, cpm_place_unit_t **t, size_t *n, size_t max,
                    const cpm_place_unit_t *u, cpm_error_t *err)
{
    if (*n == max)
        return cpm_error_set(err, CPM_E_TOO_LARGE, c->file, "line %d: more than %zu rows", c->line,
                             max);
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*t)[i].code, u->code) == 0)
            return cpm_error_set(err, CPM_E_INVALID, c->file, "line %d: code %s appears twice",
                                 c->line, u->code);
        if (u->kind != CPM_PLACE_KIND_OLD_WARD && strcmp((*t)[i].slug, u->slug) == 0)
            return cpm_error_set(err, CPM_E_INVALID, c->file, "line %d: slug %s appears twice",
                                 c->line, u->slug);
    }
    if (*n == 0 && !(*t = calloc(max, sizeof **t)))
        return cpm_error_set(err, CPM_E_INTERNAL, c->file, "out of memory");
    (*t)[(*n)++] = *u;
    return 0;
}

/* name, alt_name into the two name indexes (growing arrays). */
typedef struct {
    place_name_t *v;
    size_t n, cap;
} names_t;

static int name_push(names_t *ns, const char *key, cpm_place_kind_t kind, size_t idx)
{
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 1024;
        place_name_t *v = realloc(ns->v, cap * sizeof *v);
        if (!v)
            return -1;
        ns->v = v;
        ns->cap = cap;
    }
    if (!(ns->v[ns->n].key = strdup(key)))
        return -1;
    ns->v[ns->n].kind = (uint8_t)kind;
    ns->v[ns->n++].idx = (uint32_t)idx;
    return 0;
}

static int index_name(names_t *m, names_t *l, const char *file, const cpm_place_unit_t *u,
                      const char *name, size_t idx, cpm_error_t *err)
{
    char mk[CPM_PLACE_KEY_MAX], lk[CPM_PLACE_KEY_MAX];
    if (!name[0])
        return 0;
    if (place_name_keys(name, mk, sizeof mk, lk, sizeof lk) != 0)
        return cpm_error_set(err, CPM_E_INVALID, file, "code %s: the name '%.64s' has no letters",
                             u->code, name);
    if (name_push(m, mk, u->kind, idx) != 0 || name_push(l, lk, u->kind, idx) != 0)
        return cpm_error_set(err, CPM_E_INTERNAL, file, "out of memory");
    return 0;
}

/* Both names of every unit of a table (sorted already: the index points by
 * position). */
static int index_table(names_t *m, names_t *l, const char *file, const cpm_place_unit_t *t,
                       size_t n, cpm_error_t *err)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if ((rc = index_name(m, l, file, &t[i], t[i].name, i, err)) == 0)
            rc = index_name(m, l, file, &t[i], t[i].alt_name, i, err);
    return rc;
}

/* ---- the files ---- */

/* One row of communes.csv or districts-2024.csv (columns code, name,
 * full_name, type, slug, alt_name at ix[0..5]) checked and copied into u. */
static int unit_row(place_csv_t *c, const int ix[6], size_t code_len, const char *const *types,
                    cpm_place_unit_t *u, cpm_error_t *err)
{
    char **f = c->f;
    int rc;
    if ((rc = check_code(c, "code", f[ix[0]], code_len, err)) ||
        (rc = check_text(c, "name", f[ix[1]], sizeof u->name, false, err)) ||
        (rc = check_text(c, "full_name", f[ix[2]], sizeof u->full_name, false, err)) ||
        (rc = check_one_of(c, "type", f[ix[3]], types, err)) ||
        (rc = check_slug(c, f[ix[4]], err)) ||
        (rc = check_text(c, "alt_name", f[ix[5]], sizeof u->name, true, err)))
        return rc;
    snprintf(u->code, sizeof u->code, "%s", f[ix[0]]);
    snprintf(u->name, sizeof u->name, "%s", f[ix[1]]);
    snprintf(u->full_name, sizeof u->full_name, "%s", f[ix[2]]);
    snprintf(u->type, sizeof u->type, "%s", f[ix[3]]);
    snprintf(u->slug, sizeof u->slug, "%s", f[ix[4]]);
    snprintf(u->alt_name, sizeof u->alt_name, "%s", f[ix[5]]);
    return 0;
}

static int load_units(cpm_places_t *p, const char *dir, cpm_error_t *err)
{
    static const char *const cols[] = {"code", "name",     "full_name", "type",
                                       "slug", "alt_name", NULL};
    static const char *const types[] = {"ward", "commune", NULL};
    place_csv_t c;
    int ix[6], rc;
    if ((rc = place_csv_open(&c, dir, "communes.csv", err)) == 0)
        rc = columns(&c, cols, ix, err);
    while (rc == 0 && (rc = place_csv_row(&c, err)) == 1) {
        cpm_place_unit_t u = {.kind = CPM_PLACE_KIND_UNIT, .generation = CPM_PLACE_GEN_2025};
        if ((rc = unit_row(&c, ix, 5, types, &u, err)))
            break;
        if ((rc = add_unit(&c, &p->units, &p->nunits, MAX_UNITS, &u, err)))
            break;
    }
    if (rc < 0)
        rc = -rc;
    if (rc == 0 && p->nunits == 0)
        rc = cpm_error_set(err, CPM_E_INVALID, "communes.csv", "line 2: no units");
    place_csv_close(&c);
    return rc;
}

static int load_districts(cpm_places_t *p, const char *dir, cpm_error_t *err)
{
    static const char *const cols[] = {"code", "name",     "full_name", "type",
                                       "slug", "alt_name", NULL};
    static const char *const types[] = {"quận", "huyện", "thị xã", NULL};
    place_csv_t c;
    int ix[6], rc;
    if ((rc = place_csv_open(&c, dir, "districts-2024.csv", err)) == 0)
        rc = columns(&c, cols, ix, err);
    while (rc == 0 && (rc = place_csv_row(&c, err)) == 1) {
        cpm_place_unit_t u = {.kind = CPM_PLACE_KIND_OLD_DISTRICT,
                              .generation = CPM_PLACE_GEN_2024};
        if ((rc = unit_row(&c, ix, 3, types, &u, err)))
            break;
        if ((rc = add_unit(&c, &p->districts, &p->ndistricts, MAX_DISTRICTS, &u, err)))
            break;
    }
    if (rc < 0)
        rc = -rc;
    place_csv_close(&c);
    return rc;
}

static int load_wards(cpm_places_t *p, const char *dir, cpm_error_t *err)
{
    static const char *const cols[] = {"code", "name",       "full_name", "district_code",
                                       "type", "name_ascii", "alt_name",  NULL};
    static const char *const types[] = {"phường", "xã", "thị trấn", NULL};
    place_csv_t c;
    int ix[7], rc;
    if ((rc = place_csv_open(&c, dir, "wards-2024.csv", err)) == 0)
        rc = columns(&c, cols, ix, err);
    while (rc == 0 && (rc = place_csv_row(&c, err)) == 1) {
        cpm_place_unit_t u = {.kind = CPM_PLACE_KIND_OLD_WARD, .generation = CPM_PLACE_GEN_2024};
        char **f = c.f;
        if ((rc = check_code(&c, "code", f[ix[0]], 5, err)) ||
            (rc = check_text(&c, "name", f[ix[1]], sizeof u.name, false, err)) ||
            (rc = check_text(&c, "full_name", f[ix[2]], sizeof u.full_name, false, err)) ||
            (rc = check_code(&c, "district_code", f[ix[3]], 3, err)) ||
            (rc = check_one_of(&c, "type", f[ix[4]], types, err)) ||
            (rc = check_text(&c, "name_ascii", f[ix[5]], sizeof u.slug, false, err)) ||
            (rc = check_text(&c, "alt_name", f[ix[6]], sizeof u.name, true, err)))
            break;
        if (!find_code(p->districts, p->ndistricts, f[ix[3]])) {
            rc = cpm_error_set(err, CPM_E_INVALID, c.file, "line %d: district_code %s is unknown",
                               c.line, f[ix[3]]);
            break;
        }
        snprintf(u.code, sizeof u.code, "%s", f[ix[0]]);
        snprintf(u.name, sizeof u.name, "%s", f[ix[1]]);
        snprintf(u.full_name, sizeof u.full_name, "%s", f[ix[2]]);
        snprintf(u.district_code, sizeof u.district_code, "%s", f[ix[3]]);
        snprintf(u.type, sizeof u.type, "%s", f[ix[4]]);
        /* Old wards have no slug in the data; theirs is the ASCII name. */
        size_t k = 0;
        for (const char *s = f[ix[5]]; *s && k + 1 < sizeof u.slug; s++)
            u.slug[k++] = *s == ' ' ? '-' : (*s >= 'A' && *s <= 'Z') ? (char)(*s + 32) : *s;
        snprintf(u.alt_name, sizeof u.alt_name, "%s", f[ix[6]]);
        if ((rc = add_unit(&c, &p->wards, &p->nwards, MAX_WARDS, &u, err)))
            break;
    }
    if (rc < 0)
        rc = -rc;
    place_csv_close(&c);
    return rc;
}

static int cmp_link(const void *a, const void *b)
{
    const place_link_t *x = a, *y = b;
    if (x->old_idx != y->old_idx)
        return x->old_idx < y->old_idx ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* lineage.csv (wards) or district-to-communes.csv (districts). */
static int load_links(cpm_places_t *p, const char *dir, bool wards, cpm_error_t *err)
{
    static const char *const wcols[] = {"new_code", "old_ward_code", "whole_or_part", NULL};
    static const char *const dcols[] = {"new_code", "old_district_code", "whole_or_part", NULL};
    static const char *const wop[] = {"whole", "part", NULL};
    static const char *const dop[] = {"whole", "part", "mixed", NULL};
    place_csv_t c;
    int ix[3], rc;
    place_link_t *v = calloc(PLACE_MAX_ROWS, sizeof *v);
    size_t n = 0;
    cpm_place_unit_t *old = wards ? p->wards : p->districts;
    size_t nold = wards ? p->nwards : p->ndistricts;
    if (!v)
        return cpm_error_set(err, CPM_E_INTERNAL, "lineage", "out of memory");
    if ((rc = place_csv_open(&c, dir, wards ? "lineage.csv" : "district-to-communes.csv", err)) ==
        0)
        rc = columns(&c, wards ? wcols : dcols, ix, err);
    while (rc == 0 && (rc = place_csv_row(&c, err)) == 1) {
        char **f = c.f;
        if ((rc = check_code(&c, "new_code", f[ix[0]], 5, err)) ||
            (rc = check_code(&c, wards ? "old_ward_code" : "old_district_code", f[ix[1]],
                             wards ? 5 : 3, err)) ||
            (rc = check_one_of(&c, "whole_or_part", f[ix[2]], wards ? wop : dop, err)))
            break;
        cpm_place_unit_t *nu = find_code(p->units, p->nunits, f[ix[0]]);
        cpm_place_unit_t *ou = find_code(old, nold, f[ix[1]]);
        if (!nu || !ou) {
            rc = cpm_error_set(err, CPM_E_INVALID, c.file, "line %d: %s %s is unknown", c.line,
                               !nu     ? "new_code"
                               : wards ? "old_ward_code"
                                       : "old_district_code",
                               !nu ? f[ix[0]] : f[ix[1]]);
            break;
        }
        v[n++] = (place_link_t){.old_idx = (uint32_t)(ou - old),
                                .new_idx = (uint32_t)(nu - p->units),
                                .row = (uint32_t)c.line,
                                .whole = strcmp(f[ix[2]], "whole") == 0};
    }
    if (rc < 0)
        rc = -rc;
    place_csv_close(&c);
    if (rc != 0) {
        free(v);
        return rc;
    }
    qsort(v, n, sizeof *v, cmp_link);
    /* Every old unit has a fate, and a ward that went whole went to one unit. */
    for (size_t i = 0, j = 0; rc == 0 && i < nold; i++) {
        size_t k = j;
        while (k < n && v[k].old_idx == i)
            k++;
        if (k == j)
            rc = cpm_error_set(
                err, CPM_E_INVALID, wards ? "lineage.csv" : "district-to-communes.csv",
                "line %d: %s %s has no row", (int)n + 2, old[i].full_name, old[i].code);
        else if (wards && k - j > 1)
            for (size_t q = j; q < k && rc == 0; q++)
                if (v[q].whole)
                    rc = cpm_error_set(err, CPM_E_INVALID, "lineage.csv",
                                       "line %u: old ward %s is whole here but listed %zu times",
                                       v[q].row, old[i].code, k - j);
        j = k;
    }
    if (rc != 0) {
        free(v);
        return rc;
    }
    if (wards) {
        p->ward_links = v;
        p->nward_links = n;
    } else {
        p->district_links = v;
        p->ndistrict_links = n;
    }
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    const place_name_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sort and drop repeated (key, unit) pairs (a name and its alt_name share
 * their ASCII key). */
static void names_finish(names_t *ns, place_name_t **out, size_t *n)
{
    size_t k = 0;
    if (ns->n > 1) /* qsort of NULL is undefined even for 0 */
        qsort(ns->v, ns->n, sizeof *ns->v, cmp_name);
    for (size_t i = 0; i < ns->n; i++) {
        if (k > 0 && cmp_name(&ns->v[k - 1], &ns->v[i]) == 0) {
            free(ns->v[i].key);
            continue;
        }
        ns->v[k++] = ns->v[i];
    }
    *out = ns->v;
    *n = k;
}

int cpm_places_load(const char *dir, cpm_places_t **out, cpm_error_t *err)
{
    *out = NULL;
    cpm_places_t *p = calloc(1, sizeof *p);
    names_t m = {0}, l = {0};
    int rc;
    if (!p)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    if ((rc = load_units(p, dir, err)) == 0) {
        qsort(p->units, p->nunits, sizeof *p->units, cmp_code);
        rc = load_districts(p, dir, err);
    }
    if (rc == 0) {
        qsort(p->districts, p->ndistricts, sizeof *p->districts, cmp_code);
        rc = load_wards(p, dir, err);
    }
    if (rc == 0) {
        qsort(p->wards, p->nwards, sizeof *p->wards, cmp_code);
        if ((rc = index_table(&m, &l, "communes.csv", p->units, p->nunits, err)) == 0 &&
            (rc = index_table(&m, &l, "districts-2024.csv", p->districts, p->ndistricts, err)) == 0)
            rc = index_table(&m, &l, "wards-2024.csv", p->wards, p->nwards, err);
    }
    if (rc == 0)
        rc = load_links(p, dir, true, err);
    if (rc == 0)
        rc = load_links(p, dir, false, err);
    names_finish(&m, &p->match, &p->nmatch);
    names_finish(&l, &p->loose, &p->nloose);
    if (rc == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/boundaries.geojson", dir);
        rc = place_geo_load(p, path, err);
    }
    if (rc != 0) {
        cpm_places_destroy(&p);
        return rc;
    }
    *out = p;
    return 0;
}

void cpm_places_destroy(cpm_places_t **pp)
{
    if (!pp || !*pp)
        return;
    cpm_places_t *p = *pp;
    for (size_t i = 0; i < p->nmatch; i++)
        free(p->match[i].key);
    for (size_t i = 0; i < p->nloose; i++)
        free(p->loose[i].key);
    free(p->match);
    free(p->loose);
    free(p->units);
    free(p->wards);
    free(p->districts);
    free(p->ward_links);
    free(p->district_links);
    place_geo_free(p);
    free(p);
    *pp = NULL;
}

/* ---- lookups ---- */

size_t place_names_find(const place_name_t *index, size_t n, const char *key, size_t *first)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(index[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t k = lo;
    while (k < n && strcmp(index[k].key, key) == 0)
        k++;
    *first = lo;
    return k - lo;
}

size_t place_links(const cpm_places_t *p, cpm_place_kind_t kind, uint32_t idx,
                   const place_link_t **first)
{
    const place_link_t *v = kind == CPM_PLACE_KIND_OLD_WARD ? p->ward_links : p->district_links;
    size_t n = kind == CPM_PLACE_KIND_OLD_WARD ? p->nward_links : p->ndistrict_links;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].old_idx < idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t k = lo;
    while (k < n && v[k].old_idx == idx)
        k++;
    *first = v + lo;
    return k - lo;
}

static bool gen_is(const char *g, const char *want)
{
    return g && strcmp(g, want) == 0;
}

const cpm_place_unit_t *cpm_place_unit_by_code(const cpm_places_t *p, const char *generation,
                                               const char *code)
{
    if (!p || !code)
        return NULL;
    if (gen_is(generation, CPM_PLACE_GEN_2025))
        return find_code(p->units, p->nunits, code);
    if (!gen_is(generation, CPM_PLACE_GEN_2024))
        return NULL;
    return strlen(code) == 3 ? find_code(p->districts, p->ndistricts, code)
                             : find_code(p->wards, p->nwards, code);
}

const cpm_place_unit_t *cpm_place_unit_by_slug(const cpm_places_t *p, const char *generation,
                                               const char *slug)
{
    if (!p || !slug)
        return NULL;
    bool now = gen_is(generation, CPM_PLACE_GEN_2025);
    if (!now && !gen_is(generation, CPM_PLACE_GEN_2024))
        return NULL;
    const cpm_place_unit_t *t = now ? p->units : p->districts;
    size_t n = now ? p->nunits : p->ndistricts;
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].slug, slug) == 0)
            return &t[i];
    return NULL;
}

size_t cpm_place_successors(const cpm_places_t *p, const char *old_code,
                            const cpm_place_unit_t **out, size_t max, bool *whole)
{
    if (whole)
        *whole = false;
    const cpm_place_unit_t *u = cpm_place_unit_by_code(p, CPM_PLACE_GEN_2024, old_code);
    if (!u)
        return 0;
    const place_link_t *first;
    bool ward = u->kind == CPM_PLACE_KIND_OLD_WARD;
    size_t n = place_links(p, u->kind, (uint32_t)(u - (ward ? p->wards : p->districts)), &first);
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = &p->units[first[i].new_idx];
    if (whole)
        *whole = ward && n == 1 && first[0].whole;
    return n;
}

size_t cpm_place_count(const cpm_places_t *p, cpm_place_kind_t kind)
{
    if (!p)
        return 0;
    return kind == CPM_PLACE_KIND_UNIT       ? p->nunits
           : kind == CPM_PLACE_KIND_OLD_WARD ? p->nwards
                                             : p->ndistricts;
}
