/* Tests for inspection_plan, inspection_review and inspection_checklist on a
 * real store, without sockets: planning from a case and a campaign with the
 * category's checklist, assignment to inspectors of the agency, review with
 * findings seeded as the field sync stores them (packed FieldStored), the
 * violation records and the linked case resolved, close; every forbidden
 * move and sender refused with nothing written; checklist load errors name
 * the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_case.h"
#include "inspection_domain.h"
#include "inspection_review.h"

#define NODE "hn.d.hoan-kiem"
#define ROUTING "hn.doit"
#define STREAM NODE "/inspection>" ROUTING "/routing"
#define INSP1 "inspector1." NODE
#define INSP2 "inspector2." NODE
#define OTHER "inspector1.hn.qltt"
#define TICKET "HK-00000001"

static const char *const dbs[] = INSPECTION_DBS;
static const inspection_t cases = {.node = NODE, .routing = ROUTING};

static const inspection_who_t officer = {"officer." NODE, "officer", NODE};
static const inspection_who_t coordinator = {"coordinator.hn.doit", "coordinator", "hn.doit"};
static const inspection_who_t foreign = {"officer.hn.qltt", "officer", "hn.qltt"};
static const inspection_who_t insp1 = {INSP1, "inspector", NODE};
static const inspection_who_t insp2 = {INSP2, "inspector", NODE};

typedef struct {
    dom_env_t env; /* first: dom_env_teardown frees it */
    cpm_registry_t *reg;
    inspection_checklists_t *lists;
    inspection_plans_t p;
} fixture_t;

static cpm_registry_t *registry(void)
{
    Cpm__Member *ms[] = {
        dom_member_of(NODE, "department", NODE), dom_member_of(INSP1, "inspector", NODE),
        dom_member_of(INSP2, "inspector", NODE), dom_member_of("officer." NODE, "officer", NODE),
        dom_member_of(OTHER, "inspector", "hn.qltt")};
    return dom_registry_of(ms, sizeof ms / sizeof *ms);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char lists_yaml[] =
    "templates:\n"
    "  - category: default\n"
    "    items:\n"
    "      - {code: license, text: \"Giấy phép kinh doanh\"}\n"
    "  - category: food_safety\n"
    "    items:\n"
    "      - {code: food-safety-cert, text: \"Giấy chứng nhận ATTP\"}\n"
    "      - {code: expiry, text: \"Hạn sử dụng\"}\n";

static int setup(void **state)
{
    assert_true(sodium_init() >= 0);
    fixture_t *f = dom_env_new(sizeof *f, "inspplan", dbs, 0, NODE "/inspection",
                               dom_vn_time(2026, 3, 2, 11, 0));
    f->reg = registry();
    char path[128];
    snprintf(path, sizeof path, "%s/checklists.yaml", f->env.dir);
    write_file(path, lists_yaml);
    cpm_error_t err = {0};
    if (inspection_checklists_load(path, &f->lists, &err) != 0)
        fail_msg("checklists: %s", err.message);
    inspection_plans_t p = {NODE, f->lists, f->reg};
    f->p = p;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    inspection_checklists_destroy(&f->lists);
    cpm_registry_destroy(&f->reg);
    return dom_env_teardown(state);
}

static void assign_case(fixture_t *f, const char *ticket, const char *business)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = (char *)ticket;
    c.channel = "hotline";
    c.business_name = (char *)business;
    c.business_address = "12 Hàng Bè";
    c.area = "hoan-kiem";
    c.category = "food_safety";
    c.description = "Food poisoning after lunch.";
    c.intake_node = NODE;
    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    a.complaint = &c;
    a.agency = NODE;
    a.rule_id = "R02-food";
    a.routed_ms = f->env.now - 1000;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->env.st, true);
    int rc = dom_end(
        txn, inspection_apply_assignment(&cases, f->env.st, txn, &f->env.fx, &a, f->env.now, &err));
    if (rc != 0)
        fail_msg("assign %s: %s", ticket, err.message);
}

