/* cpm_place_resolve: the resolution order of cpm_place.h, over the tables
 * and keys of the other cpm_place files. */
#include "cpm_place_int.h"
#include "cpm_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistr.h>

#define MAX_HITS 16
#define MAX_PARTS 16
#define MAX_CTX 4

typedef struct {
    const cpm_places_t *p;
    cpm_placement_t *out;
    uint32_t ctx[MAX_CTX]; /* districts named in other parts of an address */
    size_t nctx;
} rs_t;

const char *cpm_place_method_name(cpm_place_method_t m)
{
    switch (m) {
    case CPM_PLACE_POINT:
        return "point";
    case CPM_PLACE_NAME:
        return "name";
    case CPM_PLACE_LINEAGE:
        return "lineage";
    case CPM_PLACE_TRIAGE:
        return "triage";
    default:
        return "unknown";
    }
}

static const cpm_place_unit_t *table(const cpm_places_t *p, cpm_place_kind_t kind)
{
    return kind == CPM_PLACE_KIND_UNIT       ? p->units
           : kind == CPM_PLACE_KIND_OLD_WARD ? p->wards
                                             : p->districts;
}

/* The units of one kind whose name has the key of words [a, b): by the
 * match key, else by the ASCII key. */
static size_t find(const cpm_places_t *p, const place_words_t *w, size_t a, size_t b,
                   cpm_place_kind_t kind, uint32_t *hits)
{
    char key[CPM_PLACE_KEY_MAX];
    size_t n = 0, first, k;
    for (int loose = 0; loose < 2 && n == 0; loose++) {
        const place_name_t *ix = loose ? p->loose : p->match;
        if ((loose ? place_key_loose : place_key_match)(w, a, b, key, sizeof key) != 0)
            return 0;
        k = place_names_find(ix, loose ? p->nloose : p->nmatch, key, &first);
        for (size_t i = first; i < first + k && n < MAX_HITS; i++)
            if (ix[i].kind == kind)
                hits[n++] = ix[i].idx;
    }
    return n;
}

/* Keep the hits whose type is want; when none is, keep them all. */
static size_t filter_type(const cpm_place_unit_t *t, uint32_t *hits, size_t n, const char *want)
{
    size_t k = 0;
    if (!want)
        return n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[hits[i]].type, want) == 0)
            hits[k++] = hits[i];
    return k ? k : n;
}

static void set_unit(cpm_placement_t *o, const cpm_place_unit_t *u)
{
    cpm_str_copy(o->generation, sizeof o->generation, u->generation);
    cpm_str_copy(o->code, sizeof o->code, u->code);
    cpm_str_copy(o->slug, sizeof o->slug, u->slug);
    cpm_str_copy(o->name, sizeof o->name, u->full_name);
}

static void add_candidate(cpm_placement_t *o, const cpm_place_unit_t *u)
{
    for (size_t i = 0; i < o->n_candidates; i++)
        if (strcmp(o->candidates[i].code, u->code) == 0)
            return;
    o->n_candidates_total++;
    if (o->n_candidates == CPM_PLACE_MAX_CANDIDATES)
        return;
    cpm_place_ref_t *r = &o->candidates[o->n_candidates++];
    cpm_str_copy(r->generation, sizeof r->generation, u->generation);
    cpm_str_copy(r->code, sizeof r->code, u->code);
    cpm_str_copy(r->slug, sizeof r->slug, u->slug);
    cpm_str_copy(r->name, sizeof r->name, u->full_name);
}

/* The old units the text named (cpm_placement_t.named). */
static void named(cpm_placement_t *o, const cpm_place_unit_t *t, cpm_place_kind_t kind,
                  const uint32_t *hits, size_t n)
{
    o->named_kind = kind;
    for (o->n_named = 0; o->n_named < n && o->n_named < CPM_PLACE_MAX_CANDIDATES; o->n_named++)
        cpm_str_copy(o->named[o->n_named], sizeof o->named[0], t[hits[o->n_named]].code);
}

/* Every unit that took part of an old ward or district. */
static void add_successors(rs_t *rs, cpm_place_kind_t kind, uint32_t idx)
{
    const place_link_t *l;
    size_t n = place_links(rs->p, kind, idx, &l);
    for (size_t i = 0; i < n; i++)
        add_candidate(rs->out, &rs->p->units[l[i].new_idx]);
}

