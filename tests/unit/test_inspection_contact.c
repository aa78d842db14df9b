/* Tests for inspection_contact on real stores, without sockets: the old
 * agency's node re-seals the contact for the new agency when the withdrawal
 * notice arrives (once, its own copy wiped), the new agency's node stores it
 * and opens it, and a follow-up that is out of place is refused and counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_seal.h"
#include "inspection_contact.h"
#include "inspection_domain.h"

#define OLD "hn.d.hoan-kiem"
#define NEW "hn.qltt"
#define ROUTING "hn.doit"
#define T "HK-00000001"
#define PHONE "0912 345 678"

static const char *const dbs[] = INSPECTION_DBS;

typedef struct {
    dom_env_t *a, *b;      /* the old and the new agency's stores */
    cpm_identity_t ka, kb; /* their transport keys */
    inspection_t ia, ib;   /* their inspection services */
    int forwarded, received, refused, dropped;
    bool peer_known;
} fixture_t;

static const uint8_t *peer_key(void *ctx, const char *member)
{
    fixture_t *f = ctx;
    return f->peer_known && !strcmp(member, NEW) ? f->kb.curve_pk : NULL;
}

static void count(void *ctx, const char *name)
{
    fixture_t *f = ctx;
    f->forwarded += !strcmp(name, "contact.forwarded");
    f->received += !strcmp(name, "contact.received");
    f->refused += !strcmp(name, "contact.refused");
    f->dropped += !strcmp(name, "contact.dropped");
}

/* ticket with a card naming card_ticket sealed for sealed_for (NULL: none). */
static int apply(dom_env_t *e, const inspection_t *in, const char *ticket, const char *sealed_for,
                 const char *card_ticket, bool withdrawn, bool contact_only, cpm_error_t *err)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = (char *)ticket;
    c.channel = "hotline";
    uint8_t *sealed = NULL;
    if (sealed_for) {
        Cpm__ContactCard k = CPM__CONTACT_CARD__INIT;
        k.ticket = (char *)card_ticket;
        k.phone = PHONE;
        cpm_identity_t key;
        dom_identity(sealed_for, &key);
        assert_int_equal(cpm_seal_contact(&k, key.curve_pk, &sealed, &c.sealed_contact.len), 0);
        cpm_identity_wipe(&key);
        c.sealed_contact.data = sealed;
        c.contact_for = (char *)sealed_for;
    }
    c.business_name = "Pho Ngon Co.";
    c.area = "hoan-kiem";
    c.category = "pricing";
    c.description = "Price tag differs.";
    c.intake_node = OLD;
    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    a.complaint = &c;
    a.agency = (char *)in->node;
    a.rule_id = "R04-pricing";
    a.routed_ms = e->now - 1000;
    a.withdrawn = withdrawn;
    a.transferred_to = withdrawn ? NEW : "";
    a.contact_only = contact_only;
    a.previous_agency = contact_only ? OLD : "";
    MDB_txn *txn = dom_begin(e->st, true);
    int rc = dom_end(txn, inspection_apply_assignment(in, e->st, txn, &e->fx, &a, e->now, err));
    free(sealed);
    return rc;
}

static const char *status_at(const inspection_t *in, dom_env_t *e, const char *ticket,
                             char phone[32])
{
    inspection_view_t v;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(e->st, false);
    assert_int_equal(inspection_show(in, e->st, txn, ticket, &v, &err), 0);
    cpm_store_abort(&txn);
    snprintf(phone, 32, "%s", v.contact ? v.contact->phone : "");
    cpm__contact_card__free_unpacked(v.contact, NULL);
    return v.contact_status;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    int64_t now = dom_vn_time(2026, 3, 2, 11, 0);
    f->a = dom_env_new(sizeof(dom_env_t), "icontact-a", dbs, 0, OLD "/inspection", now);
    f->b = dom_env_new(sizeof(dom_env_t), "icontact-b", dbs, 0, NEW "/inspection", now);
    dom_identity(OLD, &f->ka);
    dom_identity(NEW, &f->kb);
    inspection_t ia = {OLD, ROUTING, f->ka.curve_pk, f->ka.curve_sk, 0, 0, peer_key, count, f, 0};
    inspection_t ib = {NEW, ROUTING, f->kb.curve_pk, f->kb.curve_sk, 0, 0, peer_key, count, f, 0};
    f->ia = ia;
    f->ib = ib;
    f->peer_known = true;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    void *p = f->a;
    dom_env_teardown(&p);
    p = f->b;
    dom_env_teardown(&p);
    cpm_identity_wipe(&f->ka);
    cpm_identity_wipe(&f->kb);
    free(f);
    return 0;
}

