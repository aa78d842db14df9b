/* Tests of cpm_evcheck: a checkpoint signed and opened, refused when a byte
 * or the key is wrong or the envelope disagrees with the payload; made over
 * a real store's log (range digest, before, list); the fetch filter; and the
 * vector tests/vectors/checkpoints.json (rewritten when CPM_WRITE_VECTORS is
 * set). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_envelope.h"
#include "cpm_evcheck.h"
#include "cpm_eventlog.h"
#include "cpm_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const uint8_t SEED[32] = {0x45, 0x56, 0x43, 0x4b}; /* "EVCK", then zeros */

static cpm_evcheck_t sample(void)
{
    cpm_evcheck_t c = {.seq = 3, .at_ms = 1767225600000LL, .range_from = 1};
    snprintf(c.node, sizeof c.node, "hn.doit");
    snprintf(c.service, sizeof c.service, "routing");
    for (int i = 0; i < 32; i++)
        c.head_hash[i] = (uint8_t)i;
    cpm_evrange_t r;
    cpm_evrange_init(&r, 1);
    uint8_t h[32];
    for (int k = 1; k <= 3; k++) {
        memset(h, k, 32);
        cpm_evrange_add(&r, h);
    }
    cpm_evrange_final(&r, c.range_digest);
    return c;
}

static void test_seal_open_and_refusals(void **state)
{
    (void)state;
    cpm_identity_t id, other;
    assert_int_equal(cpm_identity_from_seed(&id, "hn.doit", SEED), 0);
    assert_int_equal(cpm_identity_generate(&other, "hn.doit"), 0);
    cpm_evcheck_t c = sample(), got;
    uint8_t *f = NULL;
    size_t len = 0;
    cpm_error_t err = {0};
    assert_int_equal(cpm_evcheck_seal(&c, &id, &f, &len), 0);
    assert_int_equal(cpm_evcheck_open(f, len, id.sign_pk, &got, &err), 0);
    assert_int_equal(got.seq, 3);
    assert_memory_equal(got.head_hash, c.head_hash, 32);
    assert_memory_equal(got.range_digest, c.range_digest, 32);
    assert_string_equal(got.service, "routing");
    /* Another key: refused, naming the signature. */
    assert_int_not_equal(cpm_evcheck_open(f, len, other.sign_pk, &got, &err), 0);
    assert_string_equal(err.field, "signature");
    /* Any byte changed: refused. */
    for (size_t i = 0; i < len; i += 7) {
        f[i] ^= 0x01;
        assert_int_not_equal(cpm_evcheck_open(f, len, id.sign_pk, &got, &err), 0);
        f[i] ^= 0x01;
    }
    free(f);
    /* Signed by the right key but the envelope's seq differs from the
     * payload's: refused (a checkpoint of one seq passed off as another). */
    Cpm__EventCheckpoint p = CPM__EVENT_CHECKPOINT__INIT;
    p.node = "hn.doit";
    p.service = "routing";
    p.seq = 3;
    p.head_hash = (ProtobufCBinaryData){32, c.head_hash};
    p.range_from = 1;
    p.range_digest = (ProtobufCBinaryData){32, c.range_digest};
    uint8_t pl[256];
    size_t plen = cpm__event_checkpoint__pack(&p, pl);
    cpm_env_fields_t e = {.sender = "hn.doit",
                          .sender_instance = "routing.ckpt",
                          .key_id = id.key_id,
                          .seq = 4,
                          .sent_ms = 1,
                          .type = CPM__MSG_TYPE__MSG_EVENT_CHECKPOINT,
                          .msg_id = "00",
                          .recipient = "*",
                          .payload = pl,
                          .payload_len = plen};
    assert_int_equal(cpm_envelope_seal(&e, id.sign_sk, &f, &len), 0);
    assert_int_not_equal(cpm_evcheck_open(f, len, id.sign_pk, &got, &err), 0);
    assert_string_equal(err.field, "node");
    free(f);
    /* Another type of signed message is not a checkpoint. */
    e.seq = 3;
    e.type = CPM__MSG_TYPE__MSG_EVENTS_PUBLISH;
    assert_int_equal(cpm_envelope_seal(&e, id.sign_sk, &f, &len), 0);
    assert_int_not_equal(cpm_evcheck_open(f, len, id.sign_pk, &got, &err), 0);
    assert_string_equal(err.field, "type");
    free(f);
}