static cpm_place_method_t old_wards(rs_t *rs, uint32_t *hits, size_t n, place_tw_t tw)
{
    const cpm_places_t *p = rs->p;
    cpm_placement_t *o = rs->out;
    n = filter_type(p->wards, hits, n,
                    tw == TW_PHUONG    ? "phường"
                    : tw == TW_XA      ? "xã"
                    : tw == TW_THITRAN ? "thị trấn"
                                       : NULL);
    /* A district named elsewhere in the address tells same-named wards apart. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < rs->nctx; c++)
            if (strcmp(p->wards[hits[i]].district_code, p->districts[rs->ctx[c]].code) == 0) {
                hits[k++] = hits[i];
                break;
            }
    if (k)
        n = k;
    named(o, p->wards, CPM_PLACE_KIND_OLD_WARD, hits, n);
    const cpm_place_unit_t *w = &p->wards[hits[0]];
    const place_link_t *l;
    if (n == 1 && place_links(p, CPM_PLACE_KIND_OLD_WARD, hits[0], &l) == 1 && l[0].whole) {
        const cpm_place_unit_t *u = &p->units[l[0].new_idx];
        set_unit(o, u);
        snprintf(o->note, sizeof o->note, "old ward %s (%s) went whole into %s", w->full_name,
                 w->district_code, u->full_name);
        return CPM_PLACE_LINEAGE;
    }
    for (size_t i = 0; i < n; i++)
        add_successors(rs, CPM_PLACE_KIND_OLD_WARD, hits[i]);
    if (n == 1)
        snprintf(o->note, sizeof o->note, "old ward %s (district %s) was split among %zu units",
                 w->full_name, w->district_code, o->n_candidates_total);
    else
        snprintf(o->note, sizeof o->note, "%zu old wards are named %s; their %zu units", n, w->name,
                 o->n_candidates_total);
    return CPM_PLACE_TRIAGE;
}

static cpm_place_method_t old_districts(rs_t *rs, uint32_t *hits, size_t n, place_tw_t tw)
{
    const cpm_places_t *p = rs->p;
    n = filter_type(p->districts, hits, n,
                    tw == TW_QUAN    ? "quận"
                    : tw == TW_HUYEN ? "huyện"
                    : tw == TW_THIXA ? "thị xã"
                                     : NULL);
    named(rs->out, p->districts, CPM_PLACE_KIND_OLD_DISTRICT, hits, n);
    for (size_t i = 0; i < n; i++)
        add_successors(rs, CPM_PLACE_KIND_OLD_DISTRICT, hits[i]);
    snprintf(rs->out->note, sizeof rs->out->note,
             "%s was a district until 2025-06-30; its wards went to %zu units",
             p->districts[hits[0]].full_name, rs->out->n_candidates_total);
    return CPM_PLACE_TRIAGE;
}

/* Words [a, b) are a name, after the type word tw (TW_NONE: none). */
static cpm_place_method_t by_name(rs_t *rs, const place_words_t *w, size_t a, size_t b,
                                  place_tw_t tw)
{
    const cpm_places_t *p = rs->p;
    cpm_placement_t *o = rs->out;
    uint32_t uh[MAX_HITS], wh[MAX_HITS], dh[MAX_HITS];
    if (a >= b)
        return CPM_PLACE_UNKNOWN;
    bool district_word = tw == TW_QUAN || tw == TW_HUYEN || tw == TW_THIXA;
    bool unit_word = tw == TW_PHUONG || tw == TW_XA || tw == TW_THITRAN;
    size_t nu = district_word ? 0 : find(p, w, a, b, CPM_PLACE_KIND_UNIT, uh);
    size_t nd = find(p, w, a, b, CPM_PLACE_KIND_OLD_DISTRICT, dh);
    size_t nw = district_word ? 0 : find(p, w, a, b, CPM_PLACE_KIND_OLD_WARD, wh);
    place_key_display(w, a, b, o->key, sizeof o->key);
    place_key_loose(w, a, b, o->loose, sizeof o->loose);
    if (district_word)
        return nd ? old_districts(rs, dh, nd, tw) : CPM_PLACE_UNKNOWN;
    /* A type word that the current unit does not have ("thị trấn", or "xã"
     * before a phường) points to an old ward first. */
    const char *want = tw == TW_PHUONG ? "ward" : tw == TW_XA ? "commune" : NULL;
    size_t typed = 0;
    for (size_t i = 0; i < nu; i++)
        if (want && strcmp(p->units[uh[i]].type, want) == 0)
            uh[typed++] = uh[i];
    if (unit_word && typed == 0 && nw > 0)
        return old_wards(rs, wh, nw, tw);
    if (unit_word && typed > 0)
        nu = typed;
    if (nu > 0) {
        if (nu == 1 && (unit_word || nd == 0)) {
            set_unit(o, &p->units[uh[0]]);
            /* Old wards of the same name were the units of that name in
             * 2024 (cpm_place_in_generation). */
            if (nw)
                named(o, p->wards, CPM_PLACE_KIND_OLD_WARD, wh,
                      filter_type(p->wards, wh, nw,
                                  tw == TW_PHUONG ? "phường"
                                  : tw == TW_XA   ? "xã"
                                                  : NULL));
            snprintf(o->note, sizeof o->note, "the name of %s (since 2025-07-01)",
                     p->units[uh[0]].full_name);
            return CPM_PLACE_NAME;
        }
        for (size_t i = 0; i < nu; i++)
            add_candidate(o, &p->units[uh[i]]);
        named(o, p->districts, CPM_PLACE_KIND_OLD_DISTRICT, dh, nd);
        for (size_t i = 0; i < nd; i++)
            add_successors(rs, CPM_PLACE_KIND_OLD_DISTRICT, dh[i]);
        if (nd)
            snprintf(o->note, sizeof o->note,
                     "without phường or xã, %.60s is both %s and the former %s", o->key,
                     p->units[uh[0]].full_name, p->districts[dh[0]].full_name);
        else
            snprintf(o->note, sizeof o->note, "%zu units are written %s", nu, o->loose);
        return CPM_PLACE_TRIAGE;
    }
    if (nw > 0)
        return old_wards(rs, wh, nw, tw);
    if (nd > 0 && !unit_word)
        return old_districts(rs, dh, nd, tw);
    return CPM_PLACE_UNKNOWN;
}

static bool city_word(place_tw_t tw)
{
    return tw == TW_CITY || tw == TW_HANOI || tw == TW_COUNTRY;
}

/* Drop the city and the country around a part: *a and *b move inwards. */
static void strip_city(const place_words_t *w, size_t *a, size_t *b)
{
    size_t len;
    bool weak;
    place_tw_t tw;
    while (*a < *b && city_word(tw = place_type_word(w, *a, &len, &weak)))
        *a += len;
    for (bool again = true; again && *a < *b;) {
        again = false;
        for (size_t back = 1; back <= 2 && back <= *b - *a; back++) {
            tw = place_type_word(w, *b - back, &len, &weak);
            if (city_word(tw) && len == back) {
                *b -= back;
                again = true;
                break;
            }
        }
    }
}

/* One part of the text (no comma). */
static cpm_place_method_t by_part(rs_t *rs, const place_words_t *w)
{
    size_t a = 0, b = w->n, len;
    bool weak;
    strip_city(w, &a, &b);
    if (a >= b)
        return CPM_PLACE_UNKNOWN;
    place_tw_t tw = place_type_word(w, a, &len, &weak);
    if (tw == TW_NONE)
        return by_name(rs, w, a, b, TW_NONE);
    if (weak) { /* "phuong liet" is a name; "phuong hoan kiem" a type word and one */
        cpm_place_method_t m = by_name(rs, w, a, b, TW_NONE);
        if (m != CPM_PLACE_UNKNOWN)
            return m;
    }
    return by_name(rs, w, a + len, b, tw);
}

/* A part that says nothing about the unit: a house number and street. */
static bool street_part(const place_words_t *w)
{
    for (size_t i = 0; i < w->n && i < 2; i++)
        if (w->l[w->w[i].l_off] >= '0' && w->l[w->w[i].l_off] <= '9')
            return true;
    return false;
}

/* The old district a part names, as an address's context: with a district
 * type word, or bare when it is not the first part. -1 when it names none. */
static long context_district(const cpm_places_t *p, const place_words_t *w, bool first)
{
    size_t a = 0, b = w->n, len;
    bool weak;
    uint32_t dh[MAX_HITS];
    strip_city(w, &a, &b);
    if (a >= b)
        return -1;
    place_tw_t tw = place_type_word(w, a, &len, &weak);
    bool district_word = tw == TW_QUAN || tw == TW_HUYEN || tw == TW_THIXA;
    if (district_word && find(p, w, a + len, b, CPM_PLACE_KIND_OLD_DISTRICT, dh) > 0)
        return dh[0];
    if (!first && tw == TW_NONE && find(p, w, a, b, CPM_PLACE_KIND_OLD_DISTRICT, dh) > 0)
        return dh[0];
    return -1;
}

/* "2025:hoan-kiem", "2025:00070", "2024:002": a unit named by its code. */
static bool by_reference(rs_t *rs, const char *text, cpm_place_method_t *m)
{
    char gen[8], ref[CPM_PLACE_SLUG_MAX];
    size_t n = strlen(text);
    if (n < 6 || n >= 5 + sizeof ref || text[4] != ':' ||
        strspn(text + 5, "abcdefghijklmnopqrstuvwxyz0123456789-") != n - 5)
        return false;
    memcpy(gen, text, 4);
    gen[4] = '\0';
    snprintf(ref, sizeof ref, "%s", text + 5);
    const cpm_place_unit_t *u = cpm_place_unit_by_code(rs->p, gen, ref);
    if (!u)
        u = cpm_place_unit_by_slug(rs->p, gen, ref);
    if (!u)
        return false;
    snprintf(rs->out->key, sizeof rs->out->key, "%s", text);
    snprintf(rs->out->loose, sizeof rs->out->loose, "%s", text);
    if (u->kind == CPM_PLACE_KIND_UNIT) {
        set_unit(rs->out, u);
        snprintf(rs->out->note, sizeof rs->out->note, "the reference %s", text);
        *m = CPM_PLACE_NAME;
        return true;
    }
    uint32_t idx = (uint32_t)(u - table(rs->p, u->kind));
    *m = u->kind == CPM_PLACE_KIND_OLD_WARD ? old_wards(rs, &idx, 1, TW_NONE)
                                            : old_districts(rs, &idx, 1, TW_NONE);
    return true;
}

static void display(const cpm_places_t *p, const place_name_t *e, char *out, size_t cap)
{
    const cpm_place_unit_t *u = &table(p, e->kind)[e->idx];
    if (e->kind == CPM_PLACE_KIND_UNIT) {
        snprintf(out, cap, "%s", u->full_name);
    } else if (e->kind == CPM_PLACE_KIND_OLD_DISTRICT) {
        snprintf(out, cap, "%.80s (before 2025-07-01)", u->full_name);
    } else {
        const cpm_place_unit_t *d = cpm_place_unit_by_code(p, CPM_PLACE_GEN_2024, u->district_code);
        snprintf(out, cap, "%.60s (%.40s, before 2025-07-01)", u->full_name, d ? d->name : "?");
    }
}

/* The three names nearest to the loose key (current units first on a tie). */
static void suggest(const cpm_places_t *p, const char *loose, cpm_placement_t *o)
{
    size_t dist[CPM_PLACE_MAX_SUGGESTIONS], n = 0;
    char shown[CPM_PLACE_NAME_MAX + 32];
    for (int kind = CPM_PLACE_KIND_UNIT; kind <= CPM_PLACE_KIND_OLD_DISTRICT; kind++)
        for (size_t i = 0; i < p->nloose; i++) {
            if (p->loose[i].kind != kind)
                continue;
            size_t cap = n < CPM_PLACE_MAX_SUGGESTIONS ? CPM_PLACE_KEY_MAX : dist[n - 1];
            size_t d = place_edit_distance(loose, p->loose[i].key, cap);
            if (d >= cap)
                continue;
            display(p, &p->loose[i], shown, sizeof shown);
            bool dup = false;
            for (size_t k = 0; k < n && !dup; k++)
                dup = strcmp(o->suggestions[k], shown) == 0;
            if (dup)
                continue;
            size_t at = n < CPM_PLACE_MAX_SUGGESTIONS ? n++ : n - 1;
            while (at > 0 && dist[at - 1] > d) {
                dist[at] = dist[at - 1];
                memcpy(o->suggestions[at], o->suggestions[at - 1], sizeof o->suggestions[at]);
                at--;
            }
            dist[at] = d;
            snprintf(o->suggestions[at], sizeof o->suggestions[at], "%s", shown);
        }
    o->n_suggestions = n;
}

/* A comma-separated part of the text. */
typedef struct {
    size_t off, len;
    bool skip, context;
} part_t;

static cpm_place_method_t by_text(rs_t *rs, const char *text, place_words_t *w)
{
    const cpm_places_t *p = rs->p;
    cpm_placement_t *o = rs->out;
    cpm_place_method_t m;
    part_t parts[MAX_PARTS];
    size_t np = 0, n = strlen(text);
    if (by_reference(rs, text, &m))
        return m;
    for (size_t i = 0; i <= n && np < MAX_PARTS;) {
        size_t e = i + strcspn(text + i, ",;\n");
        parts[np++] = (part_t){.off = i, .len = e - i};
        i = e + 1;
    }
    /* First pass: which parts are streets, which name a district. */
    bool first = true;
    for (size_t i = 0; i < np; i++) {
        if (place_words(text + parts[i].off, parts[i].len, w) != 0 || w->n == 0 || street_part(w)) {
            parts[i].skip = true;
            continue;
        }
        long d = context_district(p, w, first);
        first = false;
        if (d >= 0) {
            parts[i].context = true;
            if (rs->nctx < MAX_CTX)
                rs->ctx[rs->nctx++] = (uint32_t)d;
        }
    }
    /* Then the unit parts from the most specific, then the district parts. */
    char key[CPM_PLACE_KEY_MAX] = "", loose[CPM_PLACE_KEY_MAX] = "";
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < np; i++) {
            if (parts[i].skip || parts[i].context != (pass == 1))
                continue;
            if (place_words(text + parts[i].off, parts[i].len, w) != 0)
                continue;
            m = by_part(rs, w);
            if (m != CPM_PLACE_UNKNOWN)
                return m;
            if (!loose[0] && o->loose[0]) {
                memcpy(key, o->key, sizeof key);
                memcpy(loose, o->loose, sizeof loose);
            }
        }
    memcpy(o->key, key, sizeof key);
    memcpy(o->loose, loose, sizeof loose);
    if (loose[0]) {
        suggest(p, loose, o);
        int k =
            snprintf(o->note, sizeof o->note, "no unit of Hanoi, old or new, is named '%s'", key);
        for (size_t i = 0; i < o->n_suggestions && k > 0 && (size_t)k < sizeof o->note; i++)
            k += snprintf(o->note + k, sizeof o->note - (size_t)k, "%s%s",
                          i ? ", " : "; nearest known names: ", o->suggestions[i]);
    } else {
        snprintf(o->note, sizeof o->note, "the text names no place");
    }
    return CPM_PLACE_UNKNOWN;
}