static uint64_t events(fixture_t *f)
{
    MDB_txn *txn = dom_begin(f->env.st, false);
    uint64_t n = dom_event_head(f->env.st, txn);
    cpm_store_abort(&txn);
    return n;
}

/* Plan pl as who; r gets the reply (clear it after). */
static int plan(fixture_t *f, const inspection_who_t *who, const Cpm__InspectionPlan *pl,
                Cpm__InspectionReply *r, cpm_error_t *err)
{
    MDB_txn *txn = dom_begin(f->env.st, true);
    return dom_end(
        txn, inspection_plan_new(&f->p, f->env.st, txn, &f->env.fx, who, pl, f->env.now, r, err));
}

static int assign(fixture_t *f, const inspection_who_t *who, const char *id, const char *lead,
                  char **team, size_t n_team, cpm_error_t *err)
{
    Cpm__InspectionAssign a = CPM__INSPECTION_ASSIGN__INIT;
    a.id = (char *)id;
    a.lead = (char *)lead;
    a.team = team;
    a.n_team = n_team;
    Cpm__InspectionReply r = CPM__INSPECTION_REPLY__INIT;
    MDB_txn *txn = dom_begin(f->env.st, true);
    int rc = dom_end(txn, inspection_plan_assign(&f->p, f->env.st, txn, &f->env.fx, who, &a,
                                                 f->env.now, &r, err));
    inspection_reply_clear(&r);
    return rc;
}

static int review(fixture_t *f, const inspection_who_t *who, const char *id, bool close,
                  Cpm__Outcome o, int64_t fine, cpm_error_t *err)
{
    Cpm__InspectionReview rv = CPM__INSPECTION_REVIEW__INIT;
    rv.id = (char *)id;
    rv.close = close;
    rv.outcome = o;
    rv.fine_vnd = fine;
    Cpm__InspectionReply r = CPM__INSPECTION_REPLY__INIT;
    MDB_txn *txn = dom_begin(f->env.st, true);
    int rc = dom_end(txn, inspection_review(&f->p, &cases, f->env.st, txn, &f->env.fx, who, &rv,
                                            f->env.now, &r, err));
    inspection_reply_clear(&r);
    return rc;
}

static Cpm__Inspection *get(fixture_t *f, const char *id)
{
    MDB_txn *txn = dom_begin(f->env.st, false);
    Cpm__Inspection *in = inspection_plan_get(f->env.st, txn, id);
    cpm_store_abort(&txn);
    return in;
}

/* Plan one inspection from TICKET; its id into id. */
static void plan_from_case(fixture_t *f, char id[INSPECTION_ID_MAX])
{
    assign_case(f, TICKET, "Quán Phở Ngon");
    char *tickets[] = {TICKET};
    Cpm__InspectionPlan pl = CPM__INSPECTION_PLAN__INIT;
    pl.tickets = tickets;
    pl.n_tickets = 1;
    Cpm__InspectionReply r = CPM__INSPECTION_REPLY__INIT;
    cpm_error_t err = {0};
    if (plan(f, &officer, &pl, &r, &err) != 0)
        fail_msg("plan: %s", err.message);
    assert_int_equal(r.n_inspections, 1);
    snprintf(id, INSPECTION_ID_MAX, "%s", r.inspections[0]->id);
    inspection_reply_clear(&r);
}