static void test_made_over_a_store(void **state)
{
    (void)state;
    char dir[] = "/tmp/cpm-evck-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[256];
    static const char *const dbs[] = {NULL};
    cpm_store_t *s = cpm_store_open(dir, 16u << 20, dbs, err, sizeof err);
    assert_non_null(s);
    cpm_identity_t id;
    assert_int_equal(cpm_identity_from_seed(&id, "hn.doit", SEED), 0);
    MDB_txn *txn;
    bool made = true;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    /* An empty log has nothing to sign. */
    assert_int_equal(cpm_evcheck_make(s, txn, &id, "intake", 5, &made, NULL, NULL), 0);
    assert_false(made);
    uint8_t hashes[10][32];
    for (int i = 0; i < 10; i++) {
        cpm_event_t e = {.kind = "complaint.received", .area = i % 2 ? "ba-dinh" : "hoan-kiem"};
        assert_int_equal(cpm_eventlog_append(s, txn, 1000 + i, &e, NULL), 0);
        uint64_t head;
        assert_int_equal(cpm_eventlog_head(s, txn, &head, hashes[i]), 0);
        if (i == 3 || i == 9) {
            uint8_t *f = NULL;
            size_t len;
            assert_int_equal(cpm_evcheck_make(s, txn, &id, "intake", 5, &made, &f, &len), 0);
            assert_true(made);
            cpm_evcheck_t c;
            cpm_error_t e2 = {0};
            assert_int_equal(cpm_evcheck_open(f, len, id.sign_pk, &c, &e2), 0);
            free(f);
            assert_int_equal(c.seq, (uint64_t)i + 1);
            assert_int_equal(c.range_from, i == 3 ? 1 : 5);
            assert_memory_equal(c.head_hash, hashes[i], 32);
            cpm_evrange_t r;
            uint8_t d[32];
            cpm_evrange_init(&r, c.range_from);
            for (uint64_t q = c.range_from; q <= c.seq; q++)
                cpm_evrange_add(&r, hashes[q - 1]);
            cpm_evrange_final(&r, d);
            assert_memory_equal(d, c.range_digest, 32);
        }
    }
    /* The head has one already: none made. */
    assert_int_equal(cpm_evcheck_make(s, txn, &id, "intake", 5, &made, NULL, NULL), 0);
    assert_false(made);
    uint64_t seq;
    assert_int_equal(cpm_evcheck_last(s, txn, &seq), 0);
    assert_int_equal(seq, 10);
    assert_int_equal(cpm_evcheck_before(s, txn, 7, &seq), 0);
    assert_int_equal(seq, 4);
    assert_int_equal(cpm_evcheck_before(s, txn, 4, &seq), 0);
    assert_int_equal(seq, 0);
    assert_int_equal(cpm_evcheck_before(s, txn, 100, &seq), 0);
    assert_int_equal(seq, 10);
    ProtobufCBinaryData *frames;
    size_t n;
    assert_int_equal(cpm_evcheck_list(s, txn, 1, 100, 10, &frames, &n), 0);
    assert_int_equal(n, 2);
    cpm_evcheck_frames_free(&frames, n);
    assert_int_equal(cpm_evcheck_list(s, txn, 5, 9, 10, &frames, &n), 0);
    assert_int_equal(n, 0);
    cpm_evcheck_frames_free(&frames, n);
    cpm_store_abort(&txn);
    cpm_store_destroy(&s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_filter(void **state)
{
    (void)state;
    Cpm__EventsFetch q = CPM__EVENTS_FETCH__INIT;
    Cpm__Event ev = CPM__EVENT__INIT;
    ev.kind = "case.overdue";
    ev.area = "hoan-kiem";
    ev.agency = "hn.d.hoan-kiem";
    ev.category = "food";
    ev.state = CPM__CASE_STATE__CASE_STATE_ASSIGNED;
    assert_false(cpm_evcheck_filtered(&q));
    assert_true(cpm_evcheck_match(&q, &ev));
    q.kind_prefix = "case.";
    q.area = "hoan-kiem";
    assert_true(cpm_evcheck_filtered(&q));
    assert_true(cpm_evcheck_match(&q, &ev));
    q.area = "hoan"; /* area is equal, not a prefix */
    assert_false(cpm_evcheck_match(&q, &ev));
    q.area = "";
    q.state = CPM__CASE_STATE__CASE_STATE_ROUTED;
    assert_false(cpm_evcheck_match(&q, &ev));
    q.state = CPM__CASE_STATE__CASE_STATE_ASSIGNED;
    q.agency = "hn.d.hoan-kiem";
    q.category = "food";
    assert_true(cpm_evcheck_match(&q, &ev));
    q.kind_prefix = "complaint.";
    assert_false(cpm_evcheck_match(&q, &ev));
}

static char *hex(const uint8_t *b, size_t n)
{
    char *s = malloc(2 * n + 1);
    cpm_hex_encode(b, n, s);
    return s;
}

/* The vector: the sample checkpoint signed with the seed's key. */
static void test_vector(void **state)
{
    (void)state;
    cpm_identity_t id;
    assert_int_equal(cpm_identity_from_seed(&id, "hn.doit", SEED), 0);
    cpm_evcheck_t c = sample();
    uint8_t *f = NULL;
    size_t len = 0;
    assert_int_equal(cpm_evcheck_seal(&c, &id, &f, &len), 0);
    char *fh = hex(f, len), *seed = hex(SEED, 32), *pk = hex(id.sign_pk, 32),
         *head = hex(c.head_hash, 32), *dig = hex(c.range_digest, 32);
    json_t *doc = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:I,s:I,s:s,s:[s,s,s],s:s}", "description",
        "An event checkpoint (docs/protocol.md section 20): EventCheckpoint signed as the payload "
        "of a SignedEnvelope of type 110 (sender = node, sender_instance = service + '.ckpt', "
        "seq = the checkpoint's seq, sent_ms = at_ms, msg_id = hex of the head hash's first 16 "
        "bytes, recipient '*'). range_digest = SHA-256('CPM-EVRANGE-V1' || 0x00 || the range's "
        "event hashes in seq order); the range's hashes here are 32 bytes of 0x01, 0x02, 0x03.",
        "seed_hex", seed, "sign_pk_hex", pk, "node", c.node, "service", c.service, "key_id",
        id.key_id, "seq", (json_int_t)c.seq, "head_hash_hex", head, "at_ms", (json_int_t)c.at_ms,
        "range_from", (json_int_t)c.range_from, "range_digest_hex", dig, "range_hashes_hex",
        "0101010101010101010101010101010101010101010101010101010101010101",
        "0202020202020202020202020202020202020202020202020202020202020202",
        "0303030303030303030303030303030303030303030303030303030303030303", "frame_hex", fh);
    assert_non_null(doc);
    const char *dir = getenv("CPM_VECTORS_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/checkpoints.json", dir ? dir : "tests/vectors");
    if (getenv("CPM_WRITE_VECTORS")) {
        assert_int_equal(json_dump_file(doc, path, JSON_INDENT(2) | JSON_SORT_KEYS), 0);
    } else {
        json_error_t je;
        json_t *want = json_load_file(path, 0, &je);
        assert_non_null(want);
        assert_true(json_equal(doc, want));
        json_decref(want);
    }
    json_decref(doc);
    free(fh), free(seed), free(pk), free(head), free(dig), free(f);
}

