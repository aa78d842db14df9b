/* Tests for routing_contact on a real store, without sockets: the contact
 * that the old agency re-sealed goes on to the agency holding the case as an
 * Assignment with contact_only, and nothing out of place is passed on (a
 * sender that did not hand the case over, a contact for another agency, an
 * unknown ticket, oversized or missing bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_seal.h"
#include "routing_contact.h"
#include "routing_domain.h"
#include "routing_transfer.h"

#define SELF "hn.doit/routing"
#define INTAKE "hn.d.hoan-kiem"
#define RECEIVED dom_vn_time(2026, 3, 2, 10, 0)
#define T "HK-00000001"

static const char *const dbs[] = ROUTING_DBS;
static uint8_t SEALED[] = "\x01opaque sealed contact bytes\x02";
static uint8_t RESEALED[] = "\x03bytes sealed again for hn.qltt\x04";

/* An urgent food case in hoan-kiem (R01: hn.attp), then moved by a
 * coordinator to hn.qltt. */
static int setup(void **state)
{
    dom_env_t *f = dom_env_new(sizeof(dom_env_t), "rcontact", dbs, DOM_RULES | DOM_REGISTRY, SELF,
                               RECEIVED + 60 * 1000);
    *state = f;
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = T;
    c.channel = "hotline";
    c.sealed_contact.data = SEALED;
    c.sealed_contact.len = sizeof SEALED;
    c.contact_for = "hn.attp";
    c.business_name = "Pho Ngon Co.";
    c.area = "hoan-kiem";
    c.category = "food_safety";
    c.description = "Food poisoning after lunch.";
    c.intake_node = INTAKE;
    c.urgent = true;
    c.received_ms = RECEIVED;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, true);
    assert_int_equal(dom_end(txn, routing_apply_complaint(f->rules, f->reg, f->st, txn, &f->fx,
                                                          INTAKE, &c, f->now, &err)),
                     0);
    Cpm__Member m = CPM__MEMBER__INIT;
    m.id = "coord";
    m.role = "coordinator";
    m.agency = "hn.doit";
    Cpm__CaseAssign q = CPM__CASE_ASSIGN__INIT;
    q.ticket = T;
    q.agency = "hn.qltt";
    q.note = "";
    Cpm__CaseState st;
    bool dup;
    txn = dom_begin(f->st, true);
    assert_int_equal(dom_end(txn, routing_case_assign(f->rules, f->reg, f->st, txn, &f->fx, &m, &q,
                                                      f->now, &st, &dup, &err)),
                     0);
    dom_fx_clear(&f->rec);
    return 0;
}

static int follow(dom_env_t *f, const char *sender, const char *ticket, const char *to,
                  uint8_t *bytes, size_t len, cpm_error_t *err)
{
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = (char *)ticket;
    u.state = CPM__CASE_STATE__CASE_STATE_TRANSFERRED;
    u.agency = (char *)sender;
    u.actor = (char *)sender;
    u.at_ms = f->now;
    u.sealed_contact.data = bytes;
    u.sealed_contact.len = len;
    u.contact_for = (char *)to;
    assert_true(routing_contact_is_follow(&u));
    MDB_txn *txn = dom_begin(f->st, true);
    return dom_end(txn, routing_contact_follow(f->st, txn, &f->fx, sender, &u, err));
}

static void test_follows_to_the_holder(void **state)
{
    dom_env_t *f = *state;
    cpm_error_t err = {0};
    assert_int_equal(follow(f, "hn.attp", T, "hn.qltt", RESEALED, sizeof RESEALED, &err), 0);
    assert_int_equal(f->rec.n_sent, 1);
    assert_string_equal(f->rec.sent[0].member, "hn.qltt");
    assert_string_equal(f->rec.sent[0].type, "Assignment");
    Cpm__Assignment *a = cpm__assignment__unpack(NULL, f->rec.sent[0].len, f->rec.sent[0].rec);
    assert_non_null(a);
    assert_true(a->contact_only);
    assert_false(a->withdrawn);
    assert_string_equal(a->agency, "hn.qltt");
    assert_string_equal(a->previous_agency, "hn.attp");
    assert_string_equal(a->complaint->ticket, T);
    assert_string_equal(a->complaint->contact_for, "hn.qltt");
    assert_int_equal(a->complaint->sealed_contact.len, sizeof RESEALED);
    assert_memory_equal(a->complaint->sealed_contact.data, RESEALED, sizeof RESEALED);
    cpm__assignment__free_unpacked(a, NULL);
    /* the kept copy stays without a contact */
    int rc;
    MDB_txn *txn = dom_begin(f->st, false);
    Cpm__Complaint *c = routing_copy_get(f->st, txn, T, &rc);
    cpm_store_abort(&txn);
    assert_non_null(c);
    assert_int_equal(c->sealed_contact.len, 0);
    assert_string_equal(c->contact_for, "");
    cpm__complaint__free_unpacked(c, NULL);
}

static void test_out_of_place_refused(void **state)
{
    dom_env_t *f = *state;
    cpm_error_t err = {0};
    /* a sender that did not hand the case over */
    assert_int_equal(follow(f, "hn.d.hoan-kiem", T, "hn.qltt", RESEALED, sizeof RESEALED, &err),
                     CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "agency");
    /* the agency now holding the case cannot send it to itself either */
    assert_int_equal(follow(f, "hn.qltt", T, "hn.qltt", RESEALED, sizeof RESEALED, &err),
                     CPM_E_FORBIDDEN);
    /* sealed for an agency that does not hold the case */
    assert_int_equal(follow(f, "hn.attp", T, "hn.doit", RESEALED, sizeof RESEALED, &err),
                     CPM_E_CONFLICT);
    assert_string_equal(err.field, "contact_for");
    /* not a member id */
    assert_int_equal(follow(f, "hn.attp", T, "bad id!", RESEALED, sizeof RESEALED, &err),
                     CPM_E_INVALID);
    assert_string_equal(err.field, "contact_for");
    /* unknown ticket, bad ticket */
    assert_int_equal(
        follow(f, "hn.attp", "HK-00009999", "hn.qltt", RESEALED, sizeof RESEALED, &err),
        CPM_E_NOT_FOUND);
    assert_int_equal(follow(f, "hn.attp", "nope", "hn.qltt", RESEALED, sizeof RESEALED, &err),
                     CPM_E_INVALID);
    assert_string_equal(err.field, "ticket");
    /* no bytes, too many bytes */
    assert_int_equal(follow(f, "hn.attp", T, "hn.qltt", NULL, 0, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "sealed_contact");
    static uint8_t big[CPM_SEAL_MAX + 1];
    assert_int_equal(follow(f, "hn.attp", T, "hn.qltt", big, sizeof big, &err), CPM_E_TOO_LARGE);
    assert_string_equal(err.field, "sealed_contact");
    assert_int_equal(f->rec.n_sent, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_follows_to_the_holder, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_place_refused, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
