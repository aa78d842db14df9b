/* Tests for what issue 13 cut from intake's per-complaint work: the newest
 * outbox number read in one lookup (cpm_outbox_last, which must equal
 * acked + depth, what intake read before), and the stream name intake now
 * builds once per routing member: a complaint's sealed contact is tracked
 * under the record routing really gets, also after routing moved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "fixtures/places/places_fixture.h"
#include "cpm_util.h"
#include "intake_domain.h"

#define NODE "hn.d.hoan-kiem"

static const char *const dbs[] = INTAKE_DBS;

/* acked + depth, as intake computed it before */
static uint64_t acked_plus_depth(cpm_store_t *st, MDB_txn *txn, const char *stream)
{
    uint64_t acked = 99, depth = 99;
    assert_int_equal(cpm_outbox_acked(st, txn, stream, &acked), 0);
    assert_int_equal(cpm_outbox_depth(st, txn, stream, &depth), 0);
    return acked + depth;
}

static void test_outbox_last(void **state)
{
    (void)state;
    dom_env_t e;
    dom_env_open(&e, "outbox-last", dbs, 0, NODE "/intake", 0);
    const char *s = "a/x>b/y";
    MDB_txn *txn = dom_begin(e.st, true);
    uint64_t last = 99, seq = 0;
    assert_int_equal(cpm_outbox_last(e.st, txn, s, &last), 0);
    assert_int_equal(last, 0); /* a stream never used */
    assert_int_equal(acked_plus_depth(e.st, txn, s), 0);
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(cpm_outbox_put(e.st, txn, s, (const uint8_t *)"r", 1, &seq), 0);
        assert_int_equal(cpm_outbox_last(e.st, txn, s, &last), 0);
        assert_int_equal(last, seq);
        assert_int_equal(last, acked_plus_depth(e.st, txn, s));
    }
    assert_int_equal(cpm_outbox_ack(e.st, txn, s, 3), 0); /* some acknowledged */
    assert_int_equal(cpm_outbox_last(e.st, txn, s, &last), 0);
    assert_int_equal(last, 5);
    assert_int_equal(last, acked_plus_depth(e.st, txn, s));
    assert_int_equal(cpm_outbox_ack(e.st, txn, s, 5), 0); /* all of them */
    assert_int_equal(cpm_outbox_last(e.st, txn, s, &last), 0);
    assert_int_equal(last, 5);
    assert_int_equal(last, acked_plus_depth(e.st, txn, s));
    assert_int_equal(cpm_outbox_last(e.st, txn, "", &last), CPM_E_INVALID);
    cpm_store_abort(&txn);
    dom_env_close(&e);
}

static Cpm__Complaint *complaint(const char *ref)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.channel = "hotline";
    c.consumer_name = "Nguyen Thi Lan";
    c.consumer_phone = "0912 345 678";
    c.business_name = "Pho Ngon Co.";
    c.area = "hoan-kiem";
    c.category = "food_safety";
    c.description = "Food poisoning after lunch.";
    c.client_ref = (char *)ref;
    uint8_t buf[4096];
    size_t len = cpm__complaint__pack(&c, buf);
    Cpm__Complaint *out = cpm__complaint__unpack(NULL, len, buf);
    assert_non_null(out);
    return out;
}

/* The contacts entry "p\x1f<stream>\0<seq BE>" names ticket. */
static void assert_tracked(cpm_store_t *st, const char *stream, uint64_t seq, const char *ticket)
{
    uint8_t k[512];
    size_t sl = strlen(stream);
    k[0] = 'p';
    k[1] = 0x1f;
    memcpy(k + 2, stream, sl + 1);
    cpm_put_be64(k + 3 + sl, seq);
    const void *v;
    size_t vlen;
    MDB_txn *txn = dom_begin(st, false);
    assert_int_equal(cpm_store_get(st, txn, INTAKE_CONTACTS_DB, k, sl + 11, &v, &vlen), 0);
    assert_int_equal(vlen, strlen(ticket));
    assert_memory_equal(v, ticket, vlen);
    cpm_store_abort(&txn);
}

static void submit(dom_env_t *e, intake_t *in, const char *ref, char ticket[INTAKE_TICKET_MAX])
{
    Cpm__Complaint *c = complaint(ref);
    bool dup = true;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(e->st, true);
    int rc =
        dom_end(txn, intake_submit(in, e->st, txn, &e->fx, "op.1", c, e->now, ticket, &dup, &err));
    if (rc != 0)
        fail_msg("submit: %d %s: %s", rc, err.field, err.message);
    cpm__complaint__free_unpacked(c, NULL);
}

static void test_tracked_on_the_routing_stream(void **state)
{
    (void)state;
    dom_env_t e;
    dom_env_open(&e, "intake-cpu", dbs, DOM_RULES | DOM_REGISTRY, NODE "/intake",
                 dom_vn_time(2026, 3, 2, 10, 0));
    intake_t *in = intake_new(e.rules, NODE, "HK", "hn.doit");
    assert_non_null(in);
    intake_set_registry(in, e.reg);
    intake_set_places(in, places, NULL);
    char t1[INTAKE_TICKET_MAX], t2[INTAKE_TICKET_MAX], t3[INTAKE_TICKET_MAX];
    submit(&e, in, "r1", t1);
    submit(&e, in, "r2", t2);
    assert_tracked(e.st, NODE "/intake>hn.doit/routing", 1, t1);
    assert_tracked(e.st, NODE "/intake>hn.doit/routing", 2, t2);
    /* routing moved (a registry reload): the next record and its tracking
     * go to the new member's stream, numbered from 1 there */
    intake_set_routing(in, "hn.attp");
    submit(&e, in, "r3", t3);
    assert_int_equal(e.rec.n_sent, 3);
    assert_string_equal(e.rec.sent[2].stream, NODE "/intake>hn.attp/routing");
    assert_int_equal(e.rec.sent[2].seq, 1);
    assert_tracked(e.st, NODE "/intake>hn.attp/routing", 1, t3);
    /* no routing member: refused before anything is queued or tracked */
    intake_set_routing(in, NULL);
    Cpm__Complaint *c = complaint("r4");
    char t4[INTAKE_TICKET_MAX];
    bool dup = false;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(e.st, true);
    assert_int_equal(
        dom_end(txn, intake_submit(in, e.st, txn, &e.fx, "op.1", c, e.now, t4, &dup, &err)),
        CPM_E_UNAVAILABLE);
    cpm__complaint__free_unpacked(c, NULL);
    intake_destroy(&in);
    dom_env_close(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outbox_last),
        cmocka_unit_test(test_tracked_on_the_routing_stream),
    };
    return cmocka_run_group_tests(tests, places_setup, places_teardown);
}
