/* gw_dash: see gw_dash.h. */
#include "gw_dash.h"

#include "cpm_case.h"
#include "cpm_log.h"
#include "cpm_util.h"
#include "gw_auth.h"
#include "gw_ctx.h"
#include "gw_dash_html.h"
#include "gw_dash_map.h"
#include "gw_dash_query.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gw_dash {
    char www[PATH_MAX + 64];
    gw_map_t *map;
};

static bool exists(const char *p)
{
    return access(p, R_OK) == 0;
}

int gw_dash_new(gw_dash_t **out, const char *places_dir)
{
    gw_dash_t *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    char exe[PATH_MAX] = "", p[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = 0; /* the binary's folder */
    }
    const char *env = getenv("CPMESH_WWW");
    if (env && *env)
        snprintf(d->www, sizeof d->www, "%s", env);
    else if (snprintf(p, sizeof p, "%s/../services/gateway/www", exe), exists(p))
        snprintf(d->www, sizeof d->www, "%s", p); /* a build folder in the source tree */
    else
        snprintf(d->www, sizeof d->www, "%s/../share/cpmesh/www", exe); /* installed */
    const char *tries[3] = {NULL, NULL, NULL};
    char a[PATH_MAX + 64] = "", b[PATH_MAX + 64], c[PATH_MAX + 64];
    if (places_dir)
        snprintf(a, sizeof a, "%s/boundaries.geojson", places_dir), tries[0] = a;
    snprintf(b, sizeof b, "%s/../deploy/hanoi/reform-2025/boundaries.geojson", exe);
    snprintf(c, sizeof c, "%s/../share/cpmesh/hanoi/reform-2025/boundaries.geojson", exe);
    tries[1] = b, tries[2] = c;
    for (int i = 0; i < 3 && !d->map; i++)
        if (tries[i] && exists(tries[i]))
            d->map = gw_map_load(tries[i]);
    cpm_info("gateway: dashboard assets in %s%s", d->www, d->map ? "" : "; no map");
    *out = d;
    return 0;
}

void gw_dash_destroy(gw_dash_t **p)
{
    if (!p || !*p)
        return;
    gw_map_destroy(&(*p)->map);
    free(*p);
    *p = NULL;
}

const char *gw_dash_www(const gw_dash_t *d)
{
    return d->www;
}

int gw_dash_static(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    static const struct {
        const char *name, *type;
    } files[] = {{"dash.css", "text/css; charset=utf-8"},
                 {"dash.js", "text/javascript; charset=utf-8"}};
    const char *name = rq->path + strlen("/static/");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (strcmp(name, files[i].name) != 0)
            continue;
        char p[PATH_MAX + 128];
        snprintf(p, sizeof p, "%s/%s", gw->dash->www, files[i].name);
        uint8_t *buf = NULL;
        size_t len = 0;
        if (cpm_read_file(p, 1 << 20, &buf, &len) != 0)
            return gw_resp_text(rs, 404, "no asset %s (www_dir %s)", name, gw->dash->www);
        gw_resp_append(rs, (const char *)buf, len);
        free(buf);
        rs->content_type = files[i].type;
        gw_resp_header(rs, "Cache-Control", "max-age=300");
        return 0;
    }
    return gw_resp_text(rs, 404, "no asset %s", name); /* only the known names: no path walking */
}

static const char *state_name(Cpm__CaseState s)
{
    const char *n = cpm_case_state_name(s);
    return n ? n : "-";
}

static bool is_open(Cpm__CaseState s)
{
    return s != CPM__CASE_STATE__CASE_STATE_CLOSED && s != CPM__CASE_STATE__CASE_STATE_RESOLVED &&
           s != CPM__CASE_STATE__CASE_STATE_REFUSED;
}

/* ---- overview -------------------------------------------------------------- */

typedef struct {
    char key[128];
    long n;
} tally_t;

typedef struct {
    tally_t t[256];
    size_t n;
} tallies_t;

static void tally(tallies_t *ts, const char *key)
{
    for (size_t i = 0; i < ts->n; i++)
        if (!strcmp(ts->t[i].key, key)) {
            ts->t[i].n++;
            return;
        }
    if (ts->n < 256) {
        snprintf(ts->t[ts->n].key, sizeof ts->t[0].key, "%s", key);
        ts->t[ts->n++].n = 1;
    }
}

