/* monitor_targets: targets and activities (see monitor_targets.h). */
#include "monitor_targets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TARGETS_MAX 64
#define FIELD_MAX 512
#define ROSTER_MAX 5000
#define NOT_YET_MAX 100 /* names listed as still missing */

typedef struct {
    char id[64], period[16], target[16], meaning[FIELD_MAX];
    bool percent;
    uint64_t need; /* ">=N" or "N" */
} target_t;

struct mon_targets {
    target_t t[TARGETS_MAX];
    size_t n;
};

/* One CSV field (quotes allowed) from *p into out; *p moves past the comma. */
static int field(const char **p, char *out, size_t n)
{
    const char *s = *p;
    size_t k = 0;
    if (*s == '"') {
        for (s++; *s && !(*s == '"' && s[1] != '"'); s++) {
            if (*s == '"')
                s++;
            if (k + 1 < n)
                out[k++] = *s;
        }
        if (*s != '"')
            return -1;
        s++;
    } else {
        for (; *s && *s != ',' && *s != '\n' && *s != '\r'; s++)
            if (k + 1 < n)
                out[k++] = *s;
    }
    out[k] = 0;
    if (*s == ',')
        s++;
    *p = s;
    return 0;
}

int mon_targets_load(const char *path, mon_targets_t **out, cpm_error_t *err)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "targets", "cannot open %s", path);
    mon_targets_t *t = calloc(1, sizeof *t);
    char line[2048];
    int no = 0, rc = 0;
    while (t && rc == 0 && fgets(line, sizeof line, f)) {
        if (++no == 1 || line[0] == '\n' || line[0] == '#')
            continue;
        if (t->n == TARGETS_MAX) {
            rc = cpm_error_set(err, CPM_E_INVALID, "targets", "%s: more than %d targets", path,
                               TARGETS_MAX);
            break;
        }
        target_t *x = &t->t[t->n];
        const char *p = line;
        if (field(&p, x->id, sizeof x->id) || field(&p, x->period, sizeof x->period) ||
            field(&p, x->target, sizeof x->target) || field(&p, x->meaning, sizeof x->meaning) ||
            !*x->id || (strcmp(x->period, "year") && strcmp(x->period, "standing"))) {
            rc = cpm_error_set(err, CPM_E_INVALID, "targets",
                               "%s line %d: want id,year|standing,target,meaning", path, no);
            break;
        }
        const char *v = x->target;
        if (!strcmp(v, "100%"))
            x->percent = true;
        else {
            char *end;
            x->need = strtoull(v[0] == '>' && v[1] == '=' ? v + 2 : v, &end, 10);
            if (*end || x->need == 0)
                rc = cpm_error_set(err, CPM_E_INVALID, "targets",
                                   "%s line %d: target is >=N, N or 100%%", path, no);
        }
        t->n++;
    }
    fclose(f);
    if (!t)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    if (rc != 0) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void mon_targets_destroy(mon_targets_t **p)
{
    if (p) {
        free(*p);
        *p = NULL;
    }
}

static const target_t *find(const mon_targets_t *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->t[i].id, id))
            return &t->t[i];
    return NULL;
}

static bool date_ok(const char *d, unsigned *year)
{
    unsigned y, m, dd;
    char tail;
    return strlen(d) == 10 && sscanf(d, "%4u-%2u-%2u%c", &y, &m, &dd, &tail) == 3 && y >= 2000 &&
           y <= 2100 && m >= 1 && m <= 12 && dd >= 1 && dd <= 31 && (*year = y, true);
}

static bool name_ok(const char *s)
{
    return *s && strlen(s) <= 200 && !strchr(s, '/');
}

/* A roster: "R/target/date" keeps the signed frame, "r/target/date" the
 * payload progress reads. */
