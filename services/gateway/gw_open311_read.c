/* gw_open311_read: GET requests, requests/{id} and tokens/{token}: the
 * public view of cases, from routing, as GeoReport v2 writes a service
 * request (docs/open311.md "Field mapping"). Routing answers the gateway
 * member with its public view only; what this file writes is a subset of
 * it: no contact, no actors, no notes, and no description (the consumer's
 * own words may name them). */
#include "gw_open311_int.h"

#include "cpm_case.h"
#include "cpm_text.h"
#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (86400LL * 1000)

static json_t *time_or_null(int64_t ms)
{
    char buf[32];
    return ms > 0 ? json_string(o311_time(ms, buf)) : json_null();
}

static const char *service_name(gw_open311_t *o, const char *slug)
{
    const o311_cat_t *c = o311_cat(o, slug);
    return !c ? slug : c->name_vi[0] ? c->name_vi : c->name_en[0] ? c->name_en : slug;
}

/* The fields every request has, in the standard's order. */
static json_t *request_common(gw_open311_t *o, const char *ticket, Cpm__CaseState state,
                              Cpm__Outcome outcome, const char *category, const char *agency,
                              int64_t received_ms, int64_t updated_ms, int64_t resolve_due_ms,
                              const char *address)
{
    char notes[96], name[256] = "";
    const char *sn = cpm_case_state_name(state);
    const char *on = outcome ? cpm_case_outcome_name(outcome) : NULL;
    snprintf(notes, sizeof notes, "%s%s%s", sn ? sn : "", on ? ": " : "", on ? on : "");
    if (agency && *agency)
        o->be.member_name(o->be.arg, agency, name, sizeof name);
    json_t *r = json_object();
    json_object_set_new(r, "service_request_id", json_string(ticket));
    json_object_set_new(r, "status", json_string(cpm_case_is_open(state) ? "open" : "closed"));
    json_object_set_new(r, "status_notes", json_string(notes));
    json_object_set_new(r, "service_name", json_string(service_name(o, category)));
    json_object_set_new(r, "service_code", json_string(category));
    json_object_set_new(r, "description", json_null());
    json_object_set_new(r, "agency_responsible", json_string(*name ? name : agency ? agency : ""));
    json_object_set_new(r, "service_notice", json_string(""));
    json_object_set_new(r, "requested_datetime", time_or_null(received_ms));
    json_object_set_new(r, "updated_datetime", time_or_null(updated_ms));
    json_object_set_new(r, "expected_datetime", time_or_null(resolve_due_ms));
    json_object_set_new(r, "address", json_string(address ? address : ""));
    json_object_set_new(r, "address_id", json_string(""));
    json_object_set_new(r, "zipcode", json_string(""));
    json_object_set_new(r, "media_url", json_string(""));
    return r;
}

json_t *o311_request_of_status(gw_open311_t *o, const Cpm__StatusReply *r)
{
    int64_t updated = r->routed_ms > r->received_ms ? r->routed_ms : r->received_ms;
    for (size_t i = 0; i < r->n_history; i++) {
        int64_t t = r->history[i]->received_ms > r->history[i]->at_ms ? r->history[i]->received_ms
                                                                      : r->history[i]->at_ms;
        if (t > updated)
            updated = t;
    }
    const char *addr = r->placement && r->placement->unit_name && *r->placement->unit_name
                           ? r->placement->unit_name
                           : r->area;
    return request_common(o, r->ticket, r->state, r->outcome, r->category, r->agency,
                          r->received_ms, updated, r->resolve_due_ms, addr);
}

static int mesh_error(gw_ctx_t *gw, gw_resp_t *rs, o311_fmt_t fmt, int rc, const char *ticket)
{
    if (rc == CPM_E_NOT_FOUND)
        return o311_error(rs, fmt, 404,
                          "service_request_id %s is not known (yet: a new request "
                          "reaches routing within seconds)",
                          ticket);
    o311_count(gw, "open311.unavailable");
    return o311_error(rs, fmt, 503, "the city's case register cannot be read now; try again");
}

int o311_get_request(gw_open311_t *o, gw_ctx_t *gw, const char *id, gw_resp_t *rs, o311_fmt_t fmt)
{
    if (!cpm_text_ticket_valid(id, NULL))
        return o311_error(rs, fmt, 400, "service_request_id is not a ticket (PREFIX-digits)");
    Cpm__StatusReply *r = NULL;
    cpm_error_t err = {0};
    int rc = o->be.status(o->be.arg, id, &r, &err);
    if (rc != 0)
        return mesh_error(gw, rs, fmt, rc, id);
    json_t *one = o311_request_of_status(o, r);
    cpm__status_reply__free_unpacked(r, NULL);
    return o311_render(rs, fmt, 200, "service_requests", json_pack("[o]", one));
}