static long count_of(const char *slug, void *arg)
{
    tallies_t *ts = arg;
    for (size_t i = 0; i < ts->n; i++)
        if (!strcmp(ts->t[i].key, slug))
            return ts->t[i].n;
    return 0;
}

static void bars(gw_resp_t *rs, const char *title, const tallies_t *ts)
{
    long max = 1;
    for (size_t i = 0; i < ts->n; i++)
        max = ts->t[i].n > max ? ts->t[i].n : max;
    gw_resp_printf(rs, "<figure class=\"chart\"><figcaption>");
    gw_html_esc(rs, title);
    gw_resp_printf(rs, "</figcaption>\n<svg viewBox=\"0 0 420 %zu\" role=\"img\">\n",
                   22 * (ts->n ? ts->n : 1) + 4);
    for (size_t i = 0; i < ts->n; i++) {
        gw_resp_printf(rs, "<text x=\"0\" y=\"%zu\" font-size=\"12\">", 22 * i + 16);
        gw_html_esc(rs, ts->t[i].key);
        gw_resp_printf(rs,
                       "</text><rect x=\"170\" y=\"%zu\" height=\"16\" width=\"%ld\" "
                       "fill=\"#3182bd\"></rect><text x=\"%ld\" y=\"%zu\" font-size=\"12\">%ld"
                       "</text>\n",
                       22 * i + 4, 1 + ts->t[i].n * 200 / max, 176 + ts->t[i].n * 200 / max,
                       22 * i + 16, ts->t[i].n);
    }
    if (!ts->n)
        gw_resp_printf(rs, "<text x=\"0\" y=\"16\" font-size=\"12\">no open cases</text>\n");
    gw_resp_printf(rs, "</svg></figure>\n");
}

int gw_dash_overview(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    gw_session_t s;
    if (gw_auth_require(gw, rq, rs, false, &s) != 0)
        return 0;
    tallies_t *by_area = calloc(1, sizeof *by_area), *by_state = calloc(1, sizeof *by_state),
              *by_agency = calloc(1, sizeof *by_agency);
    cpm_error_t err = {0};
    gw_page_begin(rs, "Overview", &s);
    Cpm__CaseListQuery q = CPM__CASE_LIST_QUERY__INIT;
    q.limit = 500;
    long total = 0;
    int rc = by_area && by_state && by_agency ? 0 : CPM_E_INTERNAL;
    for (int page = 0; rc == 0 && page < 20; page++) { /* at most 10,000 cases on the map */
        Cpm__CaseListReply *r = NULL;
        rc = gw_dash_list(gw, &s, &q, &r, &err);
        for (size_t i = 0; rc == 0 && i < r->n_cases; i++) {
            if (!is_open(r->cases[i]->state))
                continue;
            total++;
            tally(by_area, r->cases[i]->area);
            tally(by_state, state_name(r->cases[i]->state));
            tally(by_agency, r->cases[i]->agency);
        }
        bool more = rc == 0 && *r->next_cursor;
        if (more) {
            free(q.cursor == (char *)protobuf_c_empty_string ? NULL : q.cursor);
            q.cursor = strdup(r->next_cursor);
        }
        if (r)
            cpm__case_list_reply__free_unpacked(r, NULL);
        if (!more || !q.cursor)
            break;
    }
    if (q.cursor != (char *)protobuf_c_empty_string)
        free(q.cursor);
    if (rc != 0) {
        gw_resp_printf(rs, "<p class=\"error\">Cases could not be read: ");
        gw_html_esc(rs, err.message);
        gw_resp_printf(rs, "</p>\n");
    } else {
        gw_resp_printf(rs, "<p><strong>%ld</strong> open cases you may see.</p>\n", total);
        gw_resp_printf(rs, "<section class=\"grid\"><div id=\"map\">\n");
        if (gw->dash->map)
            gw_map_svg(gw->dash->map, rs, count_of, by_area);
        else
            gw_resp_printf(rs, "<p>No map: boundaries.geojson was not found.</p>\n");
        gw_resp_printf(rs, "</div><div id=\"charts\">\n");
        bars(rs, "Open cases by state", by_state);
        bars(rs, "Open cases by agency", by_agency);
        gw_resp_printf(rs, "</div></section>\n");
    }
    gw_dash_effectiveness(gw, &s, rs);
    gw_page_end(rs);
    free(by_area), free(by_state), free(by_agency);
    gw_session_clear(&s);
    return 0;
}

