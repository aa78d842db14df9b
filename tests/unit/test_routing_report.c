/* Tests for routing_report on a real store: a register with cases handled
 * under the 2024 generation (30 districts) and the 2025 one (126 units),
 * counted by area in each generation: a case of the other generation goes to
 * the one unit its lineage gives, or once to a shared row naming them all;
 * triage and unknown areas have rows of their own; every case is counted
 * exactly once, totals add up, and the bounds (rows, records per request)
 * stop a page with a cursor whose pages add up again. Coordinators only;
 * bad queries name their field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "routing_domain.h"
#include "routing_report.h"

#define SELF "hn.doit/routing"
#define NOW_MS 1767225600000LL /* 2026-01-01 */

static const char *const dbs[] = ROUTING_DBS;

static const char RULES[] =
    "version: 1\neffective_from: \"2024-01-01\"\ntriage: hn.doit\n"
    "deadlines: {accept_working_days: 10, resolve_working_days: 30}\n"
    "categories: [{slug: food_safety}]\n"
    "rules:\n  - {id: R01, category: food_safety, agency: \"@area\"}\n"
    "places_dir: %s/deploy/hanoi/reform-2025\n"
    "generations:\n"
    "  - {id: \"2024\", valid_from: \"2008-08-01\", valid_to: \"2025-06-30\", units: districts, "
    "agency_prefix: hn.d.}\n"
    "  - {id: \"2025\", valid_from: \"2025-07-01\", units: communes, agency_prefix: hn.w.}\n";

typedef struct {
    dom_env_t env;
    Cpm__Member *coordinator, *officer;
} fix_t;

static int setup(void **state)
{
    if (!getenv("CPM_SOURCE_DIR"))
        fail_msg("CPM_SOURCE_DIR is not set (run under ctest)");
    fix_t *f = dom_env_new(sizeof(fix_t), "report", dbs, 0, SELF, NOW_MS);
    char path[] = "/tmp/cpm-report-rules-XXXXXX";
    FILE *fp = fdopen(mkstemp(path), "w");
    assert_non_null(fp);
    fprintf(fp, RULES, getenv("CPM_SOURCE_DIR"));
    fclose(fp);
    cpm_error_t err = {0};
    if (cpm_rules_load(path, &f->env.rules, &err) != 0)
        fail_msg("rules: %s", err.message);
    unlink(path);
    f->coordinator = dom_member("coordinator.hn.doit", "coordinator", NULL, "routing");
    f->officer = dom_member("officer.hn.d.ba-dinh", "officer", NULL, "inspection");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix_t *f = *state;
    cpm__member__free_unpacked(f->coordinator, NULL);
    cpm__member__free_unpacked(f->officer, NULL);
    return dom_env_teardown(state);
}

/* A case record as routing keeps it. */
static void put_case(fix_t *f, MDB_txn *txn, const char *ticket, const char *gen, const char *area,
                     Cpm__CaseState state, bool overdue)
{
    Cpm__StatusReply r = CPM__STATUS_REPLY__INIT;
    r.ticket = (char *)ticket;
    r.state = state;
    char agency[96];
    snprintf(agency, sizeof agency, "%s", *area ? "hn.w.x" : "hn.doit");
    r.agency = agency;
    r.area = (char *)area;
    r.generation = (char *)gen;
    r.category = "food_safety";
    r.received_ms = NOW_MS - 86400000LL;
    r.accept_due_ms = NOW_MS - 3600000LL;
    r.overdue = overdue;
    r.overdue_since_ms = overdue ? r.accept_due_ms : 0;
    r.overdue_deadline = overdue ? "accept" : "";
    uint8_t buf[1024];
    size_t n = cpm__status_reply__pack(&r, buf);
    MDB_val k = {strlen(ticket), (void *)ticket}, v = {n, buf};
    assert_int_equal(mdb_put(txn, cpm_store_dbi(f->env.st, ROUTING_CASES_DB), &k, &v, 0), 0);
}

static Cpm__ReportReply *report(fix_t *f, const Cpm__ReportQuery *q, int *rc, cpm_error_t *err)
{
    MDB_txn *txn = dom_begin(f->env.st, false);
    Cpm__ReportReply *r = NULL;
    *rc = routing_report(f->env.rules, f->env.st, txn, f->coordinator, q, NOW_MS, &r, err);
    cpm_store_abort(&txn);
    return r;
}

static Cpm__ReportReply *report_gen(fix_t *f, const char *gen)
{
    Cpm__ReportQuery q = CPM__REPORT_QUERY__INIT;
    q.generation = (char *)gen;
    int rc;
    cpm_error_t err = {0};
    Cpm__ReportReply *r = report(f, &q, &rc, &err);
    if (rc != 0)
        fail_msg("report %s: %s", gen, err.message);
    return r;
}

