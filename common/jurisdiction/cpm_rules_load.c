/* cpm_rules_load: reads the routing configuration with libyaml's document
 * parser, checks it whole (every error names the line and the field, and the
 * rule id once it is known) and turns it into the indexes of cpm_rules_int.h,
 * so that routing a complaint need not look at text again. */
#include "cpm_rules_int.h"

#include "cpm_util.h"

#include <sodium.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define RULES_FILE_MAX (1u << 20)
#define DEADLINE_MAX 365
#define AT_AREA "@area"

/* Parse state (ctx_t, cpm_rules_int.h): the document and where to write the first error. */

int cpm_rules_yfail(ctx_t *c, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n)
        snprintf(c->err, c->errlen, "%s:%lu: %s", c->path, (unsigned long)n->start_mark.line + 1,
                 msg);
    else
        snprintf(c->err, c->errlen, "%s: %s", c->path, msg);
    return -1;
}

yaml_node_t *cpm_rules_ynode(ctx_t *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

const char *cpm_rules_yscalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A non-empty scalar shorter than max bytes, or NULL after recording an error. */
static const char *get_string(ctx_t *c, const yaml_node_t *n, const char *field, size_t max)
{
    const char *s = cpm_rules_yscalar(n);
    if (!s) {
        cpm_rules_yfail(c, n, "%s must be a string", field);
        return NULL;
    }
    if (!*s || strlen(s) >= max) {
        cpm_rules_yfail(c, n, "%s must be 1 to %zu bytes", field, max - 1);
        return NULL;
    }
    return s;
}

static int get_int(ctx_t *c, const yaml_node_t *n, const char *field, long lo, long hi, long *out)
{
    const char *s = cpm_rules_yscalar(n);
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi)
        return cpm_rules_yfail(c, n, "%s must be a whole number from %ld to %ld", field, lo, hi);
    *out = v;
    return 0;
}

static bool is_slug(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return false;
    return true;
}

yaml_node_t *cpm_rules_yget(ctx_t *c, const yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = cpm_rules_yscalar(cpm_rules_ynode(c, p->key));
        if (k && !strcmp(k, key))
            return cpm_rules_ynode(c, p->value);
    }
    return NULL;
}

int cpm_rules_ycheck_keys(ctx_t *c, const yaml_node_t *map, const char *where,
                          const char *const *allowed)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return cpm_rules_yfail(c, map, "%s must be a mapping", where);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *kn = cpm_rules_ynode(c, p->key);
        const char *k = cpm_rules_yscalar(kn);
        size_t i = 0;
        while (k && allowed[i] && strcmp(allowed[i], k))
            i++;
        if (!k || !allowed[i])
            return cpm_rules_yfail(c, kn, "%s: unknown key \"%s\"", where, k ? k : "?");
    }
    return 0;
}

static int items(ctx_t *c, const yaml_node_t *seq, const char *field, yaml_node_item_t **start,
                 size_t *n)
{
    if (!seq || seq->type != YAML_SEQUENCE_NODE)
        return cpm_rules_yfail(c, seq, "%s must be a list", field);
    *start = seq->data.sequence.items.start;
    *n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    return 0;
}