/* ---- lists and one case ---------------------------------------------------- */

static void opt(gw_resp_t *rs, const char *name, const char *value)
{
    gw_resp_printf(rs, "<label>%s <input name=\"%s\" value=\"", name, name);
    gw_html_esc(rs, value);
    gw_resp_printf(rs, "\" size=\"14\"></label>\n");
}

int gw_dash_cases(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    gw_session_t s;
    if (gw_auth_require(gw, rq, rs, false, &s) != 0)
        return 0;
    const char *state = gw_req_arg(rq, "state"), *agency = gw_req_arg(rq, "agency"),
               *area = gw_req_arg(rq, "area"), *overdue = gw_req_arg(rq, "overdue"),
               *cursor = gw_req_arg(rq, "cursor");
    Cpm__CaseListQuery q = CPM__CASE_LIST_QUERY__INIT;
    q.agency = (char *)(agency ? agency : "");
    q.area = (char *)(area ? area : "");
    q.cursor = (char *)(cursor ? cursor : "");
    q.overdue = overdue && *overdue;
    q.limit = 100;
    if (state && *state && !(q.state = cpm_case_state_parse(state))) {
        gw_session_clear(&s);
        return gw_resp_text(rs, 400, "state: '%s' is not a case state (e.g. assigned, accepted)",
                            state);
    }
    gw_page_begin(rs, "Cases", &s);
    gw_resp_printf(rs, "<form method=\"get\" action=\"/dash/cases\" class=\"filters\">\n");
    opt(rs, "state", state), opt(rs, "agency", agency), opt(rs, "area", area);
    gw_resp_printf(rs,
                   "<label><input type=\"checkbox\" name=\"overdue\" value=\"1\"%s> overdue"
                   "</label> <button type=\"submit\">Filter</button></form>\n",
                   q.overdue ? " checked" : "");
    Cpm__CaseListReply *r = NULL;
    cpm_error_t err = {0};
    if (gw_dash_list(gw, &s, &q, &r, &err) != 0) {
        rs->status = err.code == CPM_E_INVALID ? 400 : err.code == CPM_E_FORBIDDEN ? 403 : 502;
        gw_resp_printf(rs, "<p class=\"error\">");
        gw_html_esc(rs, err.message);
        gw_resp_printf(rs, "</p>\n");
    } else {
        gw_resp_printf(rs, "<table class=\"cases\"><thead><tr><th>Ticket</th><th>State</th>"
                           "<th>Agency</th><th>Area</th><th>Category</th><th>Due</th></tr>"
                           "</thead><tbody>\n");
        char t[40];
        for (size_t i = 0; i < r->n_cases; i++) {
            const Cpm__CaseListItem *c = r->cases[i];
            gw_resp_printf(rs, "<tr%s><td><a href=\"/dash/case/",
                           c->overdue ? " class=\"late\"" : "");
            gw_html_esc(rs, c->ticket);
            gw_resp_printf(rs, "\">");
            gw_html_esc(rs, c->ticket);
            gw_resp_printf(rs, "</a></td><td>%s</td><td>", state_name(c->state));
            gw_html_esc(rs, c->agency);
            gw_resp_printf(rs, "</td><td>");
            gw_html_esc(rs, c->area);
            gw_resp_printf(rs, "</td><td>");
            gw_html_esc(rs, c->category);
            cpm_format_time_vn(c->due_ms, t, sizeof t);
            gw_resp_printf(rs, "</td><td>");
            gw_html_esc(rs, c->due);
            gw_resp_printf(rs, " %s%s</td></tr>\n", c->due_ms ? t : "",
                           c->overdue ? " (overdue)" : "");
        }
        gw_resp_printf(rs, "</tbody></table>\n<p>%zu cases.", r->n_cases);
        if (*r->next_cursor) {
            gw_resp_printf(rs, " <a href=\"/dash/cases?cursor=");
            gw_html_esc(rs, r->next_cursor); /* tickets: letters, digits and '-' */
            gw_resp_printf(rs, "&amp;state=");
            gw_html_esc(rs, state);
            gw_resp_printf(rs, "&amp;agency=");
            gw_html_esc(rs, agency);
            gw_resp_printf(rs, "&amp;area=");
            gw_html_esc(rs, area);
            gw_resp_printf(rs, "%s\">More</a>", q.overdue ? "&amp;overdue=1" : "");
        }
        gw_resp_printf(rs, "</p>\n");
    }
    if (r)
        cpm__case_list_reply__free_unpacked(r, NULL);
    gw_page_end(rs);
    gw_session_clear(&s);
    return 0;
}