static void test_plan_from_case(void **state)
{
    fixture_t *f = *state;
    char id[INSPECTION_ID_MAX];
    uint64_t before = events(f);
    plan_from_case(f, id);
    assert_string_equal(id, NODE "/I1");
    Cpm__Inspection *in = get(f, id);
    assert_non_null(in);
    assert_int_equal(in->state, CPM__INSPECTION_STATE__INSPECTION_STATE_PLANNED);
    assert_string_equal(in->business, "Quán Phở Ngon");
    assert_string_equal(in->address, "12 Hàng Bè");
    assert_string_equal(in->category, "food_safety");
    assert_string_equal(in->planned_by, officer.id);
    assert_int_equal(in->n_checklist, 2); /* the category's own template */
    assert_string_equal(in->checklist[0]->code, "food-safety-cert");
    cpm__inspection__free_unpacked(in, NULL);
    assert_int_equal(events(f), before + 2); /* the case arriving, then the plan */
    assert_string_equal(f->env.rec.events[f->env.rec.n_events - 1].kind, "inspection.planned");
    /* a second plan gets the next id */
    char id2[INSPECTION_ID_MAX];
    plan_from_case(f, id2);
    assert_string_equal(id2, NODE "/I2");
}

static void test_campaign(void **state)
{
    fixture_t *f = *state;
    char *bs[] = {"Chợ Hàng Bè", "Chợ Đồng Xuân", "Chợ Hôm"};
    Cpm__InspectionPlan pl = CPM__INSPECTION_PLAN__INIT;
    pl.campaign = "Trước Tết";
    pl.businesses = bs;
    pl.n_businesses = 3;
    pl.area = "hoan-kiem";
    pl.category = "pricing"; /* no template of its own: default */
    Cpm__InspectionReply r = CPM__INSPECTION_REPLY__INIT;
    cpm_error_t err = {0};
    assert_int_equal(plan(f, &coordinator, &pl, &r, &err), 0);
    assert_int_equal(r.n_inspections, 3);
    assert_string_equal(r.inspections[2]->business, "Chợ Hôm");
    assert_string_equal(r.inspections[2]->campaign, "Trước Tết");
    assert_int_equal(r.inspections[2]->n_checklist, 1);
    assert_string_equal(r.inspections[2]->checklist[0]->code, "license");
    inspection_reply_clear(&r);
}

