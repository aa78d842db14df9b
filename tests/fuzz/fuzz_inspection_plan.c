/* Fuzz target: a supervisor's or inspector's InspectionPlan, InspectionAssign,
 * InspectionReview or InspectionQuery as the agency's inspection service
 * handles it (inspection_plan_new / _assign / inspection_review /
 * inspection_plan_query) with two checklist templates, on a store
 * holding case FF_TICKET, inspection FF_I1 (assigned, with a finding and a
 * proposed outcome) and FF_I2 (planned), in a transaction aborted after each
 * input.
 *
 * The first byte picks the message (bits 0-1: plan, assign, review, query)
 * and who asks (bits 2-4: the agency's officer, the city's coordinator,
 * another agency's officer, inspector1 (FF_I1's lead), inspector2, an
 * unknown member). When the request succeeds, a query shows the inspection
 * it returned, and a review that succeeded is followed by a close. */
#include "fuzz_field.h"

#include "inspection_review.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const inspection_who_t whos[] = {
    {"officer.hn.d.x", "officer", FF_NODE},    {"coordinator.hn.doit", "coordinator", "hn.doit"},
    {"officer.hn.d.y", "officer", "hn.d.y"},   {FF_INS1, "inspector", FF_NODE},
    {FF_INS2, "inspector", FF_NODE},           {"nobody.hn.d.x", "", ""},
    {"officer.hn.d.x", "department", FF_NODE}, {FF_INS1, "officer", FF_NODE},
};

static const char lists_yaml[] =
    "templates:\n"
    "  - category: default\n"
    "    items:\n"
    "      - {code: license, text: \"Giấy phép kinh doanh\"}\n"
    "  - category: food_safety\n"
    "    items:\n"
    "      - {code: food-safety-cert, text: \"Giấy chứng nhận ATTP\"}\n"
    "      - {code: price-posted, text: \"Niêm yết giá\"}\n";

static const inspection_plans_t *plans(void)
{
    static inspection_checklists_t *lists;
    static inspection_plans_t p;
    if (!lists) {
        char path[1024];
        if (fz_write_file("plan-checklists.yaml", (const uint8_t *)lists_yaml,
                          sizeof lists_yaml - 1, path) != 0)
            fz_die("write", path);
        cpm_error_t err = {0};
        if (inspection_checklists_load(path, &lists, &err) != 0)
            fz_die(path, err.message);
        p = (inspection_plans_t){FF_NODE, lists, ff_registry()};
    }
    return &p;
}

/* Show the first inspection r holds, as who. */
static void show(const inspection_plans_t *p, cpm_store_t *st, MDB_txn *txn,
                 const inspection_who_t *who, const Cpm__InspectionReply *r)
{
    if (r->n_inspections == 0)
        return;
    Cpm__InspectionQuery q = CPM__INSPECTION_QUERY__INIT;
    q.id = r->inspections[0]->id;
    Cpm__InspectionReply s = CPM__INSPECTION_REPLY__INIT;
    cpm_error_t err = {0};
    (void)inspection_plan_query(p, st, txn, who, &q, &s, &err);
    inspection_reply_clear(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    data++, size--;
    const inspection_plans_t *p = plans();
    cpm_store_t *st = ff_store();
    cpm_effects_t fx = fz_effects(st, FF_NODE "/inspection");
    const inspection_t cases = {.node = FF_NODE, .routing = FF_ROUTING};
    const inspection_who_t *who = &whos[(mode >> 2) & 7];
    Cpm__InspectionReply r = CPM__INSPECTION_REPLY__INIT;
    cpm_error_t err = {0};
    MDB_txn *txn = NULL;
    if (cpm_store_begin(st, true, &txn) != 0)
        fz_die("begin", "store");
    int rc = -1;
    switch (mode & 3) {
    case 0: {
        Cpm__InspectionPlan *m = cpm__inspection_plan__unpack(NULL, size, data);
        if (m) {
            rc = inspection_plan_new(p, st, txn, &fx, who, m, fz_now_ms(), &r, &err);
            cpm__inspection_plan__free_unpacked(m, NULL);
        }
        break;
    }
    case 1: {
        Cpm__InspectionAssign *m = cpm__inspection_assign__unpack(NULL, size, data);
        if (m) {
            rc = inspection_plan_assign(p, st, txn, &fx, who, m, fz_now_ms(), &r, &err);
            cpm__inspection_assign__free_unpacked(m, NULL);
        }
        break;
    }
    case 2: {
        Cpm__InspectionReview *m = cpm__inspection_review__unpack(NULL, size, data);
        if (m) {
            rc = inspection_review(p, &cases, st, txn, &fx, who, m, fz_now_ms(), &r, &err);
            if (rc == 0 && !m->close) {
                Cpm__InspectionReply c = CPM__INSPECTION_REPLY__INIT;
                m->close = true;
                (void)inspection_review(p, &cases, st, txn, &fx, who, m, fz_now_ms(), &c, &err);
                inspection_reply_clear(&c);
            }
            cpm__inspection_review__free_unpacked(m, NULL);
        }
        break;
    }
    default: {
        Cpm__InspectionQuery *m = cpm__inspection_query__unpack(NULL, size, data);
        if (m) {
            rc = inspection_plan_query(p, st, txn, who, m, &r, &err);
            cpm__inspection_query__free_unpacked(m, NULL);
        }
    }
    }
    if (rc == 0 && (mode & 3) != 3)
        show(p, st, txn, who, &r);
    inspection_reply_clear(&r);
    cpm_store_abort(&txn);
    return 0;
}