static int record_roster(const target_t *x, cpm_store_t *st, MDB_txn *txn, bool city,
                         const Cpm__ProgrammeActivity *a, const uint8_t *frame, size_t frame_len,
                         Cpm__ProgrammeRecordReply *reply, cpm_error_t *err)
{
    if (!city)
        return cpm_error_set(err, CPM_E_FORBIDDEN, "roster",
                             "a roster is stated by the city's coordinators");
    if (!x->percent)
        return cpm_error_set(err, CPM_E_INVALID, "target",
                             "a roster is for a 100%% target (%s is %s)", x->id, x->target);
    if (a->n_roster > ROSTER_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "roster", "at most %d names", ROSTER_MAX);
    for (size_t i = 0; i < a->n_roster; i++)
        if (!name_ok(a->roster[i]))
            return cpm_error_set(err, CPM_E_INVALID, "roster",
                                 "roster name %zu: 1 to 200 bytes and no '/'", i + 1);
    if (a->roster_count > 10000000)
        return cpm_error_set(err, CPM_E_INVALID, "roster_count",
                             "roster_count is at most 10000000");
    char key[300];
    snprintf(key, sizeof key, "R/%s/%s", x->id, a->date);
    size_t len = cpm__programme_activity__get_packed_size(a);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return CPM_E_INTERNAL;
    cpm__programme_activity__pack(a, buf);
    int rc = cpm_store_put(st, txn, "mon_acts", key, strlen(key), frame, frame_len);
    key[0] = 'r';
    if (rc == 0)
        rc = cpm_store_put(st, txn, "mon_acts", key, strlen(key), buf, len);
    free(buf);
    if (rc != 0)
        return rc;
    snprintf(key, sizeof key, "roster/%s/%s", x->id, a->date);
    reply->key = strdup(key);
    reply->duplicate = false;
    return 0;
}

int mon_targets_record(const mon_targets_t *t, cpm_store_t *st, MDB_txn *txn, const char *agency,
                       bool city, const Cpm__ProgrammeActivity *a, const uint8_t *frame,
                       size_t frame_len, Cpm__ProgrammeRecordReply *reply, cpm_error_t *err)
{
    const target_t *x = find(t, a->target);
    if (!x)
        return cpm_error_set(err, CPM_E_INVALID, "target", "target is not one of targets.csv");
    unsigned year;
    if (!date_ok(a->date, &year))
        return cpm_error_set(err, CPM_E_INVALID, "date", "date is YYYY-MM-DD");
    if (a->roster_count || a->n_roster) {
        int rc = record_roster(x, st, txn, city, a, frame, frame_len, reply, err);
        if (rc == 0 && !(reply->agency = strdup(agency))) {
            mon_targets_reply_clear(reply);
            return CPM_E_INTERNAL;
        }
        return rc;
    }
    const char *what = a->title;
    if (!strcmp(x->id, "officials_trained")) {
        if (!*a->official)
            return cpm_error_set(err, CPM_E_INVALID, "official",
                                 "officials_trained records name the official trained");
        what = a->official;
    } else if (!strcmp(x->id, "orgs_in_awareness")) {
        if (!*a->org)
            return cpm_error_set(err, CPM_E_INVALID, "org",
                                 "orgs_in_awareness records name the organisation");
        what = a->org;
    } else if (!*a->title) {
        return cpm_error_set(err, CPM_E_INVALID, "title", "title is required");
    }
    if (strlen(what) > 200 || strchr(what, '/'))
        return cpm_error_set(err, CPM_E_INVALID,
                             *a->official ? "official"
                             : *a->org    ? "org"
                                          : "title",
                             "at most 200 bytes and no '/'");
    char key[300];
    snprintf(key, sizeof key, "%04u/%s/%s", year, x->id, what);
    const void *v;
    size_t vl;
    int rc = cpm_store_get(st, txn, "mon_acts", key, strlen(key), &v, &vl);
    bool dup = rc == 0;
    if (rc != 0 && rc != CPM_E_NOT_FOUND)
        return rc;
    if (!dup && (rc = cpm_store_put(st, txn, "mon_acts", key, strlen(key), frame, frame_len)) != 0)
        return rc;
    reply->key = strdup(key);
    reply->agency = strdup(agency);
    reply->duplicate = dup;
    if (!reply->key || !reply->agency) {
        mon_targets_reply_clear(reply);
        return CPM_E_INTERNAL;
    }
    return 0;
}

void mon_targets_reply_clear(Cpm__ProgrammeRecordReply *r)
{
    free(r->key);
    free(r->agency);
    r->key = r->agency = NULL;
}

typedef struct {
    char **v;
    size_t n, cap;
} names_t;

static int names_add(names_t *ns, const char *s)
{
    if (ns->n == ns->cap) {
        size_t c = ns->cap ? ns->cap * 2 : 64;
        char **x = realloc(ns->v, c * sizeof *x);
        if (!x)
            return -1;
        ns->v = x, ns->cap = c;
    }
    return (ns->v[ns->n] = strdup(s)) ? (ns->n++, 0) : -1;
}