static const Cpm__ReportRow *row(const Cpm__ReportReply *r, const char *area)
{
    for (size_t i = 0; i < r->n_rows; i++)
        if (!strcmp(r->rows[i]->area, area))
            return r->rows[i];
    fail_msg("no row %s", area);
    return NULL;
}

static uint32_t sum_totals(const Cpm__ReportReply *r)
{
    uint32_t n = 0;
    for (size_t i = 0; i < r->n_rows; i++) {
        const Cpm__ReportRow *w = r->rows[i];
        assert_int_equal(w->total, w->open + w->closed);
        n += w->total;
    }
    assert_int_equal(n, r->cases);
    return n;
}

#define OPEN CPM__CASE_STATE__CASE_STATE_ASSIGNED
#define DONE CPM__CASE_STATE__CASE_STATE_RESOLVED

static void fill(fix_t *f)
{
    MDB_txn *txn = dom_begin(f->env.st, true);
    put_case(f, txn, "HN-01", "2024", "hoan-kiem", DONE, false); /* closed, kept under 2024 */
    put_case(f, txn, "HN-02", "2024", "ba-vi", OPEN, false);     /* ba-vi -> ba-vi (2025)? */
    put_case(f, txn, "HN-03", "2025", "ba-dinh", OPEN, true);    /* <- ba-dinh, hoan-kiem, tay-ho */
    put_case(f, txn, "HN-04", "2025", "ba-vi", DONE, false);     /* <- ba-vi only */
    put_case(f, txn, "HN-05", "2025", "ba-dinh", OPEN, false);
    put_case(f, txn, "HN-06", "2025", "", OPEN, false);     /* triage */
    put_case(f, txn, "HN-07", "", "old-area", OPEN, false); /* before generations */
    put_case(f, txn, "HN-08", "2024", "no-such-district", DONE, false);
    assert_int_equal(dom_end(txn, 0), 0);
}

static void test_both_generations(void **state)
{
    fix_t *f = *state;
    fill(f);
    /* 2025: the 2024 district hoan-kiem's case in one shared row of its successors */
    Cpm__ReportReply *r = report_gen(f, "2025");
    assert_string_equal(r->generation, "2025");
    assert_false(r->truncated);
    assert_string_equal(r->next_cursor, "");
    assert_int_equal(r->scanned, 8);
    assert_int_equal(sum_totals(r), 8);
    const Cpm__ReportRow *w = row(r, "ba-dinh+cua-nam+hoan-kiem+hong-ha+van-mieu-quoc-tu-giam");
    assert_true(w->shared);
    assert_int_equal(w->total, 1);
    assert_int_equal(w->closed, 1);
    assert_int_equal(w->mapped, 1);
    w = row(r, "ba-dinh");
    assert_false(w->shared);
    assert_int_equal(w->total, 2);
    assert_int_equal(w->open, 2);
    assert_int_equal(w->overdue, 1);
    assert_int_equal(w->mapped, 0);
    w = row(r, "(triage)");
    assert_int_equal(w->total, 1);
    assert_ptr_equal(r->rows[r->n_rows - 1], w); /* last */
    w = row(r, "old-area");
    assert_true(w->unmapped);
    w = row(r, "2024:no-such-district");
    assert_true(w->unmapped);
    assert_int_equal(w->closed, 1);
    routing_report_free(&r);
    assert_null(r);

    /* 2024: 2025's ba-dinh took wards of three districts: one shared row */
    r = report_gen(f, "2024");
    assert_int_equal(sum_totals(r), 8);
    w = row(r, "ba-dinh+hoan-kiem+tay-ho");
    assert_true(w->shared);
    assert_int_equal(w->total, 2);
    assert_int_equal(w->mapped, 2);
    assert_int_equal(w->overdue, 1);
    w = row(r, "hoan-kiem"); /* the closed case handled under 2024 */
    assert_false(w->shared);
    assert_int_equal(w->closed, 1);
    assert_int_equal(w->mapped, 0);
    w = row(r, "ba-vi"); /* 2025's ba-vi came from ba-vi only: one row, both cases */
    assert_false(w->shared);
    assert_int_equal(w->total, 2);
    assert_int_equal(w->mapped, 1);
    routing_report_free(&r);
}

