/* Tests for intake_domain on a real store, without sockets: tickets, client
 * references, what is queued for routing and logged, consultations, and what
 * a refused or failed submission leaves behind (nothing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "fixtures/places/places_fixture.h"
#include "cpm_fields.h"
#include "cpm_seal.h"
#include "cpm_rules_watch.h"
#include "intake_consumer.h"
#include "intake_domain.h"
#include "intake_lookup.h"
#include "intake_validate.h"

#define NODE "hn.d.hoan-kiem"
#define ROUTING "hn.doit"
#define STREAM NODE "/intake>" ROUTING "/routing"
#define OP1 "op.hk.1"
#define OP2 "op.hk.2"
#define PHONE "0912 345 678"
#define EMAIL "lan.nguyen@example.vn"
#define NAME "Nguyen Thi Lan"

static const char *const dbs[] = INTAKE_DBS;

typedef struct {
    dom_env_t env; /* first, for dom_env_teardown */
    intake_t *in;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = dom_env_new(sizeof *f, "intake", dbs, DOM_RULES | DOM_REGISTRY, NODE "/intake",
                               dom_vn_time(2026, 3, 2, 10, 0));
    f->in = intake_new(f->env.rules, NODE, "HK", ROUTING);
    assert_non_null(f->in);
    intake_set_registry(f->in, f->env.reg);
    intake_set_places(f->in, places, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    intake_destroy(&f->in);
    return dom_env_teardown(state);
}

/* A valid complaint as the server hands it over: unpacked, so intake may
 * replace its strings. Free with cpm__complaint__free_unpacked. */
static Cpm__Complaint *complaint(const char *client_ref, const char *category)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.channel = "hotline";
    c.consumer_name = NAME;
    c.consumer_phone = PHONE;
    c.consumer_email = EMAIL;
    c.business_name = "Pho Ngon Co.";
    c.business_address = "12 Hang Bac";
    c.area = "hoan-kiem";
    c.category = (char *)category;
    c.description = "Food poisoning after lunch.";
    c.event_time_ms = dom_vn_time(2026, 3, 1, 12, 0);
    c.client_ref = (char *)client_ref;
    uint8_t buf[4096];
    size_t len = cpm__complaint__pack(&c, buf);
    Cpm__Complaint *out = cpm__complaint__unpack(NULL, len, buf);
    assert_non_null(out);
    return out;
}

static Cpm__Consultation *consultation(const char *client_ref)
{
    Cpm__Consultation c = CPM__CONSULTATION__INIT;
    c.channel = "hotline";
    c.category = "pricing";
    c.summary = "Explained how to ask for a price list.";
    c.duration_s = 300;
    c.client_ref = (char *)client_ref;
    uint8_t buf[4096];
    size_t len = cpm__consultation__pack(&c, buf);
    Cpm__Consultation *out = cpm__consultation__unpack(NULL, len, buf);
    assert_non_null(out);
    return out;
}

/* Submit c from sender in its own transaction (committed on success). */
static int submit(fixture_t *f, const char *sender, Cpm__Complaint *c, char ticket[48], bool *dup,
                  cpm_error_t *err)
{
    MDB_txn *txn = dom_begin(f->env.st, true);
    return dom_end(txn, intake_submit(f->in, f->env.st, txn, &f->env.fx, sender, c, f->env.now,
                                      ticket, dup, err));
}

static int consult(fixture_t *f, const char *sender, Cpm__Consultation *c, char id[48], bool *dup,
                   cpm_error_t *err)
{
    MDB_txn *txn = dom_begin(f->env.st, true);
    return dom_end(txn, intake_consult(f->in, f->env.st, txn, &f->env.fx, sender, c, f->env.now, id,
                                       dup, err));
}

/* Submit a fresh valid complaint; returns its ticket in t. */
static void submit_ok(fixture_t *f, const char *sender, const char *ref, char t[48])
{
    Cpm__Complaint *c = complaint(ref, "food_safety");
    bool dup = true;
    cpm_error_t err = {0};
    int rc = submit(f, sender, c, t, &dup, &err);
    if (rc != 0)
        fail_msg("submit: %d %s: %s", rc, err.field, err.message);
    assert_false(dup);
    cpm__complaint__free_unpacked(c, NULL);
}

/* q's sealed contact opens with member's key and holds the test's contact. */
static void assert_card_opens(const Cpm__Complaint *q, const char *member)
{
    cpm_identity_t key;
    dom_identity(member, &key);
    int rc = -1;
    Cpm__ContactCard *k = cpm_seal_open(q->sealed_contact.data, q->sealed_contact.len, key.curve_pk,
                                        key.curve_sk, q->ticket, &rc);
    cpm_identity_wipe(&key);
    assert_int_equal(rc, 0);
    assert_non_null(k);
    assert_string_equal(k->ticket, q->ticket);
    assert_string_equal(k->name, NAME);
    assert_string_equal(k->phone, PHONE);
    assert_string_equal(k->email, EMAIL);
    cpm__contact_card__free_unpacked(k, NULL);
}

/* What the store holds: events, records queued for routing, tickets issued. */
typedef struct {
    uint64_t events, queued, counter;
} counts_t;

static counts_t counts(cpm_store_t *st)
{
    counts_t c;
    MDB_txn *txn = dom_begin(st, false);
    c.events = dom_event_head(st, txn);
    c.queued = dom_outbox_depth(st, txn, STREAM);
    assert_int_equal(cpm_store_get_u64(st, txn, "intake.ticket", &c.counter), 0);
    cpm_store_abort(&txn);
    return c;
}

static void assert_counts(cpm_store_t *st, uint64_t events, uint64_t queued, uint64_t counter)
{
    counts_t c = counts(st);
    assert_int_equal(c.events, events);
    assert_int_equal(c.queued, queued);
    assert_int_equal(c.counter, counter);
}

/* "<prefix>-<infix><8 digits>" */
static void assert_id_format(const char *id, const char *prefix_infix)
{
    size_t n = strlen(prefix_infix);
    assert_int_equal(strlen(id), n + 8);
    assert_memory_equal(id, prefix_infix, n);
    assert_int_equal(strspn(id + n, "0123456789"), 8);
}