static void names_free(names_t *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
    memset(ns, 0, sizeof *ns);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool names_has(const names_t *sorted, const char *s)
{
    return sorted->n && bsearch(&s, sorted->v, sorted->n, sizeof *sorted->v, cmp_str);
}

static bool official_role(const char *r)
{
    return !strcmp(r, "officer") || !strcmp(r, "inspector") || !strcmp(r, "coordinator") ||
           !strcmp(r, "operator");
}

/* The activities of target x in year (standing: up to and including year):
 * how many, and (what not NULL) what each names, sorted. */
static uint64_t count(cpm_store_t *st, MDB_txn *txn, const target_t *x, uint32_t year,
                      names_t *what_out, int *rc)
{
    MDB_cursor *cur;
    if ((*rc = mdb_cursor_open(txn, cpm_store_dbi(st, "mon_acts"), &cur)) != 0) {
        *rc = cpm_store_err(*rc);
        return 0;
    }
    uint64_t n = 0;
    MDB_val k, v;
    int m;
    for (m = mdb_cursor_get(cur, &k, &v, MDB_FIRST); m == 0;
         m = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char key[300];
        if (k.mv_size >= sizeof key)
            continue;
        memcpy(key, k.mv_data, k.mv_size);
        key[k.mv_size] = 0;
        if (key[0] < '0' || key[0] > '9')
            continue; /* a roster (R/, r/) */
        unsigned y = (unsigned)atoi(key);
        char *id = strchr(key, '/'), *what = id ? strchr(id + 1, '/') : NULL;
        if (!what)
            continue;
        *what++ = 0;
        if (strcmp(id + 1, x->id) || y > year || (y != year && strcmp(x->period, "standing")))
            continue;
        n++;
        if (what_out && names_add(what_out, what) != 0) {
            m = ENOMEM;
            break;
        }
    }
    mdb_cursor_close(cur);
    *rc = m == MDB_NOTFOUND ? 0 : m == ENOMEM ? CPM_E_INTERNAL : cpm_store_err(m);
    if (what_out && what_out->n)
        qsort(what_out->v, what_out->n, sizeof *what_out->v, cmp_str);
    return n;
}

/* The latest roster of target id dated in or before year (NULL: none). */
static Cpm__ProgrammeActivity *roster_of(cpm_store_t *st, MDB_txn *txn, const char *id,
                                         uint32_t year, int *rc)
{
    char pre[128], last[160];
    int pl = snprintf(pre, sizeof pre, "r/%s/", id);
    snprintf(last, sizeof last, "r/%s/%04u-12-31", id, (unsigned)year);
    MDB_cursor *cur;
    if ((*rc = mdb_cursor_open(txn, cpm_store_dbi(st, "mon_acts"), &cur)) != 0) {
        *rc = cpm_store_err(*rc);
        return NULL;
    }
    MDB_val k = {(size_t)pl, pre}, v, best = {0, NULL};
    int m;
    for (m = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); m == 0;
         m = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < (size_t)pl || memcmp(k.mv_data, pre, (size_t)pl))
            break;
        size_t n = k.mv_size < strlen(last) ? k.mv_size : strlen(last);
        int c = memcmp(k.mv_data, last, n);
        if (c > 0 || (c == 0 && k.mv_size > strlen(last)))
            break; /* dated after the year */
        best = v;
    }
    Cpm__ProgrammeActivity *a =
        best.mv_data ? cpm__programme_activity__unpack(NULL, best.mv_size, best.mv_data) : NULL;
    mdb_cursor_close(cur);
    *rc = (m == 0 || m == MDB_NOTFOUND) ? (best.mv_data && !a ? CPM_E_BAD_MESSAGE : 0)
                                        : cpm_store_err(m);
    return a;
}

/* Progress of a 100% target: against the latest roster, else (officials)
 * the registry's officials; who is still missing when their names are
 * known. */