static void test_filters(void **state)
{
    fix_t *f = *state;
    fill(f);
    Cpm__ReportQuery q = CPM__REPORT_QUERY__INIT;
    q.generation = "2025";
    q.agency = "hn.doit";
    int rc;
    cpm_error_t err = {0};
    Cpm__ReportReply *r = report(f, &q, &rc, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(r->n_rows, 1);
    assert_string_equal(r->rows[0]->area, "(triage)");
    assert_int_equal(r->scanned, 8);
    routing_report_free(&r);
    q.agency = "";
    q.from_ms = NOW_MS; /* every case was received the day before */
    r = report(f, &q, &rc, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(r->cases, 0);
    assert_int_equal(r->n_rows, 0);
    routing_report_free(&r);
    q.from_ms = 0;
    q.to_ms = NOW_MS;
    r = report(f, &q, &rc, &err);
    assert_int_equal(r->cases, 8);
    routing_report_free(&r);
}

static void expect_invalid(fix_t *f, const Cpm__ReportQuery *q, const char *field)
{
    int rc;
    cpm_error_t err = {0};
    Cpm__ReportReply *r = report(f, q, &rc, &err);
    assert_int_equal(rc, CPM_E_INVALID);
    assert_null(r);
    assert_string_equal(err.field, field);
}

static void test_refused(void **state)
{
    fix_t *f = *state;
    fill(f);
    Cpm__ReportQuery q = CPM__REPORT_QUERY__INIT;
    q.generation = "2025";
    Cpm__ReportReply *r = NULL;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->env.st, false);
    assert_int_equal(routing_report(f->env.rules, f->env.st, txn, f->officer, &q, NOW_MS, &r, &err),
                     CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "role");
    assert_non_null(strstr(err.message, "coordinators"));
    assert_null(r);
    assert_int_equal(routing_report(f->env.rules, f->env.st, txn, NULL, &q, NOW_MS, &r, &err),
                     CPM_E_FORBIDDEN);
    cpm_store_abort(&txn);

    q.generation = "";
    expect_invalid(f, &q, "generation");
    q.generation = "2023";
    expect_invalid(f, &q, "generation");
    q.generation = "2025";
    q.agency = "not an id";
    expect_invalid(f, &q, "agency");
    q.agency = "";
    q.from_ms = -1;
    expect_invalid(f, &q, "from_ms");
    q.from_ms = 5;
    q.to_ms = 5;
    expect_invalid(f, &q, "to_ms");
    q.to_ms = 0;
    q.from_ms = 0;
    q.cursor = "../x";
    expect_invalid(f, &q, "cursor");
}

/* Follow the pages of a report; returns the cases counted, checks each
 * page stays within its bounds. */
static uint32_t all_pages(fix_t *f, const char *gen, size_t *pages)
{
    Cpm__ReportQuery q = CPM__REPORT_QUERY__INIT;
    q.generation = (char *)gen;
    char cursor[80] = "";
    uint32_t total = 0;
    *pages = 0;
    do {
        q.cursor = cursor;
        int rc;
        cpm_error_t err = {0};
        Cpm__ReportReply *r = report(f, &q, &rc, &err);
        assert_int_equal(rc, 0);
        assert_true(r->n_rows <= ROUTING_REPORT_ROWS);
        assert_true(r->scanned <= ROUTING_REPORT_SCAN);
        assert_int_equal(r->truncated, *r->next_cursor != 0);
        total += sum_totals(r);
        snprintf(cursor, sizeof cursor, "%s", r->next_cursor);
        routing_report_free(&r);
        assert_true(++*pages < 10);
    } while (*cursor);
    return total;
}

static void test_bounds(void **state)
{
    fix_t *f = *state;
    /* more distinct areas than a reply holds rows */
    MDB_txn *txn = dom_begin(f->env.st, true);
    size_t n = ROUTING_REPORT_ROWS + 10;
    for (size_t i = 0; i < n; i++) {
        char t[32], a[32];
        snprintf(t, sizeof t, "HA-%05zu", i);
        snprintf(a, sizeof a, "area-%05zu", i);
        put_case(f, txn, t, "2025", a, OPEN, false);
    }
    assert_int_equal(dom_end(txn, 0), 0);
    size_t pages;
    assert_int_equal(all_pages(f, "2025", &pages), n);
    assert_int_equal(pages, 2);
    /* more records than one request looks at */
    txn = dom_begin(f->env.st, true);
    for (size_t i = 0; i < ROUTING_REPORT_SCAN; i++) {
        char t[32];
        snprintf(t, sizeof t, "HB-%06zu", i);
        put_case(f, txn, t, "2025", "", OPEN, false);
    }
    assert_int_equal(dom_end(txn, 0), 0);
    assert_int_equal(all_pages(f, "2024", &pages), n + ROUTING_REPORT_SCAN);
    assert_int_equal(pages, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_both_generations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