static void test_tickets(void **state)
{
    fixture_t *f = *state;
    char t1[48], t2[48], t3[48];
    submit_ok(f, OP1, "", t1);
    submit_ok(f, OP1, "", t2);
    assert_id_format(t1, "HK-");
    assert_string_equal(t1, "HK-00000001");
    assert_string_equal(t2, "HK-00000002");
    assert_counts(f->env.st, 2, 2, 2);

    /* the counter survives closing and reopening the store */
    cpm_store_destroy(&f->env.st);
    f->env.st = dom_open(f->env.dir, 0, dbs);
    f->env.rec.st = f->env.st;
    submit_ok(f, OP1, "", t3);
    assert_string_equal(t3, "HK-00000003");

    MDB_txn *txn = dom_begin(f->env.st, false);
    Cpm__Complaint *c = intake_complaint(f->env.st, txn, "HK-00000002");
    assert_non_null(c);
    assert_string_equal(c->ticket, "HK-00000002");
    assert_string_equal(c->intake_node, NODE);
    assert_int_equal(c->received_ms, f->env.now);
    /* intake keeps the contact only sealed, for the agency the rules choose */
    assert_string_equal(c->consumer_phone, "");
    assert_string_equal(c->contact_for, NODE);
    assert_true(c->sealed_contact.len > 0);
    cpm__complaint__free_unpacked(c, NULL);
    assert_null(intake_complaint(f->env.st, txn, "HK-00000009"));
    assert_null(intake_complaint(f->env.st, txn, ""));
    cpm_store_abort(&txn);
}

static void test_submit_completes_complaint(void **state)
{
    fixture_t *f = *state;
    Cpm__Complaint *c = complaint("web-1", "food_safety");
    char t[48];
    bool dup = true;
    cpm_error_t err = {0};
    assert_int_equal(submit(f, OP1, c, t, &dup, &err), 0);
    assert_string_equal(c->ticket, t);
    assert_string_equal(c->intake_node, NODE);
    assert_int_equal(c->received_ms, f->env.now);
    cpm__complaint__free_unpacked(c, NULL);
}

/* The record for routing carries the consumer key (keyed hash of the phone),
 * never a key the client sent; without the deployment secret there is none. */
static Cpm__Complaint *queued(fixture_t *f, uint64_t seq)
{
    MDB_txn *txn;
    cpm_outbox_batch_t b;
    assert_int_equal(cpm_store_begin(f->env.st, false, &txn), 0);
    dom_outbox_record(f->env.st, txn, STREAM, seq, &b);
    Cpm__Complaint *q = cpm__complaint__unpack(NULL, b.lens[0], b.recs[0]);
    cpm_outbox_batch_clear(&b);
    cpm_store_abort(&txn);
    assert_non_null(q);
    return q;
}

static void test_consumer_key(void **state)
{
    fixture_t *f = *state;
    char t[48];
    submit_ok(f, OP1, "ref-k0", t); /* no secret yet */
    Cpm__Complaint *q = queued(f, 1);
    assert_int_equal(q->consumer_key.len, 0);
    cpm__complaint__free_unpacked(q, NULL);
    uint8_t secret[32] = {42}, want[32];
    intake_set_consumer_secret(f->in, secret);
    assert_true(intake_consumer_key(secret, "+84 912 345 678", "", want));
    Cpm__Complaint *c = complaint("ref-k1", "food_safety");
    c->consumer_key.data = malloc(32);
    memset(c->consumer_key.data, 0xee, 32); /* a client's attempt to pose as another */
    c->consumer_key.len = 32;
    bool dup = true;
    cpm_error_t err = {0};
    assert_int_equal(submit(f, OP1, c, t, &dup, &err), 0);
    cpm__complaint__free_unpacked(c, NULL);
    q = queued(f, 2);
    assert_int_equal(q->consumer_key.len, 32);
    assert_memory_equal(q->consumer_key.data, want, 32);
    assert_string_equal(q->consumer_phone, ""); /* the contact itself stays sealed */
    cpm__complaint__free_unpacked(q, NULL);
}

/* intake_destroy wipes this thread's keyed copies of the secrets (the
 * lookup code's HMAC, the consumer key's BLAKE2b) that submits made. */
static void test_destroy_forgets_secrets(void **state)
{
    fixture_t *f = *state;
    uint8_t secret[32] = {7};
    intake_set_consumer_secret(f->in, secret);
    char t[48];
    submit_ok(f, OP1, "ref-w1", t);
    assert_true(intake_lookup_keeps());
    assert_true(intake_consumer_keeps());
    intake_destroy(&f->in);
    assert_false(intake_lookup_keeps());
    assert_false(intake_consumer_keeps());
}