static int percent(cpm_store_t *st, MDB_txn *txn, const cpm_registry_t *reg, const target_t *x,
                   uint32_t year, Cpm__TargetProgress *p, names_t *not_yet, char *denom, size_t dn)
{
    names_t trained = {0};
    int rc = 0;
    uint64_t all = count(st, txn, x, year, &trained, &rc);
    Cpm__ProgrammeActivity *r = rc == 0 ? roster_of(st, txn, x->id, year, &rc) : NULL;
    if (rc == 0 && r) {
        p->required = r->roster_count > r->n_roster ? r->roster_count : r->n_roster;
        p->done = r->n_roster ? 0 : all;
        for (size_t i = 0; i < r->n_roster && rc == 0; i++) {
            if (names_has(&trained, r->roster[i]))
                p->done++;
            else if (not_yet->n < NOT_YET_MAX && names_add(not_yet, r->roster[i]) != 0)
                rc = CPM_E_INTERNAL;
        }
        snprintf(denom, dn, "roster as of %s: %llu%s", r->date, (unsigned long long)p->required,
                 r->n_roster ? " named" : "");
    } else if (rc == 0 && !strcmp(x->id, "officials_trained") && reg) {
        const Cpm__Registry *d = cpm_registry_doc(reg);
        for (size_t i = 0; d && i < d->n_members && rc == 0; i++) {
            if (!official_role(d->members[i]->role))
                continue;
            p->required++;
            if (names_has(&trained, d->members[i]->id))
                p->done++;
            else if (not_yet->n < NOT_YET_MAX && names_add(not_yet, d->members[i]->id) != 0)
                rc = CPM_E_INTERNAL;
        }
        snprintf(denom, dn, "%s",
                 "the registry's officials (roles officer, inspector, coordinator, operator)");
    } else {
        p->done = all;
    }
    if (r)
        cpm__programme_activity__free_unpacked(r, NULL);
    names_free(&trained);
    return rc;
}

int mon_targets_progress(const mon_targets_t *t, cpm_store_t *st, MDB_txn *txn,
                         const cpm_registry_t *reg, uint32_t year,
                         Cpm__ProgrammeProgressReply **out, cpm_error_t *err)
{
    *out = NULL;
    if (year < 2000 || year > 2100)
        return cpm_error_set(err, CPM_E_INVALID, "year", "year is 2000-2100");
    Cpm__ProgrammeProgressReply *r = calloc(1, sizeof *r);
    if (!r)
        return CPM_E_INTERNAL;
    cpm__programme_progress_reply__init(r);
    if (!(r->targets = calloc(t->n ? t->n : 1, sizeof *r->targets))) {
        free(r);
        return CPM_E_INTERNAL;
    }
    r->year = year;
    int rc = 0;
    for (size_t i = 0; i < t->n && rc == 0; i++) {
        const target_t *x = &t->t[i];
        Cpm__TargetProgress *p = calloc(1, sizeof *p);
        if (!p) {
            rc = CPM_E_INTERNAL;
            break;
        }
        cpm__target_progress__init(p);
        r->targets[r->n_targets++] = p;
        names_t not_yet = {0};
        char denom[200] = "", miss[600];
        if (x->percent)
            rc = percent(st, txn, reg, x, year, p, &not_yet, denom, sizeof denom);
        else
            p->done = count(st, txn, x, year, NULL, &rc), p->required = x->need;
        p->met = p->required ? p->done >= p->required : false;
        int w = 0;
        if (p->met)
            miss[0] = 0;
        else if (p->required)
            w = snprintf(miss, sizeof miss, "%llu more needed",
                         (unsigned long long)(p->required - p->done));
        else
            snprintf(miss, sizeof miss,
                     "%llu recorded; how many there are is not known: a city coordinator "
                     "states it with cpmctl programme roster --target %s --count N",
                     (unsigned long long)p->done, x->id);
        /* The first few who are still missing, by name. */
        for (size_t j = 0; j < not_yet.n && j < 5 && w > 0 && (size_t)w < sizeof miss; j++)
            w += snprintf(miss + w, sizeof miss - (size_t)w, "%s%s", j ? ", " : ": ", not_yet.v[j]);
        if (not_yet.n > 5 && w > 0 && (size_t)w < sizeof miss)
            snprintf(miss + w, sizeof miss - (size_t)w, ", ...");
        if (!(p->id = strdup(x->id)) || !(p->period = strdup(x->period)) ||
            !(p->target = strdup(x->target)) || !(p->meaning = strdup(x->meaning)) ||
            !(p->missing = strdup(miss)) || !(p->denominator = strdup(denom)))
            rc = CPM_E_INTERNAL;
        if (rc == 0 && not_yet.n) { /* handed over to the reply */
            p->not_yet = not_yet.v, p->n_not_yet = not_yet.n;
            memset(&not_yet, 0, sizeof not_yet);
        }
        names_free(&not_yet);
    }
    if (rc != 0) {
        mon_targets_progress_free(&r);
        return rc < 0 ? CPM_E_INTERNAL : rc;
    }
    *out = r;
    return 0;
}

void mon_targets_progress_free(Cpm__ProgrammeProgressReply **p)
{
    if (!p || !*p)
        return;
    cpm__programme_progress_reply__free_unpacked(*p, NULL);
    *p = NULL;
}