int o311_get_token(gw_open311_t *o, gw_ctx_t *gw, const char *token, gw_resp_t *rs, o311_fmt_t fmt)
{
    (void)gw;
    if (strlen(token) != O311_TOKEN_LEN || strspn(token, "0123456789abcdef") != O311_TOKEN_LEN)
        return o311_error(rs, fmt, 400, "token is not %d lowercase hex digits", O311_TOKEN_LEN);
    char ticket[CPM_TEXT_TICKET_MAX + 1];
    int rc = o311_token_get(o, token, ticket, sizeof ticket);
    if (rc == CPM_E_NOT_FOUND)
        return o311_error(rs, fmt, 404, "token %s is not known", token);
    if (rc != 0)
        return o311_error(rs, fmt, 503, "the token store cannot be read now; try again");
    json_t *one = json_pack("{s:s,s:s}", "service_request_id", ticket, "token", token);
    return o311_render(rs, fmt, 200, "service_requests", json_pack("[o]", one));
}

/* ---- GET requests ---- */

typedef struct {
    char codes[16][65];
    size_t n_codes;
    int want_open; /* -1 any, 1 open, 0 closed */
    int64_t from_ms, to_ms;
} filter_t;

/* A comma list into up to max items of cap bytes. -1 when it does not fit. */
static int split(const char *s, char (*out)[65], size_t max, size_t *n)
{
    *n = 0;
    while (*s) {
        const char *c = strchr(s, ',');
        size_t len = c ? (size_t)(c - s) : strlen(s);
        if (len > 0) {
            if (*n == max || len > 64)
                return -1;
            memcpy(out[*n], s, len);
            out[(*n)++][len] = 0;
        }
        s += len + (c ? 1 : 0);
    }
    return 0;
}

static int parse_filter(gw_open311_t *o, const gw_req_t *rq, int64_t now_ms, filter_t *f, char *why,
                        size_t wlen)
{
    const char *codes = gw_req_arg(rq, "service_code");
    if (codes && split(codes, f->codes, 16, &f->n_codes) != 0) {
        snprintf(why, wlen, "service_code is a comma list of at most 16 service codes");
        return -1;
    }
    for (size_t i = 0; i < f->n_codes; i++)
        if (!o311_cat(o, f->codes[i])) {
            snprintf(why, wlen, "service_code %s is not a service of this city",
                     cpm_text_slug_valid(f->codes[i]) ? f->codes[i] : "(not a slug)");
            return -1;
        }
    const char *st = gw_req_arg(rq, "status");
    f->want_open = -1;
    if (st && *st) {
        char s[2][65];
        size_t n;
        bool op = false, cl = false;
        if (split(st, s, 2, &n) != 0)
            n = 3;
        for (size_t i = 0; i < n && n <= 2; i++)
            op |= !strcmp(s[i], "open"), cl |= !strcmp(s[i], "closed");
        if (n == 0 || n > 2 || (size_t)(op + cl) != n) {
            snprintf(why, wlen, "status is open, closed, or open,closed");
            return -1;
        }
        f->want_open = op && cl ? -1 : op;
    }
    const char *sd = gw_req_arg(rq, "start_date"), *ed = gw_req_arg(rq, "end_date");
    int64_t window = O311_WINDOW_DAYS * DAY_MS;
    if (sd && o311_parse_time(sd, &f->from_ms) != 0) {
        snprintf(why, wlen, "start_date is not a W3C date-time, e.g. 2026-03-15T09:00:00+07:00");
        return -1;
    }
    if (ed && o311_parse_time(ed, &f->to_ms) != 0) {
        snprintf(why, wlen, "end_date is not a W3C date-time, e.g. 2026-03-15T09:00:00+07:00");
        return -1;
    }
    if (!sd && !ed)
        f->to_ms = now_ms, f->from_ms = now_ms - window;
    else if (!ed)
        f->to_ms = f->from_ms + window;
    else if (!sd)
        f->from_ms = f->to_ms - window;
    if (f->to_ms < f->from_ms) {
        snprintf(why, wlen, "end_date is before start_date");
        return -1;
    }
    if (f->to_ms - f->from_ms > window) {
        snprintf(why, wlen, "end_date is more than %d days after start_date", O311_WINDOW_DAYS);
        return -1;
    }
    return 0;
}

static bool wanted(const filter_t *f, const Cpm__CaseListItem *it)
{
    if (it->received_ms < f->from_ms || it->received_ms > f->to_ms)
        return false;
    if (f->want_open >= 0 && cpm_case_is_open(it->state) != (f->want_open == 1))
        return false;
    if (f->n_codes == 0)
        return true;
    for (size_t i = 0; i < f->n_codes; i++)
        if (!strcmp(f->codes[i], it->category))
            return true;
    return false;
}

/* service_request_id=A,B,C: those requests (the other filters ignored, as
 * the standard says); unknown ones are left out, a ticket given twice is
 * answered once. Each distinct ticket is a routing query: the GET's own
 * token pays for the first, the address's read limit for the others. */
