/* monitor_targets: targets and activities (see monitor_targets.h). */
#include "monitor_targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TARGETS_MAX 64
#define FIELD_MAX 512

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

int mon_targets_record(const mon_targets_t *t, cpm_store_t *st, MDB_txn *txn, const char *agency,
                       const Cpm__ProgrammeActivity *a, const uint8_t *frame, size_t frame_len,
                       Cpm__ProgrammeRecordReply *reply, cpm_error_t *err)
{
    const target_t *x = find(t, a->target);
    if (!x)
        return cpm_error_set(err, CPM_E_INVALID, "target", "target is not one of targets.csv");
    unsigned year;
    if (!date_ok(a->date, &year))
        return cpm_error_set(err, CPM_E_INVALID, "date", "date is YYYY-MM-DD");
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

/* Activities of target id in year (standing: up to and including year). */
static uint64_t count(cpm_store_t *st, MDB_txn *txn, const target_t *x, uint32_t year,
                      const cpm_registry_t *reg, int *rc)
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
        unsigned y = (unsigned)atoi(key);
        char *id = strchr(key, '/'), *what = id ? strchr(id + 1, '/') : NULL;
        if (!what)
            continue;
        *what++ = 0;
        if (strcmp(id + 1, x->id) || y > year || (y != year && strcmp(x->period, "standing")))
            continue;
        if (!strcmp(x->id, "officials_trained") && reg && !cpm_registry_member(reg, what))
            continue; /* only officials the registry knows count towards 100% */
        n++;
    }
    mdb_cursor_close(cur);
    *rc = m == MDB_NOTFOUND ? 0 : cpm_store_err(m);
    return n;
}

static uint64_t officials(const cpm_registry_t *reg)
{
    const Cpm__Registry *d = reg ? cpm_registry_doc(reg) : NULL;
    uint64_t n = 0;
    for (size_t i = 0; d && i < d->n_members; i++) {
        const char *r = d->members[i]->role;
        n += !strcmp(r, "officer") || !strcmp(r, "inspector") || !strcmp(r, "coordinator") ||
             !strcmp(r, "operator");
    }
    return n;
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
        p->done = count(st, txn, x, year, reg, &rc);
        p->required =
            x->percent ? (!strcmp(x->id, "officials_trained") ? officials(reg) : 0) : x->need;
        p->met = p->required ? p->done >= p->required : false;
        char miss[300];
        if (p->met)
            snprintf(miss, sizeof miss, "%s", "");
        else if (p->required)
            snprintf(miss, sizeof miss, "%llu more needed",
                     (unsigned long long)(p->required - p->done));
        else
            snprintf(miss, sizeof miss,
                     "%llu recorded; the city's list of organisations is not configured",
                     (unsigned long long)p->done);
        if (!(p->id = strdup(x->id)) || !(p->period = strdup(x->period)) ||
            !(p->target = strdup(x->target)) || !(p->meaning = strdup(x->meaning)) ||
            !(p->missing = strdup(miss)))
            rc = CPM_E_INTERNAL;
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