static void test_queued_for_routing(void **state)
{
    fixture_t *f = *state;
    char t[48];
    submit_ok(f, OP1, "ref-1", t);

    /* what the seam saw */
    assert_int_equal(f->env.rec.n_sent, 1);
    assert_string_equal(f->env.rec.sent[0].member, ROUTING);
    assert_string_equal(f->env.rec.sent[0].service, "routing");
    /* the complaint as stored: the outbox refers to its bytes */
    assert_string_equal(f->env.rec.sent[0].type, "stored:" INTAKE_COMPLAINTS_DB);
    assert_int_equal(f->env.rec.sent[0].seq, 1);

    /* what the outbox holds */
    MDB_txn *txn;
    cpm_outbox_batch_t b;
    assert_int_equal(cpm_store_begin(f->env.st, false, &txn), 0);
    assert_int_equal(dom_outbox_nstreams(f->env.st, txn), 1);
    dom_outbox_record(f->env.st, txn, STREAM, 1, &b);
    Cpm__Complaint *q = cpm__complaint__unpack(NULL, b.lens[0], b.recs[0]);
    assert_non_null(q);
    assert_string_equal(q->ticket, t);
    assert_string_equal(q->intake_node, NODE);
    assert_int_equal(q->received_ms, f->env.now);
    assert_string_equal(q->channel, "hotline");
    assert_string_equal(q->area, "hoan-kiem");
    assert_string_equal(q->category, "food_safety");
    assert_string_equal(q->business_name, "Pho Ngon Co.");
    assert_string_equal(q->description, "Food poisoning after lunch.");
    assert_string_equal(q->client_ref, "ref-1");
    assert_int_equal(q->event_time_ms, dom_vn_time(2026, 3, 1, 12, 0));
    /* the contact travels sealed to the agency that handles the case: the
     * area office of hoan-kiem for food safety; nothing of it in clear */
    assert_string_equal(q->consumer_phone, "");
    assert_string_equal(q->consumer_email, "");
    assert_string_equal(q->consumer_name, "");
    assert_string_equal(q->contact_for, "hn.d.hoan-kiem");
    assert_false(dom_contains(b.recs[0], b.lens[0], PHONE));
    assert_false(dom_contains(b.recs[0], b.lens[0], NAME));
    assert_false(dom_contains(b.recs[0], b.lens[0], EMAIL));
    assert_card_opens(q, "hn.d.hoan-kiem");
    cpm__complaint__free_unpacked(q, NULL);
    cpm_outbox_batch_clear(&b);

    /* the event: kind, ticket, detail without personal data */
    Cpm__Event **evs = NULL;
    size_t n = dom_events(f->env.st, txn, 1, &evs);
    assert_int_equal(n, 1);
    assert_string_equal(evs[0]->kind, "complaint.received");
    assert_string_equal(evs[0]->ticket, t);
    assert_int_equal(evs[0]->at_ms, f->env.now);
    char d[1024];
    cpm_event_describe(evs[0], d, sizeof d);
    assert_non_null(strstr(d, "channel=hotline"));
    assert_non_null(strstr(d, "place=name")); /* the legacy slug hoan-kiem: that unit */
    assert_string_equal(evs[0]->area, "hoan-kiem");
    assert_string_equal(evs[0]->category, "food_safety");
    assert_int_equal(evs[0]->state, CPM__CASE_STATE__CASE_STATE_RECEIVED);
    assert_null(strstr(d, PHONE));
    assert_null(strstr(d, EMAIL));
    assert_null(strstr(d, NAME));
    assert_null(strstr(d, "Pho Ngon")); /* nor anything else from the free text */
    cpm_eventlog_free(&evs, n);
    cpm_store_abort(&txn);
}

static void test_resubmission(void **state)
{
    fixture_t *f = *state;
    char t1[48], t2[48], t3[48];
    submit_ok(f, OP1, "tablet-7:0042", t1);
    assert_counts(f->env.st, 1, 1, 1);
    dom_fx_clear(&f->env.rec);

    /* the same client_ref from the same sender: the same ticket, nothing new */
    Cpm__Complaint *c = complaint("tablet-7:0042", "food_safety");
    bool dup = false;
    cpm_error_t err = {0};
    assert_int_equal(submit(f, OP1, c, t2, &dup, &err), 0);
    assert_true(dup);
    assert_string_equal(t2, t1);
    assert_int_equal(f->env.rec.n_sent, 0);
    assert_int_equal(f->env.rec.n_events, 0);
    assert_counts(f->env.st, 1, 1, 1);
    cpm__complaint__free_unpacked(c, NULL);

    /* a different complaint under the same reference is a conflict, shown
     * and not swallowed; nothing is recorded */
    c = complaint("tablet-7:0042", "pricing");
    dup = false;
    assert_int_equal(submit(f, OP1, c, t2, &dup, &err), CPM_E_CONFLICT);
    assert_false(dup);
    assert_string_equal(err.field, "client_ref");
    assert_non_null(strstr(err.message, t1));
    assert_counts(f->env.st, 1, 1, 1);
    cpm__complaint__free_unpacked(c, NULL);

    /* the same client_ref from another sender is another complaint */
    submit_ok(f, OP2, "tablet-7:0042", t3);
    assert_string_not_equal(t3, t1);
    assert_string_equal(t3, "HK-00000002");
    assert_counts(f->env.st, 2, 2, 2);

    /* and each sender's reference keeps pointing at its own ticket */
    c = complaint("tablet-7:0042", "food_safety");
    assert_int_equal(submit(f, OP2, c, t2, &dup, &err), 0);
    assert_true(dup);
    assert_string_equal(t2, t3);
    cpm__complaint__free_unpacked(c, NULL);
}

/* A complaint that fails validation; field and code must match. */
static void check_refused(fixture_t *f, Cpm__Complaint *c, int code, const char *field)
{
    counts_t before = counts(f->env.st);
    size_t sent = f->env.rec.n_sent, events = f->env.rec.n_events;
    char t[48] = "";
    bool dup = false;
    cpm_error_t err = {0};
    assert_int_equal(submit(f, OP1, c, t, &dup, &err), code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.field, field);
    assert_non_null(strstr(err.message, field));
    assert_false(dup);
    assert_int_equal(f->env.rec.n_sent, sent);
    assert_int_equal(f->env.rec.n_events, events);
    counts_t after = counts(f->env.st);
    assert_int_equal(after.events, before.events);
    assert_int_equal(after.queued, before.queued);
    assert_int_equal(after.counter, before.counter);
    cpm__complaint__free_unpacked(c, NULL);
}

/* Move one reference's entry from its key in the reference-first form
 * ("C\x1f<ref>\x1f<sender>") to the sender-first one ("c\x1f<sender>\x1f<ref>"),
 * as a store written before 2026-12-01 holds it. */