static void test_contact_follows(void **state)
{
    fixture_t *f = *state;
    cpm_error_t err = {0};
    char phone[32];
    /* the old agency holds the case with its contact; the new one without */
    assert_int_equal(apply(f->a, &f->ia, T, OLD, T, false, false, &err), 0);
    assert_int_equal(apply(f->b, &f->ib, T, NULL, NULL, false, false, &err), 0);
    assert_string_equal(status_at(&f->ib, f->b, T, phone), "none");
    dom_fx_clear(&f->a->rec);

    /* the withdrawal notice: transferred, and the contact re-sealed for NEW */
    assert_int_equal(apply(f->a, &f->ia, T, NULL, NULL, true, false, &err), 0);
    assert_int_equal(f->forwarded, 1);
    assert_string_equal(status_at(&f->ia, f->a, T, phone), "none");
    assert_string_equal(phone, "");
    dom_sent_t *s = NULL;
    for (size_t i = 0; i < f->a->rec.n_sent; i++)
        if (!strcmp(f->a->rec.sent[i].type, "CaseUpdate"))
            s = &f->a->rec.sent[i];
    assert_non_null(s);
    assert_string_equal(s->member, ROUTING);
    Cpm__CaseUpdate *u = cpm__case_update__unpack(NULL, s->len, s->rec);
    assert_non_null(u);
    assert_string_equal(u->contact_for, NEW);
    assert_string_equal(u->agency, OLD);
    assert_int_equal(u->state, CPM__CASE_STATE__CASE_STATE_TRANSFERRED);
    int rc;
    Cpm__ContactCard *card = cpm_seal_open(u->sealed_contact.data, u->sealed_contact.len,
                                           f->kb.curve_pk, f->kb.curve_sk, T, &rc);
    assert_non_null(card);
    assert_string_equal(card->phone, PHONE);
    cpm__contact_card__free_unpacked(card, NULL);
    /* the same notice again: nothing more to send */
    size_t n = f->a->rec.n_sent;
    assert_int_equal(apply(f->a, &f->ia, T, NULL, NULL, true, false, &err), 0);
    assert_int_equal(f->a->rec.n_sent, n);
    assert_int_equal(f->forwarded, 1);

    /* routing passes it on (routing_contact); the new node stores it */
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = T;
    c.channel = "hotline";
    c.business_name = "Pho Ngon Co.";
    c.area = "hoan-kiem";
    c.category = "pricing";
    c.description = "Price tag differs.";
    c.intake_node = OLD;
    c.sealed_contact = u->sealed_contact;
    c.contact_for = NEW;
    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    a.complaint = &c;
    a.agency = NEW;
    a.rule_id = "R04-pricing";
    a.previous_agency = OLD;
    a.contact_only = true;
    MDB_txn *txn = dom_begin(f->b->st, true);
    assert_int_equal(dom_end(txn, inspection_apply_assignment(&f->ib, f->b->st, txn, &f->b->fx, &a,
                                                              f->b->now, &err)),
                     0);
    cpm__case_update__free_unpacked(u, NULL);
    assert_int_equal(f->received, 1);
    assert_string_equal(status_at(&f->ib, f->b, T, phone), "open");
    assert_string_equal(phone, PHONE);
}

static void test_out_of_place_refused(void **state)
{
    fixture_t *f = *state;
    cpm_error_t err = {0};
    char phone[32];
    assert_int_equal(apply(f->b, &f->ib, T, NULL, NULL, false, false, &err), 0);
    /* sealed for another member */
    assert_int_equal(apply(f->b, &f->ib, T, OLD, T, false, true, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "contact_for");
    /* a card of another case */
    assert_int_equal(apply(f->b, &f->ib, T, NEW, "HK-00000002", false, true, &err), CPM_E_CONFLICT);
    assert_string_equal(err.field, "sealed_contact");
    /* no contact at all */
    assert_int_equal(apply(f->b, &f->ib, T, NULL, NULL, false, true, &err), CPM_E_INVALID);
    /* a case this node does not hold */
    assert_int_equal(apply(f->b, &f->ib, "HK-00000002", NEW, "HK-00000002", false, true, &err),
                     CPM_E_CONFLICT);
    assert_string_equal(err.field, "ticket");
    assert_int_equal(f->refused, 4);
    assert_int_equal(f->received, 0);
    assert_string_equal(status_at(&f->ib, f->b, T, phone), "none");

    /* the new agency has no key in the registry: the case moves, the
     * contact is dropped rather than kept by an agency that no longer
     * handles the case */
    f->peer_known = false;
    assert_int_equal(apply(f->a, &f->ia, T, OLD, T, false, false, &err), 0);
    assert_string_equal(status_at(&f->ia, f->a, T, phone), "open");
    dom_fx_clear(&f->a->rec);
    assert_int_equal(apply(f->a, &f->ia, T, NULL, NULL, true, false, &err), 0);
    assert_int_equal(f->dropped, 1);
    assert_int_equal(f->forwarded, 0);
    assert_string_equal(status_at(&f->ia, f->a, T, phone), "none");
    for (size_t i = 0; i < f->a->rec.n_sent; i++)
        assert_string_not_equal(f->a->rec.sent[i].type, "CaseUpdate");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_contact_follows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_place_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