static int by_ids(gw_open311_t *o, gw_ctx_t *gw, const gw_req_t *rq, const char *ids, gw_resp_t *rs,
                  o311_fmt_t fmt)
{
    char(*id)[65] = calloc(O311_IDS_MAX, 65);
    size_t n;
    if (!id)
        return -1;
    if (split(ids, id, O311_IDS_MAX, &n) != 0) {
        free(id);
        return o311_error(rs, fmt, 400, "service_request_id is a comma list of at most %d tickets",
                          O311_IDS_MAX);
    }
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cpm_text_ticket_valid(id[i], NULL)) {
            free(id);
            return o311_error(rs, fmt, 400, "service_request_id %zu is not a ticket", i + 1);
        }
        bool seen = false;
        for (size_t j = 0; j < distinct && !seen; j++)
            seen = !strcmp(id[j], id[i]);
        if (!seen && distinct != i)
            memcpy(id[distinct], id[i], sizeof id[i]);
        distinct += !seen;
    }
    n = distinct;
    char who[64];
    if (n > 1 &&
        o311_limit(o, gw, o->read_rate, o311_client_addr(rq, who, sizeof who), O311_READ_RATE,
                   O311_READ_BURST, (double)(n - 1), "open311.refused.read_rate", rs, fmt)) {
        free(id);
        return 0;
    }
    json_t *out = json_array();
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        Cpm__StatusReply *r = NULL;
        cpm_error_t err = {0};
        int mrc = o->be.status(o->be.arg, id[i], &r, &err);
        if (mrc == CPM_E_NOT_FOUND)
            continue;
        if (mrc != 0) {
            json_decref(out);
            free(id);
            return mesh_error(gw, rs, fmt, mrc, "");
        }
        json_array_append_new(out, o311_request_of_status(o, r));
        cpm__status_reply__free_unpacked(r, NULL);
    }
    free(id);
    return o311_render(rs, fmt, 200, "service_requests", out);
}

int o311_get_requests(gw_open311_t *o, gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs,
                      o311_fmt_t fmt)
{
    const char *ids = gw_req_arg(rq, "service_request_id");
    if (ids && *ids)
        return by_ids(o, gw, rq, ids, rs, fmt);
    filter_t f = {0};
    char why[200];
    if (parse_filter(o, rq, cpm_now_ms(), &f, why, sizeof why) != 0) {
        o311_count(gw, "open311.refused.filter");
        return o311_error(rs, fmt, 400, "%s", why);
    }
    json_t *out = json_array();
    Cpm__CaseListQuery q = CPM__CASE_LIST_QUERY__INIT;
    q.limit = 500;
    /* Routing filters by time and category (one service_code); status and
     * several codes are filtered here. Newest first: the window's recent
     * cases come before old ones when the pages run out. */
    q.received_from_ms = f.from_ms > 0 ? f.from_ms : 0;
    q.received_to_ms = f.to_ms > 0 ? f.to_ms : 1; /* before 1970: none */
    q.category = f.n_codes == 1 ? f.codes[0] : "";
    q.newest_first = true;
    char cursor[CPM_TEXT_TICKET_MAX + 1] = "";
    q.cursor = cursor;
    bool cut = false;
    for (int page = 0; json_array_size(out) < O311_LIST_MAX; page++) {
        if (page == O311_LIST_PAGES) {
            cut = true;
            break;
        }
        Cpm__CaseListReply *r = NULL;
        cpm_error_t err = {0};
        int rc = o->be.list(o->be.arg, &q, &r, &err);
        if (rc != 0) {
            json_decref(out);
            return mesh_error(gw, rs, fmt, rc == CPM_E_NOT_FOUND ? CPM_E_UNAVAILABLE : rc, "");
        }
        for (size_t i = 0; i < r->n_cases && json_array_size(out) < O311_LIST_MAX; i++) {
            const Cpm__CaseListItem *it = r->cases[i];
            if (wanted(&f, it))
                /* A list item carries no history: updated_datetime is unknown here
                 * (GET requests/{id} has it). */
                json_array_append_new(out, request_common(o, it->ticket, it->state, 0, it->category,
                                                          it->agency, it->received_ms, 0,
                                                          it->resolve_due_ms, it->area));
        }
        bool more = r->next_cursor && *r->next_cursor && strlen(r->next_cursor) < sizeof cursor;
        if (more)
            snprintf(cursor, sizeof cursor, "%s", r->next_cursor);
        cpm__case_list_reply__free_unpacked(r, NULL);
        if (!more)
            break;
    }
    if (cut) {
        /* Not an error: the reply holds the window's newest cases; older
         * ones in it were not looked at (docs/open311.md "GET requests"). */
        o311_count(gw, "open311.list_cut");
        gw_resp_header(rs, O311_CUT_HEADER,
                       "the register was read only in part: older requests of the window are "
                       "missing (ask them by service_request_id)");
    }
    return o311_render(rs, fmt, 200, "service_requests", out);
}