/* areas or categories: a list of mappings with a unique slug; kept sorted. */
static int load_slugs(ctx_t *c, const yaml_node_t *seq, const char *field, const char *const *keys,
                      char ***out, size_t *nout)
{
    yaml_node_item_t *it = NULL;
    size_t n = 0;
    if (items(c, seq, field, &it, &n) < 0)
        return -1;
    if (n == 0)
        return cpm_rules_yfail(c, seq, "%s must not be empty", field);
    if (!(*out = calloc(n, sizeof **out)))
        return cpm_rules_yfail(c, seq, "out of memory");
    char where[64];
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *e = cpm_rules_ynode(c, it[i]);
        snprintf(where, sizeof where, "%s[%zu]", field, i);
        if (cpm_rules_ycheck_keys(c, e, where, keys) < 0)
            return -1;
        for (size_t k = 1; keys[k]; k++) { /* keys[0] is "slug"; the rest are text */
            const yaml_node_t *v = cpm_rules_yget(c, e, keys[k]);
            if (v && !cpm_rules_yscalar(v))
                return cpm_rules_yfail(c, v, "%s.%s must be a string", where, keys[k]);
        }
        const yaml_node_t *sn = cpm_rules_yget(c, e, "slug");
        const char *s = get_string(c, sn, "slug", SLUG_MAX + 1);
        if (!s)
            return cpm_rules_yfail(c, sn ? sn : e, "%s.slug is required: 1 to %d bytes", where,
                                   SLUG_MAX);
        if (!is_slug(s))
            return cpm_rules_yfail(c, sn, "%s.slug \"%s\" may hold only a-z, 0-9, '-' and '_'",
                                   where, s);
        if (!((*out)[i] = strdup(s)))
            return cpm_rules_yfail(c, sn, "out of memory");
        *nout = i + 1;
    }
    qsort(*out, n, sizeof **out, cpm_rules_cmp_slug);
    for (size_t i = 1; i < n; i++)
        if (!strcmp((*out)[i - 1], (*out)[i]))
            return cpm_rules_yfail(c, seq, "%s: slug \"%s\" is declared twice", field, (*out)[i]);
    return 0;
}

static int load_holidays(ctx_t *c, cpm_rules_t *r, const yaml_node_t *seq)
{
    yaml_node_item_t *it = NULL;
    size_t n = 0;
    if (!seq)
        return 0;
    if (items(c, seq, "holidays", &it, &n) < 0)
        return -1;
    if (n && !(r->holidays = calloc(n, sizeof *r->holidays)))
        return cpm_rules_yfail(c, seq, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *e = cpm_rules_ynode(c, it[i]);
        if (cpm_rules_parse_date(cpm_rules_yscalar(e), &r->holidays[i]) < 0)
            return cpm_rules_yfail(c, e, "holidays[%zu]: \"%s\" is not a date as YYYY-MM-DD", i,
                                   cpm_rules_yscalar(e) ? cpm_rules_yscalar(e) : "(not a string)");
    }
    r->nholidays = n;
    qsort(r->holidays, n, sizeof *r->holidays, cpm_rules_cmp_day);
    for (size_t i = 1; i < n; i++)
        if (r->holidays[i] == r->holidays[i - 1])
            return cpm_rules_yfail(c, seq, "holidays: a date is listed twice");
    return 0;
}