static void test_plan_refused(void **state)
{
    fixture_t *f = *state;
    assign_case(f, TICKET, "Quán Phở Ngon");
    assign_case(f, "HK-00000002", "Another Shop");
    uint64_t before = events(f);
    cpm_error_t err = {0};
    Cpm__InspectionReply r = CPM__INSPECTION_REPLY__INIT;
    char *unknown[] = {"HK-00000099"}, *two[] = {TICKET, "HK-00000002"}, *dupe[] = {TICKET, TICKET};
    Cpm__InspectionPlan pl = CPM__INSPECTION_PLAN__INIT;
    pl.tickets = unknown;
    pl.n_tickets = 1;
    assert_int_equal(plan(f, &officer, &pl, &r, &err), CPM_E_NOT_FOUND);
    assert_string_equal(err.field, "tickets");
    pl.tickets = two; /* two businesses */
    pl.n_tickets = 2;
    assert_int_equal(plan(f, &officer, &pl, &r, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "tickets");
    pl.tickets = dupe;
    assert_int_equal(plan(f, &officer, &pl, &r, &err), CPM_E_INVALID);
    pl.tickets = two;
    pl.n_tickets = 1;
    assert_int_equal(plan(f, &insp1, &pl, &r, &err), CPM_E_FORBIDDEN); /* an inspector */
    assert_string_equal(err.field, "sender");
    assert_int_equal(plan(f, &foreign, &pl, &r, &err), CPM_E_FORBIDDEN); /* another agency */
    pl.campaign = "both"; /* tickets and a campaign */
    assert_int_equal(plan(f, &officer, &pl, &r, &err), CPM_E_INVALID);
    /* a campaign of 201 */
    char *many[INSPECTION_CAMPAIGN_MAX + 1];
    for (size_t i = 0; i <= INSPECTION_CAMPAIGN_MAX; i++)
        many[i] = "Shop";
    Cpm__InspectionPlan c = CPM__INSPECTION_PLAN__INIT;
    c.campaign = "big";
    c.businesses = many;
    c.n_businesses = INSPECTION_CAMPAIGN_MAX + 1;
    c.area = "hoan-kiem";
    c.category = "pricing";
    assert_int_equal(plan(f, &officer, &c, &r, &err), CPM_E_TOO_LARGE);
    assert_string_equal(err.field, "businesses");
    c.n_businesses = 1;
    c.area = "Hoàn Kiếm"; /* not a slug */
    assert_int_equal(plan(f, &officer, &c, &r, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "area");
    c.area = "hoan-kiem";
    c.due_ms = f->env.now - 3 * 86400000LL;
    assert_int_equal(plan(f, &officer, &c, &r, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "due_ms");
    assert_int_equal(r.n_inspections, 0);
    assert_int_equal(events(f), before);
    assert_null(get(f, NODE "/I1"));
}

static void test_assign(void **state)
{
    fixture_t *f = *state;
    char id[INSPECTION_ID_MAX];
    plan_from_case(f, id);
    cpm_error_t err = {0};
    uint64_t before = events(f);
    assert_int_equal(assign(f, &officer, id, "officer." NODE, NULL, 0, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "lead");
    assert_int_equal(assign(f, &officer, id, OTHER, NULL, 0, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "lead");
    char *team_other[] = {OTHER}, *team_lead[] = {INSP1}, *team[] = {INSP2};
    assert_int_equal(assign(f, &officer, id, INSP1, team_other, 1, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "team");
    assert_int_equal(assign(f, &officer, id, INSP1, team_lead, 1, &err), CPM_E_INVALID);
    assert_int_equal(assign(f, &insp1, id, INSP1, NULL, 0, &err), CPM_E_FORBIDDEN);
    assert_int_equal(assign(f, &officer, NODE "/I9", INSP1, NULL, 0, &err), CPM_E_NOT_FOUND);
    assert_string_equal(err.field, "id");
    assert_int_equal(events(f), before);
    assert_int_equal(assign(f, &officer, id, INSP1, team, 1, &err), 0);
    Cpm__Inspection *in = get(f, id);
    assert_int_equal(in->state, CPM__INSPECTION_STATE__INSPECTION_STATE_ASSIGNED);
    assert_string_equal(in->lead, INSP1);
    assert_true(inspection_plan_has_inspector(in, INSP2));
    assert_false(inspection_plan_has_inspector(in, OTHER));
    /* the field sync moved it on: no more assignment */
    in->state = CPM__INSPECTION_STATE__INSPECTION_STATE_IN_FIELD;
    MDB_txn *txn = dom_begin(f->env.st, true);
    assert_int_equal(dom_end(txn, inspection_plan_put(f->env.st, txn, in, &err)), 0);
    cpm__inspection__free_unpacked(in, NULL);
    assert_int_equal(assign(f, &officer, id, INSP2, NULL, 0, &err), CPM_E_CONFLICT);
    assert_string_equal(err.field, "state");
}

/* Store a record as the field sync does: db, key "<id>\x1f<rid>[\x1f<hash>]". */
static void seed_record(fixture_t *f, const char *db, const char *id, const char *rid,
                        const char *inspector, Cpm__FieldRecordKind kind, const char *violation,
                        int64_t fine, const char *hash)
{
    Cpm__FieldRecord rec = CPM__FIELD_RECORD__INIT;
    rec.id = (char *)rid;
    rec.inspection = (char *)id;
    rec.inspector = (char *)inspector;
    rec.kind = kind;
    rec.item = "expiry";
    rec.violation = (char *)violation;
    rec.fine_vnd = fine;
    rec.made_ms = f->env.now - 3600000;
    rec.description = "Bán thực phẩm quá hạn";
    Cpm__FieldStored s = CPM__FIELD_STORED__INIT;
    s.record = &rec;
    s.received_ms = f->env.now;
    char key[256];
    int n = hash ? snprintf(key, sizeof key, "%s\x1f%s\x1f%s", id, rid, hash)
                 : snprintf(key, sizeof key, "%s\x1f%s", id, rid);
    MDB_txn *txn = dom_begin(f->env.st, true);
    assert_int_equal(dom_end(txn, cpm_store_put_msg(f->env.st, txn, db, key, &s.base)), 0);
    (void)n;
}

static size_t violations(fixture_t *f, int64_t *sum)
{
    MDB_txn *txn = dom_begin(f->env.st, false);
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, cpm_store_dbi(f->env.st, INSPECTION_VIOLATIONS_DB), &cur),
                     0);
    MDB_val k, v;
    size_t n = 0;
    *sum = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++) {
        Cpm__ViolationRecord *x = cpm__violation_record__unpack(NULL, v.mv_size, v.mv_data);
        assert_non_null(x);
        assert_string_equal(x->business, "Quán Phở Ngon");
        assert_int_equal(x->n_tickets, 1);
        *sum += x->fine_vnd;
        cpm__violation_record__free_unpacked(x, NULL);
    }
    mdb_cursor_close(cur);
    cpm_store_abort(&txn);
    return n;
}

static void test_review_with_findings(void **state)
{
    fixture_t *f = *state;
    char id[INSPECTION_ID_MAX];
    plan_from_case(f, id);
    cpm_error_t err = {0};
    uint64_t before = events(f);
    /* planned: not yet */
    assert_int_equal(review(f, &officer, id, false, CPM__OUTCOME__OUTCOME_NO_VIOLATION, 0, &err),
                     CPM_E_CONFLICT);
    assert_string_equal(err.field, "state");
    char *team[] = {INSP2};
    assert_int_equal(assign(f, &officer, id, INSP1, team, 1, &err), 0);
    before = events(f);
    seed_record(f, INSPECTION_FIELD_RECORDS_DB, id, "f-1", INSP1,
                CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING, "ND115-expired", 5000000, NULL);
    seed_record(f, INSPECTION_FIELD_RECORDS_DB, id, "f-2", INSP2,
                CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING, "ND115-origin", 7000000, NULL);
    seed_record(f, INSPECTION_FIELD_RECORDS_DB, id, "f-3", INSP2,
                CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING, "", 0, NULL); /* no violation */
    seed_record(f, INSPECTION_FIELD_CONFLICTS_DB, id, "f-2", INSP2,
                CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING, "ND115-origin", 9000000, "ab12");
    /* a team member is not the lead; another agency's officer; bad fields */
    assert_int_equal(review(f, &insp2, id, false, CPM__OUTCOME__OUTCOME_FINED, 0, &err),
                     CPM_E_FORBIDDEN);
    assert_int_equal(review(f, &foreign, id, false, CPM__OUTCOME__OUTCOME_FINED, 0, &err),
                     CPM_E_FORBIDDEN);
    assert_int_equal(review(f, &officer, id, false, 0, 0, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "outcome");
    assert_int_equal(review(f, &officer, id, false, CPM__OUTCOME__OUTCOME_NO_VIOLATION, 5, &err),
                     CPM_E_INVALID);
    assert_string_equal(err.field, "fine_vnd");
    assert_int_equal(review(f, &officer, id, true, 0, 0, &err), CPM_E_CONFLICT); /* close */
    assert_int_equal(events(f), before);
    int64_t sum;
    assert_int_equal(violations(f, &sum), 0);
    /* the show: three records and the later version, f-2 in conflict both times */
    Cpm__InspectionQuery q = CPM__INSPECTION_QUERY__INIT;
    q.id = id;
    Cpm__InspectionReply r = CPM__INSPECTION_REPLY__INIT;
    MDB_txn *txn = dom_begin(f->env.st, false);
    assert_int_equal(inspection_plan_query(&f->p, f->env.st, txn, &insp2, &q, &r, &err), 0);
    cpm_store_abort(&txn);
    assert_int_equal(r.n_records, 4);
    size_t conflicts = 0;
    for (size_t i = 0; i < r.n_records; i++)
        conflicts += r.records[i]->conflict && !strcmp(r.records[i]->id, "f-2");
    assert_int_equal(conflicts, 2);
    assert_false(r.records[0]->conflict);
    inspection_reply_clear(&r);
    /* the lead reviews: fined with the sum the accepted findings propose */
    assert_int_equal(review(f, &insp1, id, false, CPM__OUTCOME__OUTCOME_FINED, 0, &err), 0);
    Cpm__Inspection *in = get(f, id);
    assert_int_equal(in->state, CPM__INSPECTION_STATE__INSPECTION_STATE_REVIEWED);
    assert_int_equal(in->fine_vnd, 12000000);
    assert_int_equal(in->outcome, CPM__OUTCOME__OUTCOME_FINED);
    cpm__inspection__free_unpacked(in, NULL);
    assert_int_equal(violations(f, &sum), 2);
    assert_int_equal(sum, 12000000);
    /* the case: accepted then resolved, fined, by the reviewer; routing hears both */
    txn = dom_begin(f->env.st, false);
    Cpm__InspectionCase *c = inspection_case(f->env.st, txn, TICKET);
    uint64_t queued = dom_outbox_depth(f->env.st, txn, STREAM);
    cpm_store_abort(&txn);
    assert_int_equal(c->state, CPM__CASE_STATE__CASE_STATE_RESOLVED);
    assert_string_equal(c->history[c->n_history - 1]->actor, INSP1);
    assert_int_equal(c->history[c->n_history - 1]->outcome, CPM__OUTCOME__OUTCOME_FINED);
    cpm__inspection_case__free_unpacked(c, NULL);
    assert_int_equal(queued, 2);
    assert_string_equal(f->env.rec.events[f->env.rec.n_events - 1].kind, "inspection.reviewed");
    /* reviewed: no second review, no assignment; close, then nothing */
    assert_int_equal(review(f, &officer, id, false, CPM__OUTCOME__OUTCOME_NO_VIOLATION, 0, &err),
                     CPM_E_CONFLICT);
    assert_int_equal(assign(f, &officer, id, INSP2, NULL, 0, &err), CPM_E_CONFLICT);
    assert_int_equal(review(f, &officer, id, true, 0, 0, &err), 0);
    assert_string_equal(f->env.rec.events[f->env.rec.n_events - 1].kind, "inspection.closed");
    assert_int_equal(review(f, &officer, id, true, 0, 0, &err), CPM_E_CONFLICT);
}

static void test_review_without_findings(void **state)
{
    fixture_t *f = *state;
    char id[INSPECTION_ID_MAX];
    plan_from_case(f, id);
    cpm_error_t err = {0};
    assert_int_equal(assign(f, &officer, id, INSP1, NULL, 0, &err), 0);
    /* fined needs a fine when no finding proposes one */
    assert_int_equal(review(f, &officer, id, false, CPM__OUTCOME__OUTCOME_FINED, 0, &err),
                     CPM_E_INVALID);
    assert_string_equal(err.field, "fine_vnd");
    assert_int_equal(review(f, &officer, id, false, CPM__OUTCOME__OUTCOME_FINED, 3000000, &err), 0);
    int64_t sum;
    assert_int_equal(violations(f, &sum), 1); /* one summary record */
    assert_int_equal(sum, 3000000);
}

static void test_query(void **state)
{
    fixture_t *f = *state;
    char a[INSPECTION_ID_MAX], b[INSPECTION_ID_MAX];
    plan_from_case(f, a);
    plan_from_case(f, b);
    cpm_error_t err = {0};
    assert_int_equal(assign(f, &officer, b, INSP2, NULL, 0, &err), 0);
    Cpm__InspectionQuery q = CPM__INSPECTION_QUERY__INIT;
    Cpm__InspectionReply r = CPM__INSPECTION_REPLY__INIT;
    MDB_txn *txn = dom_begin(f->env.st, false);
    assert_int_equal(inspection_plan_query(&f->p, f->env.st, txn, &officer, &q, &r, &err), 0);
    assert_int_equal(r.n_inspections, 2);
    inspection_reply_clear(&r);
    q.limit = 1; /* pages */
    assert_int_equal(inspection_plan_query(&f->p, f->env.st, txn, &officer, &q, &r, &err), 0);
    assert_int_equal(r.n_inspections, 1);
    assert_string_equal(r.next_cursor, a);
    q.cursor = a;
    inspection_reply_clear(&r);
    assert_int_equal(inspection_plan_query(&f->p, f->env.st, txn, &officer, &q, &r, &err), 0);
    assert_int_equal(r.n_inspections, 1);
    assert_string_equal(r.inspections[0]->id, b);
    assert_string_equal(r.next_cursor, "");
    inspection_reply_clear(&r);
    q.cursor = "";
    q.limit = 0;
    /* an inspector sees their own only */
    assert_int_equal(inspection_plan_query(&f->p, f->env.st, txn, &insp1, &q, &r, &err), 0);
    assert_int_equal(r.n_inspections, 0);
    inspection_reply_clear(&r);
    q.id = b;
    assert_int_equal(inspection_plan_query(&f->p, f->env.st, txn, &insp1, &q, &r, &err),
                     CPM_E_FORBIDDEN);
    inspection_reply_clear(&r);
    assert_int_equal(inspection_plan_query(&f->p, f->env.st, txn, &foreign, &q, &r, &err),
                     CPM_E_FORBIDDEN);
    q.id = "";
    q.limit = INSPECTION_LIST_MAX + 1;
    assert_int_equal(inspection_plan_query(&f->p, f->env.st, txn, &officer, &q, &r, &err),
                     CPM_E_INVALID);
    assert_string_equal(err.field, "limit");
    cpm_store_abort(&txn);
}

/* A load error names the line of the file. */
static void load_fails(fixture_t *f, const char *text, const char *line)
{
    char path[128];
    snprintf(path, sizeof path, "%s/bad.yaml", f->env.dir);
    write_file(path, text);
    inspection_checklists_t *l = NULL;
    cpm_error_t err = {0};
    assert_int_equal(inspection_checklists_load(path, &l, &err), CPM_E_INVALID);
    assert_null(l);
    assert_string_equal(err.field, "checklists");
    if (!strstr(err.message, line))
        fail_msg("'%s' does not say %s", err.message, line);
}

static void test_checklist_errors(void **state)
{
    fixture_t *f = *state;
    load_fails(f,
               "templates:\n  - category: pricing\n    items:\n      - {code: a, text: x}\n"
               "      - {code: a, text: y}\n",
               "line 5: item code a appears twice");
    load_fails(f, "templates:\n  - category: pricing\n    items:\n      - {code: 'a b', text: x}\n",
               "line 4:");
    load_fails(f, "templates:\n  - category: pricing\n    itemz: []\n",
               "line 3: unknown field itemz");
    load_fails(f, "templates:\n  - {category: [x\n", "line 3");
    load_fails(f, "templates:\n  - category: pricing\n    items:\n      - {code: a, text: \"\"}\n",
               "line 4: item a: text");
    /* the shipped file loads */
    char path[512];
    const char *src = getenv("CPM_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/deploy/hanoi/checklists.yaml", src ? src : ".");
    inspection_checklists_t *l = NULL;
    cpm_error_t err = {0};
    if (inspection_checklists_load(path, &l, &err) != 0)
        fail_msg("%s", err.message);
    size_t n = 0;
    assert_non_null(inspection_checklist_for(l, "food_safety", &n));
    assert_true(n > 3);
    assert_non_null(inspection_checklist_for(l, "telecom", &n)); /* default */
    inspection_checklists_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plan_from_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_campaign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_assign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_review_with_findings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_review_without_findings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checklist_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