static void to_old_form(cpm_store_t *st, char kind, const char *sender, const char *ref)
{
    char nk[256], ok[256];
    snprintf(nk, sizeof nk, "%c\x1f%s\x1f%s", kind, ref, sender);
    snprintf(ok, sizeof ok, "%c\x1f%s\x1f%s", kind + ('a' - 'A'), sender, ref);
    MDB_txn *txn = dom_begin(st, true);
    const void *v;
    size_t vlen;
    assert_int_equal(cpm_store_get(st, txn, "refs", nk, strlen(nk), &v, &vlen), 0);
    uint8_t val[128];
    assert_true(vlen <= sizeof val);
    memcpy(val, v, vlen);
    assert_int_equal(cpm_store_del(st, txn, "refs", nk, strlen(nk)), 0);
    assert_int_equal(cpm_store_put(st, txn, "refs", ok, strlen(ok), val, vlen), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
}

static bool scan_refs(fixture_t *f)
{
    MDB_txn *txn = dom_begin(f->env.st, false);
    bool legacy = intake_refs_scan(f->in, f->env.st, txn);
    cpm_store_abort(&txn);
    return legacy;
}

/* References are kept reference first ("C\x1f<ref>\x1f<sender>"), so that
 * references in time order from many senders meet at one end of the index;
 * a store from before holds them sender first, and those are still found
 * (same ticket, conflict on a different request) once intake_refs_scan saw
 * one; a new store has none and looks in one form only. */
static void test_reference_first_keys(void **state)
{
    fixture_t *f = *state;
    char t1[48], t2[48], t3[48];
    assert_false(scan_refs(f)); /* empty: nothing of the old form */
    submit_ok(f, OP1, "0190aa-ref-1", t1);
    MDB_txn *txn = dom_begin(f->env.st, false);
    const void *v;
    size_t vlen;
    static const char nk[] = "C\x1f"
                             "0190aa-ref-1\x1f" OP1;
    static const char ok[] = "c\x1f" OP1 "\x1f"
                             "0190aa-ref-1";
    assert_int_equal(cpm_store_get(f->env.st, txn, "refs", nk, sizeof nk - 1, &v, &vlen), 0);
    assert_string_equal((const char *)v, t1);
    assert_int_equal(cpm_store_get(f->env.st, txn, "refs", ok, sizeof ok - 1, &v, &vlen),
                     CPM_E_NOT_FOUND);
    cpm_store_abort(&txn);
    assert_false(scan_refs(f));

    /* a store from before: the entry in the old form */
    to_old_form(f->env.st, 'C', OP1, "0190aa-ref-1");
    assert_true(scan_refs(f));
    Cpm__Complaint *c = complaint("0190aa-ref-1", "food_safety");
    bool dup = false;
    cpm_error_t err = {0};
    assert_int_equal(submit(f, OP1, c, t2, &dup, &err), 0);
    assert_true(dup);
    assert_string_equal(t2, t1);
    cpm__complaint__free_unpacked(c, NULL);
    c = complaint("0190aa-ref-1", "pricing"); /* another request under it */
    dup = false;
    assert_int_equal(submit(f, OP1, c, t2, &dup, &err), CPM_E_CONFLICT);
    assert_string_equal(err.field, "client_ref");
    cpm__complaint__free_unpacked(c, NULL);
    /* a new reference beside it: written in the new form only */
    submit_ok(f, OP1, "0190ab-ref-2", t3);
    assert_string_not_equal(t3, t1);
    txn = dom_begin(f->env.st, false);
    static const char nk2[] = "C\x1f"
                              "0190ab-ref-2\x1f" OP1;
    assert_int_equal(cpm_store_get(f->env.st, txn, "refs", nk2, sizeof nk2 - 1, &v, &vlen), 0);
    cpm_store_abort(&txn);
    assert_counts(f->env.st, 2, 2, 2);

    /* a store whose only old-form key is a consultation's ("k\x1f..."):
     * the complaint's old key removed, then a consultation's made old */
    char o1[48], o2[48];
    txn = dom_begin(f->env.st, true);
    static const char cok[] = "c\x1f" OP1 "\x1f"
                              "0190aa-ref-1";
    assert_int_equal(cpm_store_del(f->env.st, txn, "refs", cok, sizeof cok - 1), 0);
    assert_int_equal(dom_end(txn, 0), 0);
    assert_false(scan_refs(f));
    Cpm__Consultation *k = consultation("0190ac-call-1");
    assert_int_equal(consult(f, OP1, k, o1, &dup, &err), 0);
    assert_false(dup);
    cpm__consultation__free_unpacked(k, NULL);
    to_old_form(f->env.st, 'K', OP1, "0190ac-call-1");
    assert_true(scan_refs(f));
    k = consultation("0190ac-call-1");
    assert_int_equal(consult(f, OP1, k, o2, &dup, &err), 0);
    assert_true(dup);
    assert_string_equal(o2, o1);
    cpm__consultation__free_unpacked(k, NULL);

    /* a key that would not fit (a sender's id of 250 bytes) is refused,
     * never cut short: two such senders would share it */
    char longsender[251];
    memset(longsender, 'a', 250);
    longsender[250] = 0;
    Cpm__Complaint *lc = complaint("0190ad-ref-3", "food_safety");
    memset(&err, 0, sizeof err);
    assert_int_equal(submit(f, longsender, lc, t2, &dup, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "client_ref");
    cpm__complaint__free_unpacked(lc, NULL);
}

static void test_validation_writes_nothing(void **state)
{
    fixture_t *f = *state;
    char t[48];
    Cpm__Complaint *c = complaint("r1", "food_safety");
    free(c->business_name);
    c->business_name = strdup("");
    check_refused(f, c, CPM_E_INVALID, "business_name");

    c = complaint("r2", "astrology");
    check_refused(f, c, CPM_E_INVALID, "category");

    c = complaint("r3", "food_safety");
    free(c->area);
    c->area = strdup("atlantis");
    check_refused(f, c, CPM_E_INVALID, "area");

    c = complaint("bad ref!", "food_safety");
    check_refused(f, c, CPM_E_INVALID, "client_ref");

    c = complaint("r4", "food_safety");
    free(c->description);
    c->description = calloc(1, INTAKE_TEXT_MAX + 2);
    assert_non_null(c->description);
    memset(c->description, 'x', INTAKE_TEXT_MAX + 1);
    check_refused(f, c, CPM_E_TOO_LARGE, "description");

    /* a client may not choose its own ticket */
    c = complaint("r5", "food_safety");
    c->ticket = strdup("HK-99999999");
    check_refused(f, c, CPM_E_INVALID, "ticket");

    /* the refused client_ref was not remembered: it works once fixed */
    assert_counts(f->env.st, 0, 0, 0);
    submit_ok(f, OP1, "r1", t);
    assert_string_equal(t, "HK-00000001");
}

static void test_no_routing_member(void **state)
{
    fixture_t *f = *state;
    intake_set_routing(f->in, NULL);
    Cpm__Complaint *c = complaint("nr-1", "food_safety");
    char t[48];
    bool dup = false;
    cpm_error_t err = {0};
    assert_int_equal(submit(f, OP1, c, t, &dup, &err), CPM_E_UNAVAILABLE);
    assert_int_equal(err.code, CPM_E_UNAVAILABLE);
    assert_non_null(strstr(err.message, "routing"));
    assert_true(cpm_err_retryable(CPM_E_UNAVAILABLE));
    assert_int_equal(f->env.rec.n_sent, 0);
    assert_int_equal(f->env.rec.n_events, 0);
    assert_counts(f->env.st, 0, 0, 0);
    cpm__complaint__free_unpacked(c, NULL);

    /* consultations do not need routing */
    Cpm__Consultation *k = consultation("k-1");
    char id[48];
    assert_int_equal(consult(f, OP1, k, id, &dup, &err), 0);
    cpm__consultation__free_unpacked(k, NULL);

    /* routing back in the registry: the complaint goes through, and the
     * refused attempt did not use up a ticket */
    intake_set_routing(f->in, "hn.doit");
    submit_ok(f, OP1, "nr-1", t);
    assert_string_equal(t, "HK-00000001");
}

static void test_consultations(void **state)
{
    fixture_t *f = *state;
    char id1[48], id2[48], id3[48];
    bool dup = true;
    cpm_error_t err = {0};
    Cpm__Consultation *k = consultation("call-1");
    assert_int_equal(consult(f, OP1, k, id1, &dup, &err), 0);
    assert_false(dup);
    assert_id_format(id1, "HK-C");
    assert_string_equal(id1, "HK-C00000001");
    assert_string_equal(k->id, id1);
    assert_string_equal(k->operator_, OP1);
    assert_int_equal(k->received_ms, f->env.now);
    cpm__consultation__free_unpacked(k, NULL);

    k = consultation("");
    assert_int_equal(consult(f, OP1, k, id2, &dup, &err), 0);
    assert_string_equal(id2, "HK-C00000002");
    cpm__consultation__free_unpacked(k, NULL);

    /* resubmitted: same id, nothing new */
    k = consultation("call-1");
    assert_int_equal(consult(f, OP1, k, id3, &dup, &err), 0);
    assert_true(dup);
    assert_string_equal(id3, id1);
    cpm__consultation__free_unpacked(k, NULL);

    /* consultations are kept at intake, never forwarded */
    assert_int_equal(f->env.rec.n_sent, 0);
    MDB_txn *txn = dom_begin(f->env.st, false);
    assert_int_equal(dom_outbox_nstreams(f->env.st, txn), 0);
    Cpm__Event **evs = NULL;
    size_t n = dom_events(f->env.st, txn, 1, &evs);
    assert_int_equal(n, 2);
    assert_string_equal(evs[0]->kind, "consultation.recorded");
    assert_string_equal(evs[0]->ticket, id1);
    assert_string_equal(evs[1]->ticket, id2);
    cpm_eventlog_free(&evs, n);
    /* a consultation does not use a complaint ticket */
    uint64_t tickets = 9;
    assert_int_equal(cpm_store_get_u64(f->env.st, txn, "intake.ticket", &tickets), 0);
    assert_int_equal(tickets, 0);
    cpm_store_abort(&txn);
}

/* A client_ref reused across kinds: complaints and consultations have their
 * own key spaces in "refs", so each gets a new id of its own kind (this once
 * returned the other kind's id as a duplicate and dropped the complaint). */
static void test_client_ref_kinds(void **state)
{
    fixture_t *f = *state;
    char id[48], t[48];
    bool dup = true;
    cpm_error_t err = {0};
    Cpm__Consultation *k = consultation("call-1");
    assert_int_equal(consult(f, OP1, k, id, &dup, &err), 0);
    cpm__consultation__free_unpacked(k, NULL);
    assert_string_equal(id, "HK-C00000001");

    Cpm__Complaint *c = complaint("call-1", "food_safety");
    int rc = submit(f, OP1, c, t, &dup, &err);
    cpm__complaint__free_unpacked(c, NULL);
    if (rc == 0) {
        assert_false(dup); /* fails today: dup is true and t is "HK-C00000001" */
        assert_id_format(t, "HK-");
        assert_int_equal(f->env.rec.n_sent, 1); /* the complaint went to routing */
    } else {
        assert_int_equal(rc, CPM_E_CONFLICT);
        assert_string_equal(err.field, "client_ref");
    }

    /* the other way round */
    char t2[48];
    submit_ok(f, OP2, "both-1", t2);
    k = consultation("both-1");
    rc = consult(f, OP2, k, id, &dup, &err);
    cpm__consultation__free_unpacked(k, NULL);
    if (rc == 0) {
        assert_false(dup);
        assert_id_format(id, "HK-C");
    } else {
        assert_int_equal(rc, CPM_E_CONFLICT);
        assert_string_equal(err.field, "client_ref");
    }
}

static void test_consultation_refused(void **state)
{
    fixture_t *f = *state;
    char id[48];
    bool dup = false;
    cpm_error_t err = {0};
    Cpm__Consultation *k = consultation("k-2");
    free(k->summary);
    k->summary = strdup("");
    assert_int_equal(consult(f, OP1, k, id, &dup, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "summary");
    assert_non_null(strstr(err.message, "summary"));
    cpm__consultation__free_unpacked(k, NULL);

    k = consultation("k-3");
    k->duration_s = INTAKE_DURATION_MAX + 1;
    assert_int_equal(consult(f, OP1, k, id, &dup, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "duration_s");
    assert_non_null(strstr(err.message, "duration_s"));
    cpm__consultation__free_unpacked(k, NULL);

    assert_int_equal(f->env.rec.n_events, 0);
    assert_counts(f->env.st, 0, 0, 0);
    MDB_txn *txn;
    uint64_t n = 9;
    assert_int_equal(cpm_store_begin(f->env.st, false, &txn), 0);
    assert_int_equal(cpm_store_get_u64(f->env.st, txn, "intake.consultation", &n), 0);
    assert_int_equal(n, 0);
    cpm_store_abort(&txn);
}

/* The smallest map that opens: the submission fails with STORE_FULL (at a
 * write or at commit) and, after abort, left nothing behind. */
static void test_store_full(void **state)
{
    fixture_t *f = *state;
    char sub[128];
    cpm_store_t *tiny = dom_open_tiny(f->env.dir, dbs, sub);
    dom_fx_t rec;
    dom_fx_init(&rec, tiny, NODE "/intake", f->env.now);
    cpm_effects_t fx = dom_fx_effects(&rec);

    MDB_txn *txn = dom_begin(tiny, true);
    int rc = 0, i;
    char t[48];
    for (i = 0; i < 200 && rc == 0; i++) {
        char ref[16];
        snprintf(ref, sizeof ref, "full-%d", i);
        Cpm__Complaint *c = complaint(ref, "food_safety");
        free(c->description);
        c->description = calloc(1, INTAKE_TEXT_MAX + 1);
        assert_non_null(c->description);
        memset(c->description, 'x', INTAKE_TEXT_MAX);
        bool dup = false;
        cpm_error_t err = {0};
        rc = intake_submit(f->in, tiny, txn, &fx, OP1, c, f->env.now, t, &dup, &err);
        cpm__complaint__free_unpacked(c, NULL);
    }
    if (rc == 0) {
        rc = cpm_store_commit(txn); /* the map can also run out at commit */
        txn = NULL;
    }
    assert_int_equal(rc, CPM_E_STORE_FULL);
    cpm_store_abort(&txn);

    assert_int_equal(cpm_store_begin(tiny, false, &txn), 0);
    assert_null(intake_complaint(tiny, txn, "HK-00000001"));
    assert_int_equal(dom_event_head(tiny, txn), 0);
    assert_int_equal(dom_outbox_nstreams(tiny, txn), 0);
    uint64_t counter = 9;
    assert_int_equal(cpm_store_get_u64(tiny, txn, "intake.ticket", &counter), 0);
    assert_int_equal(counter, 0);
    const void *v;
    size_t vlen;
    static const char ref0[] = "C\x1f"
                               "full-0\x1f" OP1;
    assert_int_equal(cpm_store_get(tiny, txn, "refs", ref0, sizeof ref0 - 1, &v, &vlen),
                     CPM_E_NOT_FOUND);
    cpm_store_abort(&txn);
    dom_fx_clear(&rec);
    cpm_store_destroy(&tiny);
}

static void test_new_arguments(void **state)
{
    fixture_t *f = *state;
    assert_null(intake_new(NULL, NODE, "HK", ROUTING));
    assert_null(intake_new(f->env.rules, NULL, "HK", ROUTING));
    assert_null(intake_new(f->env.rules, NODE, "", ROUTING));
    assert_null(intake_new(f->env.rules, NODE, NULL, ROUTING));
    intake_t *in = intake_new(f->env.rules, NODE, "HK", NULL);
    assert_non_null(in);
    intake_destroy(&in);
    assert_null(in);
    intake_destroy(&in); /* safe twice */
}

/* true when the bytes of needle occur anywhere in the store's data file:
 * what someone who copies the file (or a freed page of it) can read. */
static int file_contains(const char *dir, const char *needle)
{
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    int found = dom_contains(buf, (size_t)n, needle);
    free(buf);
    return found;
}

/* Nothing of the consumer's contact reaches intake's data file in clear:
 * not the complaint, not the outbox record, not the client_ref digest. */
static void test_contact_never_stored_in_clear(void **state)
{
    fixture_t *f = *state;
    char t[48];
    for (int i = 0; i < 20; i++) {
        char ref[16];
        snprintf(ref, sizeof ref, "clear-%d", i);
        submit_ok(f, OP1, ref, t);
    }
    /* routing acknowledges: the outbox records are deleted (their pages
     * freed, not wiped) */
    MDB_txn *txn = dom_begin(f->env.st, true);
    assert_int_equal(cpm_outbox_ack(f->env.st, txn, STREAM, 20), 0);
    dom_end(txn, 0);
    assert_false(file_contains(f->env.dir, PHONE));
    assert_false(file_contains(f->env.dir, NAME));
    assert_false(file_contains(f->env.dir, EMAIL));
    assert_true(file_contains(f->env.dir, "Pho Ngon Co.")); /* the scan does see the rest */
}

/* The contact is sealed to the agency the rules choose; a complaint without
 * contact has no seal; without a key to seal to, nothing is recorded. */
static void test_contact_sealed_for_the_routed_agency(void **state)
{
    fixture_t *f = *state;
    /* tay-ho has no area office: food safety there goes to triage */
    Cpm__Complaint *c = complaint("tri-1", "food_safety");
    free(c->area);
    c->area = strdup("tay-ho");
    char t[48];
    bool dup = false;
    cpm_error_t err = {0};
    assert_int_equal(submit(f, OP1, c, t, &dup, &err), 0);
    assert_string_equal(c->contact_for, "hn.doit");
    assert_card_opens(c, "hn.doit");
    cpm__complaint__free_unpacked(c, NULL);

    c = complaint("none-1", "pricing");
    c->consumer_name[0] = c->consumer_phone[0] = c->consumer_email[0] = 0;
    assert_int_equal(submit(f, OP1, c, t, &dup, &err), 0);
    assert_int_equal(c->sealed_contact.len, 0);
    assert_string_equal(c->contact_for, "");
    cpm__complaint__free_unpacked(c, NULL);

    /* a client may not bring its own sealed bytes or recipient */
    c = complaint("own-1", "food_safety");
    c->sealed_contact.data = malloc(4);
    c->sealed_contact.len = 4;
    memcpy(c->sealed_contact.data, "junk", 4);
    check_refused(f, c, CPM_E_INVALID, "sealed_contact");
    c = complaint("own-2", "food_safety");
    c->contact_for = strdup("hn.qltt");
    check_refused(f, c, CPM_E_INVALID, "contact_for");

    intake_set_registry(f->in, NULL);
    counts_t before = counts(f->env.st);
    c = complaint("nokey-1", "food_safety");
    assert_int_equal(submit(f, OP1, c, t, &dup, &err), CPM_E_UNAVAILABLE);
    assert_string_equal(err.field, "consumer_name");
    assert_non_null(strstr(err.message, "hn.d.hoan-kiem"));
    counts_t after = counts(f->env.st);
    assert_int_equal(after.counter, before.counter);
    assert_int_equal(after.queued, before.queued);
    cpm__complaint__free_unpacked(c, NULL);
}

/* Sweep at a given time; returns how many contacts were stripped. */
static size_t sweep(fixture_t *f, int64_t at, int64_t retention)
{
    size_t n = 99;
    MDB_txn *txn = dom_begin(f->env.st, true);
    assert_int_equal(
        dom_end(txn, intake_contact_sweep(f->in, f->env.st, txn, at, retention, 1000, &n)), 0);
    return n;
}

static size_t sealed_len(fixture_t *f, const char *ticket)
{
    MDB_txn *txn = dom_begin(f->env.st, false);
    Cpm__Complaint *c = intake_complaint(f->env.st, txn, ticket);
    assert_non_null(c);
    size_t n = c->sealed_contact.len;
    cpm__complaint__free_unpacked(c, NULL);
    cpm_store_abort(&txn);
    return n;
}

static void ack(fixture_t *f, uint64_t seq)
{
    MDB_txn *txn = dom_begin(f->env.st, true);
    assert_int_equal(cpm_outbox_ack(f->env.st, txn, STREAM, seq), 0);
    dom_end(txn, 0);
}

/* The sealed contact stays until routing acknowledged the record plus the
 * retention period, then it is stripped; the rest of the record stays. */
static void test_contact_retention(void **state)
{
    fixture_t *f = *state;
    const int64_t day = 86400000, keep = 30 * day, t0 = f->env.now;
    char t1[48], t2[48], t3[48];
    submit_ok(f, OP1, "ret-1", t1);
    submit_ok(f, OP1, "ret-2", t2);
    submit_ok(f, OP1, "ret-3", t3);

    /* nothing acknowledged: kept however long it waits */
    assert_int_equal(sweep(f, t0 + 365 * day, keep), 0);
    assert_true(sealed_len(f, t1) > 0);

    ack(f, 2);                                     /* routing applied the first two */
    assert_int_equal(sweep(f, t0 + day, keep), 0); /* the clock starts now */
    assert_int_equal(sweep(f, t0 + day + keep - 1, keep), 0);
    assert_true(sealed_len(f, t1) > 0);
    assert_int_equal(sweep(f, t0 + day + keep, keep), 2);
    assert_int_equal(sealed_len(f, t1), 0);
    assert_int_equal(sealed_len(f, t2), 0);
    assert_true(sealed_len(f, t3) > 0);
    assert_int_equal(sweep(f, t0 + 400 * day, keep), 0); /* done once */

    ack(f, 3);
    assert_int_equal(sweep(f, t0 + 2 * day, keep), 0);
    assert_int_equal(sweep(f, t0 + 2 * day + keep, keep), 1);
    assert_int_equal(sealed_len(f, t3), 0);

    /* stripped, the rest of the complaint is still there */
    MDB_txn *txn = dom_begin(f->env.st, false);
    Cpm__Complaint *c = intake_complaint(f->env.st, txn, t3);
    assert_string_equal(c->business_name, "Pho Ngon Co.");
    assert_string_equal(c->contact_for, "hn.d.hoan-kiem");
    cpm__complaint__free_unpacked(c, NULL);
    /* and the tracking entries are gone */
    MDB_stat ms;
    assert_int_equal(mdb_stat(txn, cpm_store_dbi(f->env.st, "contacts"), &ms), 0);
    assert_int_equal(ms.ms_entries, 0);
    cpm_store_abort(&txn);
}

/* max bounds the work of one sweep; the next one goes on. */
static void test_contact_sweep_bounded(void **state)
{
    fixture_t *f = *state;
    char t[48];
    for (int i = 0; i < 5; i++) {
        char ref[16];
        snprintf(ref, sizeof ref, "b-%d", i);
        submit_ok(f, OP1, ref, t);
    }
    ack(f, 5);
    size_t n = 0;
    int64_t now = f->env.now;
    MDB_txn *txn = dom_begin(f->env.st, true);
    assert_int_equal(intake_contact_sweep(f->in, f->env.st, txn, now, 0, 3, &n), 0);
    dom_end(txn, 0);
    assert_int_equal(n, 0); /* 3 promoted, none stripped yet */
    txn = dom_begin(f->env.st, true);
    assert_int_equal(intake_contact_sweep(f->in, f->env.st, txn, now, 0, 3, &n), 0);
    dom_end(txn, 0);
    assert_int_equal(n, 1); /* 2 promoted, 1 stripped */
    assert_int_equal(sweep(f, now, 0), 4);
}

/* Submit a fresh food_safety complaint of area through in; its contact_for. */
static void submit_in(fixture_t *f, intake_t *in, const char *ref, const char *area, char *to,
                      size_t cap)
{
    Cpm__Complaint *c = complaint(ref, "food_safety");
    free(c->area);
    c->area = strdup(area);
    char t[48];
    bool dup = true;
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->env.st, true);
    int rc = dom_end(
        txn, intake_submit(in, f->env.st, txn, &f->env.fx, OP1, c, f->env.now, t, &dup, &err));
    if (rc != 0)
        fail_msg("submit %s: %s", ref, err.message);
    snprintf(to, cap, "%s", c->contact_for);
    cpm__complaint__free_unpacked(c, NULL);
}

static void write_rules(const char *path, int version, const char *agency)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp,
            "version: %d\neffective_from: \"2026-01-01\"\ntriage: hn.doit\n"
            "deadlines: {accept_working_days: 2, resolve_working_days: 5}\n"
            "areas:\n  - {slug: hoan-kiem}\n  - {slug: tay-ho}\n"
            "categories:\n  - {slug: food_safety}\n"
            "rules:\n  - {id: F1, category: food_safety, areas: [hoan-kiem], agency: %s}\n"
            "%s",
            version, agency,
            /* of another size each time: the watch tells a change by mtime, inode and
             * size, and two writes within a clock tick share an mtime */
            version == 1 ? "" : "# version 2, rewritten in place\n");
    assert_int_equal(fclose(fp), 0);
}

/* The agency a contact is sealed to is remembered (intake_route_memo), and
 * forgotten when the registry or the rules change: a new registry with an
 * office for tay-ho, then rules reloaded in place with a higher version,
 * each move the next contact to the new agency. */
static void test_seal_follows_reloads(void **state)
{
    fixture_t *f = *state;
    char to[128];
    submit_in(f, f->in, "memo-1", "tay-ho", to, sizeof to);
    assert_string_equal(to, "hn.doit"); /* no office there: triage */
    submit_in(f, f->in, "memo-2", "tay-ho", to, sizeof to);
    assert_string_equal(to, "hn.doit");
    cpm_registry_t *reg =
        dom_registry_plus(dom_member("office-th", "area", "tay-ho", "inspection"), 4);
    intake_set_registry(f->in, reg);
    submit_in(f, f->in, "memo-3", "tay-ho", to, sizeof to);
    assert_string_equal(to, "office-th");

    char path[512];
    snprintf(path, sizeof path, "%s/rules.yaml", f->env.dir);
    write_rules(path, 1, "hn.attp");
    cpm_rules_watch_t *w = NULL;
    cpm_error_t e = {0};
    if (cpm_rules_watch_new(path, "inspection", &w, &e) != 0)
        fail_msg("rules: %s", e.message);
    intake_t *in = intake_new(cpm_rules_watch_rules(w), NODE, "HK", ROUTING);
    assert_non_null(in);
    intake_set_registry(in, reg);
    intake_set_places(in, places, NULL);
    submit_in(f, in, "memo-4", "hoan-kiem", to, sizeof to);
    assert_string_equal(to, "hn.attp");
    write_rules(path, 2, "hn.qltt");
    int rc = 0;
    for (int i = 0; i < 600 && rc == 0; i++) { /* the watch looks once a second */
        rc = cpm_rules_watch_check(w, NULL);
        if (rc == 0)
            usleep(50 * 1000);
    }
    assert_int_equal(rc, 1);
    submit_in(f, in, "memo-5", "hoan-kiem", to, sizeof to);
    assert_string_equal(to, "hn.qltt");
    intake_destroy(&in);
    cpm_rules_watch_destroy(&w);
    intake_set_registry(f->in, f->env.reg);
    cpm_registry_destroy(&reg);
}

/* What a client reference stands for is pinned: the keyed BLAKE2b of
 * intake_domain.c's digest_fields (each field length-prefixed, then the
 * event time and urgency), as stored in "refs" (key all zero until set),
 * computed apart (Python's hashlib.blake2b) for the fixture's complaint. A change here would make
 * every resubmission of a complaint recorded before it a conflict. */
/* The digest stored under ref for sender OP1, as hex. */
static void stored_digest(fixture_t *f, const char *ref, const char *ticket, char hex[65])
{
    MDB_txn *txn = dom_begin(f->env.st, false);
    const void *v = NULL;
    size_t vlen = 0;
    char key[128];
    snprintf(key, sizeof key, "C\x1f%s\x1f%s", ref, OP1);
    assert_int_equal(cpm_store_get(f->env.st, txn, INTAKE_REFS_DB, key, strlen(key), &v, &vlen), 0);
    assert_int_equal(vlen, strlen(ticket) + 1 + 32);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", ((const uint8_t *)v)[strlen(ticket) + 1 + i]);
    cpm_store_abort(&txn);
}

static void test_reference_digest_pinned(void **state)
{
    fixture_t *f = *state;
    char t[48], hex[65];
    submit_ok(f, OP1, "vec-1", t); /* fields shorter than one of the hash's blocks */
    stored_digest(f, "vec-1", t, hex);
    assert_string_equal(hex, "af9f4e1c04b868de1642067f8bfd5ebd928a244e52e9caba0e24e2adde13f33b");
    /* a description of 1,680 bytes: fed to the hash over several blocks */
    Cpm__Complaint *c = complaint("vec-2", "food_safety");
    free(c->description);
    char desc[2048] = "";
    for (int i = 0; i < 60; i++)
        strcat(desc, "Food poisoning after lunch. ");
    c->description = strdup(desc);
    bool dup = true;
    cpm_error_t err = {0};
    assert_int_equal(submit(f, OP1, c, t, &dup, &err), 0);
    cpm__complaint__free_unpacked(c, NULL);
    stored_digest(f, "vec-2", t, hex);
    assert_string_equal(hex, "87b251090dd21687f3a76a50a50cc20dca8eca4db3ebfa385b7687f01c07c98a");
}

/* Intake places the complaint: what goes to routing carries the placement,
 * a triage placement has no area, an unknown place records nothing, and
 * every placement is counted by method. */
static void test_placement_goes_to_routing(void **state)
{
    fixture_t *f = *state;
    cpm_metrics_t *m = cpm_metrics_new();
    assert_non_null(m);
    intake_set_places(f->in, places, m);
    Cpm__Complaint *c = complaint("pl-1", "pricing");
    /* location was absent: the unpacker's shared "", not to be freed */
    c->location = strdup("Quận Nam Từ Liêm");
    char t[48];
    bool dup = false;
    cpm_error_t err = {0};
    assert_int_equal(submit(f, OP1, c, t, &dup, &err), 0);
    cpm__complaint__free_unpacked(c, NULL);
    MDB_txn *txn;
    cpm_outbox_batch_t b;
    assert_int_equal(cpm_store_begin(f->env.st, false, &txn), 0);
    dom_outbox_record(f->env.st, txn, STREAM, 1, &b);
    Cpm__Complaint *q = cpm__complaint__unpack(NULL, b.lens[0], b.recs[0]);
    assert_non_null(q);
    assert_string_equal(q->area, "");
    assert_non_null(q->placement);
    assert_string_equal(q->placement->method, "triage");
    assert_string_equal(q->placement->written, "Quận Nam Từ Liêm");
    assert_true(q->placement->n_candidates >= 2);
    assert_int_equal(cpm_fields_complaint(q, &err), 0); /* routing will take it */
    cpm__complaint__free_unpacked(q, NULL);
    cpm_outbox_batch_clear(&b);
    cpm_store_abort(&txn);

    c = complaint("pl-2", "pricing");
    /* location was absent: the unpacker's shared "", not to be freed */
    c->location = strdup("Atlantis");
    check_refused(f, c, CPM_E_INVALID, "location");
    assert_int_equal(cpm_metrics_get(m, "place.triage"), 1);
    assert_int_equal(cpm_metrics_get(m, "place.unknown"), 1);
    intake_set_places(f->in, places, NULL);
    cpm_metrics_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tickets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_completes_complaint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_for_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consumer_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_forgets_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubmission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reference_first_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_routing_member, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consultations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_ref_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consultation_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contact_never_stored_in_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contact_sealed_for_the_routed_agency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contact_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contact_sweep_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_goes_to_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_follows_reloads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reference_digest_pinned, setup, teardown),
    };
    return cmocka_run_group_tests(tests, places_setup, places_teardown);
}