static int load_rule(ctx_t *c, cpm_rules_t *r, size_t i, const yaml_node_t *e)
{
    static const char *const keys[] = {"id", "category", "areas", "urgent", "agency", NULL};
    rule_t *ru = &r->rules[i];
    char where[160];
    snprintf(where, sizeof where, "rules[%zu]", i);
    if (cpm_rules_ycheck_keys(c, e, where, keys) < 0)
        return -1;
    const yaml_node_t *idn = cpm_rules_yget(c, e, "id");
    const char *id = cpm_rules_yscalar(idn);
    if (!id || !*id || strlen(id) >= sizeof ru->id)
        return cpm_rules_yfail(c, idn ? idn : e, "%s.id is required: 1 to %zu bytes", where,
                               sizeof ru->id - 1);
    snprintf(ru->id, sizeof ru->id, "%s", id);
    for (size_t k = 0; k < i; k++)
        if (!strcmp(r->rules[k].id, id))
            return cpm_rules_yfail(c, idn, "%s: rule id \"%s\" is used twice", where, id);
    snprintf(where, sizeof where, "rule %s", id); /* from here on, name the rule */

    const yaml_node_t *an = cpm_rules_yget(c, e, "agency");
    const char *ag = cpm_rules_yscalar(an);
    if (!ag || !*ag || strlen(ag) >= sizeof ru->agency)
        return cpm_rules_yfail(c, an ? an : e, "%s: agency is required: a member id or \"%s\"",
                               where, AT_AREA);
    ru->at_area = !strcmp(ag, AT_AREA);
    if (ag[0] == '@' && !ru->at_area)
        return cpm_rules_yfail(c, an, "%s: agency \"%s\" is unknown; the only '@' form is \"%s\"",
                               where, ag, AT_AREA);
    snprintf(ru->agency, sizeof ru->agency, "%s", ag);

    const yaml_node_t *cn = cpm_rules_yget(c, e, "category");
    const char *cat = cpm_rules_yscalar(cn);
    if (!cat || !*cat)
        return cpm_rules_yfail(c, cn ? cn : e,
                               "%s: category is required (a category slug or \"*\")", where);
    ru->category = strcmp(cat, "*") ? cpm_rules_find_slug(r->categories, r->ncategories, cat) : -1;
    if (strcmp(cat, "*") && ru->category < 0)
        return cpm_rules_yfail(c, cn, "%s: category \"%s\" is not a declared category", where, cat);

    ru->urgent = -1;
    const yaml_node_t *un = cpm_rules_yget(c, e, "urgent");
    if (un) {
        const char *u = cpm_rules_yscalar(un);
        if (!u || (strcmp(u, "true") && strcmp(u, "false")))
            return cpm_rules_yfail(c, un, "%s: urgent must be true or false", where);
        ru->urgent = !strcmp(u, "true");
    }

    const yaml_node_t *dn = cpm_rules_yget(c, e, "areas");
    if (dn) {
        yaml_node_item_t *it = NULL;
        size_t n = 0;
        if (items(c, dn, "areas", &it, &n) < 0)
            return cpm_rules_yfail(c, dn, "%s: areas must be a list of area slugs", where);
        if (n == 0)
            return cpm_rules_yfail(c, dn, "%s: areas must not be empty (leave it out to match any)",
                                   where);
        if (!(ru->dmap = calloc((r->nareas + 7) / 8, 1)))
            return cpm_rules_yfail(c, dn, "out of memory");
        for (size_t k = 0; k < n; k++) {
            const yaml_node_t *s = cpm_rules_ynode(c, it[k]);
            int d = cpm_rules_find_slug(r->areas, r->nareas, cpm_rules_yscalar(s));
            if (d < 0)
                return cpm_rules_yfail(c, s, "%s: area \"%s\" is not a declared area", where,
                                       cpm_rules_yscalar(s) ? cpm_rules_yscalar(s)
                                                            : "(not a string)");
            ru->dmap[d / 8] |= (uint8_t)(1u << (d % 8));
        }
    }
    return 0;
}

static int load_deadlines(ctx_t *c, cpm_rules_t *r, const yaml_node_t *n)
{
    static const char *const keys[] = {"accept_working_days", "resolve_working_days",
                                       "remind_days_before", NULL};
    long a, b;
    if (!n)
        return cpm_rules_yfail(c, NULL, "deadlines is required");
    if (cpm_rules_ycheck_keys(c, n, "deadlines", keys) < 0)
        return -1;
    const yaml_node_t *an = cpm_rules_yget(c, n, "accept_working_days");
    const yaml_node_t *rn = cpm_rules_yget(c, n, "resolve_working_days");
    if (!an || !rn)
        return cpm_rules_yfail(c, n,
                               "deadlines needs accept_working_days and resolve_working_days");
    if (get_int(c, an, "deadlines.accept_working_days", 1, DEADLINE_MAX, &a) < 0 ||
        get_int(c, rn, "deadlines.resolve_working_days", 1, DEADLINE_MAX, &b) < 0)
        return -1;
    r->accept_days = (int)a;
    r->resolve_days = (int)b;
    /* Reminders go out this many working days before each deadline; 0 = none. */
    const yaml_node_t *mn = cpm_rules_yget(c, n, "remind_days_before");
    long m = 2;
    if (mn && get_int(c, mn, "deadlines.remind_days_before", 0, DEADLINE_MAX, &m) < 0)
        return -1;
    r->remind_days = (int)m;
    return 0;
}