cpm_place_method_t cpm_place_resolve(const cpm_places_t *p, const char *text, bool has_point,
                                     double lat, double lon, cpm_placement_t *out)
{
    memset(out, 0, sizeof *out);
    if (!p)
        return CPM_PLACE_UNKNOWN;
    rs_t rs = {.p = p, .out = out};
    bool outside = false;
    if (has_point) {
        long u = place_geo_find(p, lon, lat, true);
        if (u >= 0) {
            set_unit(out, &p->units[u]);
            snprintf(out->key, sizeof out->key, "%.6f,%.6f", lat, lon);
            snprintf(out->loose, sizeof out->loose, "%s", out->key);
            snprintf(out->note, sizeof out->note, "the point %.6f,%.6f lies in %s", lat, lon,
                     p->units[u].full_name);
            return out->method = CPM_PLACE_POINT;
        }
        outside = true;
    }
    cpm_place_method_t m = CPM_PLACE_UNKNOWN;
    place_words_t w;
    if (text && strlen(text) > CPM_PLACE_TEXT_MAX)
        snprintf(out->note, sizeof out->note, "the text is longer than %d bytes",
                 CPM_PLACE_TEXT_MAX);
    else if (text && u8_check((const uint8_t *)text, strlen(text)) != NULL)
        snprintf(out->note, sizeof out->note, "the text is not UTF-8");
    else if (text && text[0])
        m = by_text(&rs, text, &w);
    else
        snprintf(out->note, sizeof out->note, "no text and no point inside Hanoi");
    if (outside) {
        size_t k = strlen(out->note);
        snprintf(out->note + k, sizeof out->note - k,
                 "%s(the point %.6f,%.6f lies in no unit of Hanoi)", k ? " " : "", lat, lon);
    }
    return out->method = m;
}