static void row(gw_resp_t *rs, const char *k, const char *v)
{
    gw_resp_printf(rs, "<tr><th>%s</th><td>", k);
    gw_html_esc(rs, v);
    gw_resp_printf(rs, "</td></tr>\n");
}

int gw_dash_case(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    gw_session_t s;
    if (gw_auth_require(gw, rq, rs, false, &s) != 0)
        return 0;
    const char *ticket = rq->path + strlen("/dash/case/");
    Cpm__StatusReply *r = NULL;
    cpm_error_t err = {0};
    int rc = gw_dash_status(gw, &s, ticket, &r, &err);
    if (rc != 0) {
        /* not found and not visible look the same: a person cannot tell them apart */
        gw_page_begin(rs, "Case not found", &s);
        rs->status = rc == CPM_E_NOT_FOUND || rc == CPM_E_INVALID ? 404 : 502;
        gw_resp_printf(rs, "<p class=\"error\">%s</p>\n",
                       rs->status == 404 ? "No such case, or not one you may see."
                                         : "Routing could not be asked; try again.");
        gw_page_end(rs);
        gw_session_clear(&s);
        return 0;
    }
    gw_page_begin(rs, r->ticket, &s);
    char t[40];
    gw_resp_printf(rs, "<table class=\"case\">\n");
    row(rs, "State", state_name(r->state));
    row(rs, "Agency", r->agency);
    row(rs, "Area", r->area);
    row(rs, "Category", r->category);
    cpm_format_time_vn(r->received_ms, t, sizeof t);
    row(rs, "Received", t);
    if (r->accept_due_ms)
        cpm_format_time_vn(r->accept_due_ms, t, sizeof t), row(rs, "Accept by", t);
    if (r->resolve_due_ms)
        cpm_format_time_vn(r->resolve_due_ms, t, sizeof t), row(rs, "Resolve by", t);
    row(rs, "Overdue", r->overdue ? r->overdue_deadline : "no");
    row(rs, "View", r->view);
    gw_resp_printf(rs, "</table>\n<h2>History</h2>\n<ol class=\"history\">\n");
    for (size_t i = 0; i < r->n_history; i++) {
        const Cpm__StatusEntry *e = r->history[i];
        cpm_format_time_vn(e->at_ms, t, sizeof t);
        gw_resp_printf(rs, "<li><time>%s</time> <strong>%s</strong> ", t, state_name(e->state));
        gw_html_esc(rs, e->actor);
        if (*e->note) {
            gw_resp_printf(rs, ": ");
            gw_html_esc(rs, e->note);
        }
        gw_resp_printf(rs, "</li>\n");
    }
    gw_resp_printf(rs, "</ol>\n");
    gw_page_end(rs);
    cpm__status_reply__free_unpacked(r, NULL);
    gw_session_clear(&s);
    return 0;
}

int gw_dash_live(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    gw_session_t s;
    if (gw_auth_require(gw, rq, rs, false, &s) != 0)
        return 0;
    gw_page_begin(rs, "Live events", &s);
    gw_resp_printf(rs, "<p id=\"live-status\">Connecting…</p>\n"
                       "<ol id=\"live\" class=\"live\" data-src=\"/dash/events\"></ol>\n");
    gw_page_end(rs);
    gw_session_clear(&s);
    return 0;
}