/* Per-category accept_days / resolve_days (absent = the deadlines block),
 * after the categories are loaded and sorted. */
static int load_category_deadlines(ctx_t *c, cpm_rules_t *r, const yaml_node_t *seq)
{
    yaml_node_item_t *it = seq->data.sequence.items.start;
    size_t n = r->ncategories;
    if (!(r->cat_accept = calloc(n, sizeof *r->cat_accept)) ||
        !(r->cat_resolve = calloc(n, sizeof *r->cat_resolve)))
        return cpm_rules_yfail(c, seq, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *e = cpm_rules_ynode(c, it[i]);
        int k =
            cpm_rules_find_slug(r->categories, n, cpm_rules_yscalar(cpm_rules_yget(c, e, "slug")));
        const yaml_node_t *an = cpm_rules_yget(c, e, "accept_days"),
                          *rn = cpm_rules_yget(c, e, "resolve_days");
        char field[96];
        long v;
        snprintf(field, sizeof field, "categories[%zu].accept_days", i);
        if (an && get_int(c, an, field, 1, DEADLINE_MAX, &v) < 0)
            return -1;
        r->cat_accept[k] = an ? (int)v : 0;
        snprintf(field, sizeof field, "categories[%zu].resolve_days", i);
        if (rn && get_int(c, rn, field, 1, DEADLINE_MAX, &v) < 0)
            return -1;
        r->cat_resolve[k] = rn ? (int)v : 0;
    }
    return 0;
}

static int load_doc(ctx_t *c, cpm_rules_t *r)
{
    static const char *const top[] = {
        "version", "effective_from", "triage", "area_office_prefix", "deadlines",  "holidays",
        "areas",   "categories",     "rules",  "generations",        "places_dir", "agencies",
        NULL};
    static const char *const dkeys[] = {"slug", "code", "name", NULL};
    static const char *const ckeys[] = {"slug",        "name_en",      "name_vi",
                                        "accept_days", "resolve_days", NULL};
    const yaml_node_t *root = yaml_document_get_root_node(c->doc);
    if (!root)
        return cpm_rules_yfail(c, NULL, "the file is empty");
    if (cpm_rules_ycheck_keys(c, root, "the top level", top) < 0)
        return -1;
    const char *req[] = {"version", "effective_from", "triage", "areas", "categories", "rules"};
    bool gens = cpm_rules_yget(c, root, "generations") != NULL; /* then areas come from them */
    for (size_t i = 0; i < sizeof req / sizeof *req; i++)
        if (!cpm_rules_yget(c, root, req[i]) && !(gens && !strcmp(req[i], "areas")))
            return cpm_rules_yfail(c, NULL, "%s is required", req[i]);

    long v;
    if (get_int(c, cpm_rules_yget(c, root, "version"), "version", 1, UINT32_MAX, &v) < 0)
        return -1;
    r->version = (uint32_t)v;
    const yaml_node_t *en = cpm_rules_yget(c, root, "effective_from");
    int32_t day;
    if (cpm_rules_parse_date(cpm_rules_yscalar(en), &day) < 0)
        return cpm_rules_yfail(c, en, "effective_from must be a date as YYYY-MM-DD");
    const char *s = get_string(c, cpm_rules_yget(c, root, "triage"), "triage", sizeof r->triage);
    if (!s)
        return -1;
    snprintf(r->triage, sizeof r->triage, "%s", s);
    r->prefix[0] = 0; /* no default: a mesh names its own members */
    const yaml_node_t *pn = cpm_rules_yget(c, root, "area_office_prefix");
    if (pn) {
        if (!(s = get_string(c, pn, "area_office_prefix", sizeof r->prefix)))
            return -1;
        snprintf(r->prefix, sizeof r->prefix, "%s", s);
    }
    if (load_deadlines(c, r, cpm_rules_yget(c, root, "deadlines")) < 0 ||
        load_holidays(c, r, cpm_rules_yget(c, root, "holidays")) < 0 ||
        (cpm_rules_yget(c, root, "areas") &&
         load_slugs(c, cpm_rules_yget(c, root, "areas"), "areas", dkeys, &r->areas, &r->nareas) <
             0) ||
        (gens && cpm_rules_gens_load(c, r, root) < 0) ||
        load_slugs(c, cpm_rules_yget(c, root, "categories"), "categories", ckeys, &r->categories,
                   &r->ncategories) < 0 ||
        load_category_deadlines(c, r, cpm_rules_yget(c, root, "categories")) < 0 ||
        (gens && cpm_rules_gens_deadlines(c, r, root) < 0))
        return -1;

    yaml_node_item_t *it = NULL;
    size_t n = 0;
    const yaml_node_t *rn = cpm_rules_yget(c, root, "rules");
    if (items(c, rn, "rules", &it, &n) < 0)
        return -1;
    if (n == 0)
        return cpm_rules_yfail(c, rn, "rules must not be empty");
    if (!(r->rules = calloc(n, sizeof *r->rules)))
        return cpm_rules_yfail(c, rn, "out of memory");
    r->nrules = n; /* zeroed, so destroy frees what was filled */
    for (size_t i = 0; i < n; i++)
        if (load_rule(c, r, i, cpm_rules_ynode(c, it[i])) < 0)
            return -1;
    return 0;
}