/* A backlog longer than CPM_EVCHECK_RANGE_MAX (the first checkpoint after an
 * upgrade) is signed in steps: each checkpoint covers at most that many
 * events, its head is the hash of its last event, and the next starts after. */
static void test_long_backlog_in_steps(void **state)
{
    (void)state;
    char dir[] = "/tmp/cpm-evck-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[256];
    static const char *const dbs[] = {NULL};
    cpm_store_t *s = cpm_store_open(dir, 64u << 20, dbs, err, sizeof err);
    assert_non_null(s);
    cpm_identity_t id;
    assert_int_equal(cpm_identity_from_seed(&id, "hn.doit", SEED), 0);
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    const uint64_t total = CPM_EVCHECK_RANGE_MAX + 5;
    uint8_t h_cap[32], h_head[32];
    for (uint64_t i = 1; i <= total; i++) {
        cpm_event_t e = {.kind = "complaint.received", .area = "hoan-kiem"};
        assert_int_equal(cpm_eventlog_append(s, txn, 1000 + (int64_t)i, &e, NULL), 0);
        uint64_t head;
        if (i == CPM_EVCHECK_RANGE_MAX)
            assert_int_equal(cpm_eventlog_head(s, txn, &head, h_cap), 0);
        if (i == total)
            assert_int_equal(cpm_eventlog_head(s, txn, &head, h_head), 0);
    }
    const struct {
        uint64_t from, seq;
        const uint8_t *head;
    } want[2] = {{1, CPM_EVCHECK_RANGE_MAX, h_cap}, {CPM_EVCHECK_RANGE_MAX + 1, total, h_head}};
    for (int k = 0; k < 2; k++) {
        bool made = false;
        uint8_t *f = NULL;
        size_t len;
        assert_int_equal(cpm_evcheck_make(s, txn, &id, "intake", 5, &made, &f, &len), 0);
        assert_true(made);
        cpm_evcheck_t c;
        cpm_error_t e2 = {0};
        assert_int_equal(cpm_evcheck_open(f, len, id.sign_pk, &c, &e2), 0);
        free(f);
        assert_int_equal(c.range_from, want[k].from);
        assert_int_equal(c.seq, want[k].seq);
        assert_memory_equal(c.head_hash, want[k].head, 32);
        uint64_t last;
        assert_int_equal(cpm_evcheck_last(s, txn, &last), 0);
        assert_int_equal(last, want[k].seq);
    }
    bool made = true;
    assert_int_equal(cpm_evcheck_make(s, txn, &id, "intake", 5, &made, NULL, NULL), 0);
    assert_false(made); /* the head is signed */
    cpm_store_abort(&txn);
    cpm_store_destroy(&s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A store whose log holds n events, in an open write transaction. */
typedef struct {
    char dir[32];
    cpm_store_t *s;
    MDB_txn *txn;
    cpm_identity_t id;
} logged_t;

static void logged_open(logged_t *l, int n)
{
    snprintf(l->dir, sizeof l->dir, "/tmp/cpm-evck-XXXXXX");
    assert_non_null(mkdtemp(l->dir));
    char err[256];
    static const char *const dbs[] = {NULL};
    l->s = cpm_store_open(l->dir, 16u << 20, dbs, err, sizeof err);
    assert_non_null(l->s);
    assert_int_equal(cpm_identity_from_seed(&l->id, "hn.doit", SEED), 0);
    assert_int_equal(cpm_store_begin(l->s, true, &l->txn), 0);
    for (int i = 0; i < n; i++) {
        cpm_event_t e = {.kind = "complaint.received", .area = "hoan-kiem"};
        assert_int_equal(cpm_eventlog_append(l->s, l->txn, 1000 + i, &e, NULL), 0);
    }
}

static void logged_close(logged_t *l)
{
    cpm_store_abort(&l->txn);
    cpm_store_destroy(&l->s);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", l->dir);
    assert_int_equal(system(cmd), 0);
}

/* Replace the stored event of seq (len 0: delete it), as a corrupt store. */
static void logged_set(logged_t *l, uint64_t seq, const uint8_t *bytes, size_t len)
{
    uint8_t key[8];
    cpm_put_be64(key, seq);
    if (len)
        assert_int_equal(cpm_store_put(l->s, l->txn, CPM_DB_EVENTS, key, 8, bytes, len), 0);
    else
        assert_int_equal(cpm_store_del(l->s, l->txn, CPM_DB_EVENTS, key, 8), 0);
}

/* The log's corruptions a checkpoint meets: an event without a 32-byte hash,
 * one missing in the range, the log ending before its head. None is signed
 * over, and nothing is recorded as signed. */
static void test_make_refuses_a_broken_log(void **state)
{
    (void)state;
    static const uint8_t no_hash[] = {0x08, 0x02, 0x42, 0x02, 0xab, 0xcd}; /* seq 2, 2-byte hash */
    static const struct {
        const char *what;
        uint64_t seq;
        const uint8_t *bytes;
        size_t len;
    } cases[] = {
        {"an event without a 32-byte hash", 2, no_hash, sizeof no_hash},
        {"an event missing", 2, NULL, 0},
        {"the log ending before its head", 3, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        logged_t l;
        logged_open(&l, 3);
        logged_set(&l, cases[i].seq, cases[i].bytes, cases[i].len);
        bool made = true;
        uint8_t *f = (uint8_t *)"x";
        size_t len = 0;
        int rc = cpm_evcheck_make(l.s, l.txn, &l.id, "intake", 5, &made, &f, &len);
        if (rc != CPM_E_INTERNAL || made || f != NULL)
            fail_msg("%s: rc %d, made %d", cases[i].what, rc, made);
        uint64_t last = 99;
        assert_int_equal(cpm_evcheck_last(l.s, l.txn, &last), 0);
        assert_int_equal(last, 0);
        logged_close(&l);
    }
}

/* A checkpoint reads its range and no further: bytes stored past the head
 * (here not an event at all) are not its business. */
static void test_make_reads_no_further_than_its_head(void **state)
{
    (void)state;
    logged_t l;
    logged_open(&l, 5);
    static const uint8_t garbage[] = {0x08, 0x84}; /* a truncated varint */
    logged_set(&l, 6, garbage, sizeof garbage);
    bool made = false;
    assert_int_equal(cpm_evcheck_make(l.s, l.txn, &l.id, "intake", 5, &made, NULL, NULL), 0);
    assert_true(made);
    uint64_t last = 0;
    assert_int_equal(cpm_evcheck_last(l.s, l.txn, &last), 0);
    assert_int_equal(last, 5);
    logged_close(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_open_and_refusals),
        cmocka_unit_test(test_made_over_a_store),
        cmocka_unit_test(test_long_backlog_in_steps),
        cmocka_unit_test(test_make_refuses_a_broken_log),
        cmocka_unit_test(test_make_reads_no_further_than_its_head),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