/* The load itself; its sentence goes into a plain buffer, *missing set when
 * the file is not there. */
static cpm_rules_t *rules_load(const char *path, char *err, size_t errlen, bool *missing)
{
    char dummy[1];
    ctx_t c = {path ? path : "(null)", NULL, err ? err : dummy, err ? errlen : sizeof dummy};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!path || cpm_read_file(path, RULES_FILE_MAX, &buf, &len) < 0) {
        *missing = !path || errno == ENOENT;
        cpm_rules_yfail(&c, NULL, "cannot read the file: %s", path ? strerror(errno) : "no path");
        return NULL;
    }
    cpm_rules_t *r = calloc(1, sizeof *r);
    yaml_parser_t parser;
    yaml_document_t doc;
    int loaded = 0, ok = 0;
    if (r && yaml_parser_initialize(&parser)) {
        yaml_parser_set_input_string(&parser, buf, len);
        loaded = yaml_parser_load(&parser, &doc);
        if (!loaded)
            snprintf(c.err, c.errlen, "%s:%lu: YAML syntax error: %s", c.path,
                     (unsigned long)parser.problem_mark.line + 1,
                     parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
    } else {
        cpm_rules_yfail(&c, NULL, "out of memory");
    }
    if (loaded) {
        c.doc = &doc;
        ok = load_doc(&c, r) == 0;
        yaml_document_delete(&doc);
        if (ok)
            crypto_generichash(r->digest, sizeof r->digest, buf, len, NULL, 0);
    }
    free(buf);
    if (!ok)
        cpm_rules_destroy(&r);
    return r;
}

int cpm_rules_load(const char *path, cpm_rules_t **out, cpm_error_t *err)
{
    char why[sizeof err->message] = "";
    bool missing = false;
    if ((*out = rules_load(path, why, sizeof why, &missing)) != NULL)
        return 0;
    return cpm_error_set(err, missing ? CPM_E_NOT_FOUND : CPM_E_INVALID, "rules", "%s", why);
}

void cpm_rules_destroy(cpm_rules_t **p)
{
    if (!p || !*p)
        return;
    cpm_rules_t *r = *p;
    for (size_t i = 0; i < r->nareas; i++)
        free(r->areas[i]);
    for (size_t i = 0; i < r->ncategories; i++)
        free(r->categories[i]);
    for (size_t i = 0; i < r->nrules; i++)
        free(r->rules[i].dmap);
    free(r->areas);
    free(r->categories);
    free(r->rules);
    free(r->holidays);
    free(r->cat_accept);
    free(r->cat_resolve);
    cpm_rules_gens_free(r);
    free(r);
    *p = NULL;
}
