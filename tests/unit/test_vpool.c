/* Tests of cpm_vpool (the parallel for) and of the verifier's split
 * (cpm_verifier_precheck on the pool, then cpm_verifier_finish in order):
 * the same verdicts, messages, reply addresses and counters as
 * cpm_verifier_check frame by frame, for every pool size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/signed_registry.h"

#include "cpm_config.h"
#include "cpm_envelope.h"
#include "cpm_util.h"
#include "cpm_verifier.h"
#include "cpm_vpool.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1767225600000LL /* 2026-01-01T00:00:00Z */
#define SKEW 300000LL

static const unsigned pool_sizes[] = {0, 1, 2, 3, 4, 8};
#define NPOOLS (sizeof pool_sizes / sizeof pool_sizes[0])

/* ---- the parallel for ------------------------------------------------- */

typedef struct {
    atomic_uint *hits;
} hits_t;

static void hit(void *ctx, size_t i)
{
    hits_t *h = ctx;
    atomic_fetch_add(&h->hits[i], 1);
}

static void test_every_index_once(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 3, 5, 7, 8, 9, 63, 64, 65, 255, 256, 1000, 4099};
    atomic_uint *hits = calloc(4099, sizeof *hits);
    assert_non_null(hits);
    for (size_t p = 0; p < NPOOLS; p++) {
        cpm_vpool_t *pool = cpm_vpool_new(pool_sizes[p]);
        assert_non_null(pool);
        assert_int_equal(cpm_vpool_threads(pool), pool_sizes[p] > 1 ? pool_sizes[p] : 1);
        /* Many calls in a row on one pool: a worker that wakes late for one
         * call must neither miss nor repeat an index of the next. */
        for (int round = 0; round < 20; round++) {
            for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
                size_t n = sizes[k];
                for (size_t i = 0; i < n; i++)
                    atomic_store(&hits[i], 0);
                hits_t h = {hits};
                cpm_vpool_run(pool, n, hit, &h);
                /* The same in two halves, the caller busy in between. */
                cpm_vpool_start(pool, n, hit, &h);
                size_t mine = 0;
                for (size_t i = 0; i < 1000; i++)
                    mine += i;
                assert_int_equal(mine, 499500);
                cpm_vpool_finish(pool, n, hit, &h);
                for (size_t i = 0; i < n; i++)
                    if (atomic_load(&hits[i]) != 2)
                        fail_msg("threads %u, n %zu: index %zu ran %u times in two calls",
                                 pool_sizes[p], n, i, atomic_load(&hits[i]));
            }
        }
        cpm_vpool_destroy(&pool);
        assert_null(pool);
        cpm_vpool_destroy(&pool); /* twice is safe */
    }
    /* Without a pool: inline. */
    hits_t h = {hits};
    for (size_t i = 0; i < 10; i++)
        atomic_store(&hits[i], 0);
    cpm_vpool_run(NULL, 10, hit, &h);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(atomic_load(&hits[i]), 1);
    cpm_vpool_start(NULL, 10, hit, &h); /* nothing yet */
    assert_int_equal(atomic_load(&hits[0]), 1);
    cpm_vpool_finish(NULL, 10, hit, &h);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(atomic_load(&hits[i]), 2);
    free(hits);
}

/* With a worker, start hands even a job of one index to it: the job runs
 * while the caller waits without calling finish (a pool that ran it only in
 * finish would never end this wait: the test fails after 30 s instead of
 * hanging). */
typedef struct {
    atomic_int ran;
    pthread_t by;
} beside_t;

static void run_beside(void *ctx, size_t i)
{
    (void)i;
    beside_t *b = ctx;
    b->by = pthread_self();
    atomic_store(&b->ran, 1);
}

static void test_start_hands_one_to_a_worker(void **state)
{
    (void)state;
    cpm_vpool_t *pool = cpm_vpool_new(2);
    assert_non_null(pool);
    for (int round = 0; round < 50; round++) {
        beside_t b = {0};
        cpm_vpool_start(pool, 1, run_beside, &b);
        /* a bound, not a timed assertion: fail rather than hang */
        for (int64_t end = cpm_mono_ms() + 30000; !atomic_load(&b.ran);) {
            assert_true(cpm_mono_ms() < end);
            usleep(100);
        }
        cpm_vpool_finish(pool, 1, run_beside, &b);
        assert_false(pthread_equal(b.by, pthread_self()));
    }
    cpm_vpool_destroy(&pool);
}

static void test_limits(void **state)
{
    (void)state;
    assert_null(cpm_vpool_new(CPM_VPOOL_MAX_THREADS + 1));
    cpm_vpool_t *p = cpm_vpool_new(CPM_VPOOL_MAX_THREADS);
    assert_non_null(p);
    assert_int_equal(cpm_vpool_threads(p), CPM_VPOOL_MAX_THREADS);
    cpm_vpool_destroy(&p);
    assert_int_equal(cpm_vpool_threads(NULL), 1);
    unsigned d = cpm_vpool_default_threads();
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(d, cores < 1 ? 1 : cores > 8 ? 8 : (unsigned)cores);
}

/* ---- the registry and the frames ---------------------------------------- */

static cpm_identity_t root, doit, lan, old, ghost;
static cpm_registry_t *reg;

static int setup(void **state)
{
    (void)state;
    cpm_identity_t *ids[] = {&root, &doit, &lan, &old, &ghost};
    const char *names[] = {"root", "hn.doit", "hn.op.lan", "hn.op.old", "hn.op.ghost"};
    if (sreg_identities(ids, names, 5, 0x50) != 0)
        return -1;
    static char *op_rules[] = {"submit_complaint@intake", "status_query@routing"};
    Cpm__Member *ms[3] = {sreg_member(&doit, "department", NULL, 0),
                          sreg_member(&lan, "operator", op_rules, 2),
                          sreg_member(&old, "operator", op_rules, 2)};
    ms[0]->ticket_prefix = "HN";
    char *revoked[1] = {old.key_id};
    Cpm__Registry doc = CPM__REGISTRY__INIT;
    doc.version = 3;
    doc.issued_ms = NOW - 86400000;
    doc.mesh = "hanoi-test";
    doc.members = ms;
    doc.n_members = 3;
    doc.revoked_keys = revoked;
    doc.n_revoked_keys = 1;
    reg = sreg_sign_load(&doc, &root);
    for (int i = 0; i < 3; i++)
        free(ms[i]);
    return reg ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cpm_registry_destroy(&reg);
    return 0;
}

typedef struct {
    uint8_t *buf;
    size_t len;
} frame_t;

static frame_t seal(const cpm_identity_t *from, const cpm_identity_t *signer, const char *key_id,
                    const char *instance, uint64_t seq, int64_t sent_ms, int type,
                    const char *recipient)
{
    static const uint8_t payload[] = {0x12, 0x03, 'w', 'e', 'b'};
    cpm_env_fields_t f = {.sender = from->id,
                          .sender_instance = instance,
                          .key_id = key_id ? key_id : from->key_id,
                          .seq = seq,
                          .sent_ms = sent_ms,
                          .type = (Cpm__MsgType)type,
                          .msg_id = "0123456789abcdef0123456789abcdef",
                          .recipient = recipient,
                          .payload = payload,
                          .payload_len = sizeof payload};
    frame_t out = {0};
    assert_int_equal(cpm_envelope_seal(&f, signer->sign_sk, &out.buf, &out.len), 0);
    return out;
}

static frame_t copy(const frame_t *f)
{
    frame_t c = {malloc(f->len ? f->len : 1), f->len};
    memcpy(c.buf, f->buf, f->len);
    return c;
}

enum {
    K_VALID,
    K_FORGED,
    K_MALFORMED,
    K_OVERSIZE,
    K_REPLAY,
    K_GHOST,
    K_REVOKED,
    K_WRONG_KEY,
    K_SKEW,
    K_RECIPIENT,
    K_FORBIDDEN,
    K_TRUNCATED,
    K_KINDS
};

/* n frames of every kind in a fixed pseudo-random order; replays repeat an
 * earlier valid frame, so that only the order of the stateful checks tells
 * the first from the copy. */
static frame_t *mix(size_t n)
{
    frame_t *fs = calloc(n, sizeof *fs);
    uint64_t seq[3] = {1, 1, 1};
    const char *inst[3] = {"cli.1", "cli.2", "cli.3"};
    size_t last_valid = SIZE_MAX;
    uint32_t rnd = 12345;
    for (size_t i = 0; i < n; i++) {
        rnd = rnd * 1103515245u + 12345u;
        int kind = (int)((rnd >> 16) % K_KINDS);
        int c = (int)((rnd >> 8) % 3);
        if (kind == K_REPLAY && last_valid == SIZE_MAX)
            kind = K_VALID;
        const int submit = CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT;
        const char *to = "hn.doit/intake";
        switch (kind) {
        case K_VALID:
            fs[i] = seal(&lan, &lan, NULL, inst[c], seq[c]++, NOW, submit, to);
            last_valid = i;
            break;
        case K_FORGED: /* signed by another key */
            fs[i] = seal(&lan, &ghost, NULL, inst[c], seq[c]++, NOW, submit, to);
            break;
        case K_MALFORMED:
            fs[i].len = 40 + i % 17;
            fs[i].buf = malloc(fs[i].len);
            for (size_t k = 0; k < fs[i].len; k++)
                fs[i].buf[k] = (uint8_t)(rnd >> (k % 24));
            break;
        case K_OVERSIZE:
            fs[i].len = CPM_MAX_MSG + 1;
            fs[i].buf = calloc(1, fs[i].len);
            break;
        case K_REPLAY:
            fs[i] = copy(&fs[last_valid]);
            break;
        case K_GHOST:
            fs[i] = seal(&ghost, &ghost, NULL, inst[c], 1, NOW, submit, to);
            break;
        case K_REVOKED:
            fs[i] = seal(&old, &old, NULL, inst[c], 1, NOW, submit, to);
            break;
        case K_WRONG_KEY:
            fs[i] = seal(&lan, &lan, doit.key_id, inst[c], seq[c]++, NOW, submit, to);
            break;
        case K_SKEW:
            fs[i] = seal(&lan, &lan, NULL, inst[c], seq[c]++, NOW - 2 * SKEW, submit, to);
            break;
        case K_RECIPIENT:
            fs[i] = seal(&lan, &lan, NULL, inst[c], seq[c]++, NOW, submit, "hn.doit/routing");
            break;
        case K_FORBIDDEN:
            fs[i] =
                seal(&lan, &lan, NULL, inst[c], seq[c]++, NOW, CPM__MSG_TYPE__MSG_STATUS_QUERY, to);
            break;
        case K_TRUNCATED: /* a valid frame cut short: layout refused */
            fs[i] = seal(&lan, &lan, NULL, inst[c], seq[c]++, NOW, submit, to);
            fs[i].len -= 10;
            break;
        }
    }
    return fs;
}

static void free_mix(frame_t *fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(fs[i].buf);
    free(fs);
}

static const cpm_verify_ctx_t ctx = {
    .self = "hn.doit/intake",
    .service = "intake",
    .transport_user = "hn.op.lan",
};

/* The frames through the pool then finish, against cpm_verifier_check one
 * by one: identical in every respect, in order. */
static void same_as_sequential(cpm_vpool_t *pool, frame_t *fs, size_t n)
{
    cpm_verifier_t *seq_v = cpm_verifier_new(SKEW), *par_v = cpm_verifier_new(SKEW);
    const uint8_t **bufs = calloc(n + 1, sizeof *bufs);
    size_t *lens = calloc(n + 1, sizeof *lens);
    cpm_precheck_t *pre = calloc(n + 1, sizeof *pre);
    for (size_t i = 0; i < n; i++) {
        bufs[i] = fs[i].buf;
        lens[i] = fs[i].len;
    }
    cpm_vpool_precheck(pool, reg, bufs, lens, n, pre);
    unsigned seen[CPM_V_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        cpm_msg_t a = {0}, b = {0};
        cpm_verdict_t va = cpm_verifier_check(seq_v, reg, &ctx, fs[i].buf, fs[i].len, NOW, &a);
        cpm_verdict_t vb = cpm_verifier_finish(par_v, &pre[i], &ctx, NOW, &b);
        if (va != vb)
            fail_msg("frame %zu: sequential %s, pool %s", i, cpm_verdict_name(va),
                     cpm_verdict_name(vb));
        seen[va]++;
        assert_memory_equal(&a.addr, &b.addr, sizeof a.addr);
        assert_ptr_equal(a.member, b.member);
        assert_int_equal(a.env != NULL, b.env != NULL);
        if (a.env) {
            assert_int_equal(a.env->seq, b.env->seq);
            assert_string_equal(a.env->sender_instance, b.env->sender_instance);
        }
        cpm_msg_clear(&a);
        cpm_msg_clear(&b);
    }
    for (int r = 0; r < CPM_V_COUNT; r++)
        assert_int_equal(cpm_verifier_count(seq_v, (cpm_verdict_t)r),
                         cpm_verifier_count(par_v, (cpm_verdict_t)r));
    /* The mix reached every verdict it was made for. */
    const cpm_verdict_t want[] = {CPM_V_OK,
                                  CPM_V_OVERSIZE,
                                  CPM_V_MALFORMED,
                                  CPM_V_UNKNOWN_SENDER,
                                  CPM_V_UNKNOWN_KEY,
                                  CPM_V_REVOKED_KEY,
                                  CPM_V_BAD_SIGNATURE,
                                  CPM_V_CLOCK_SKEW,
                                  CPM_V_WRONG_RECIPIENT,
                                  CPM_V_FORBIDDEN,
                                  CPM_V_REPLAY};
    if (n >= 200)
        for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
            if (!seen[want[k]])
                fail_msg("no frame of the mix got %s", cpm_verdict_name(want[k]));
    free(bufs);
    free(lens);
    free(pre);
    cpm_verifier_destroy(&seq_v);
    cpm_verifier_destroy(&par_v);
}

static void test_same_verdicts_as_sequential(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 2, 3, 17, 256, 300};
    for (size_t p = 0; p < NPOOLS; p++) {
        cpm_vpool_t *pool = cpm_vpool_new(pool_sizes[p]);
        assert_non_null(pool);
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            frame_t *fs = mix(sizes[k]);
            same_as_sequential(pool, fs, sizes[k]);
            free_mix(fs, sizes[k]);
        }
        cpm_vpool_destroy(&pool);
    }
}

/* A refusal found by the precheck is counted by finish, once, and the reply
 * address it read travels with it. */
static void test_finish_counts_precheck_refusals(void **state)
{
    (void)state;
    cpm_verifier_t *v = cpm_verifier_new(SKEW);
    frame_t f = seal(&ghost, &ghost, NULL, "cli.9", 1, NOW, CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT,
                     "hn.doit/intake");
    cpm_precheck_t pre;
    cpm_verifier_precheck(reg, f.buf, f.len, &pre);
    assert_int_equal(pre.verdict, CPM_V_UNKNOWN_SENDER);
    assert_null(pre.member);
    assert_true(pre.addr.known);
    assert_false(pre.addr.verified);
    assert_int_equal(cpm_verifier_count(v, CPM_V_UNKNOWN_SENDER), 0); /* precheck counts nothing */
    cpm_msg_t m = {0};
    assert_int_equal(cpm_verifier_finish(v, &pre, &ctx, NOW, &m), CPM_V_UNKNOWN_SENDER);
    assert_null(m.env);
    assert_string_equal(m.addr.sender, "hn.op.ghost");
    assert_string_equal(m.addr.sender_instance, "cli.9");
    assert_int_equal(cpm_verifier_count(v, CPM_V_UNKNOWN_SENDER), 1);
    /* Caller bugs are refused, not crashed on. */
    assert_int_equal(cpm_verifier_finish(NULL, &pre, &ctx, NOW, &m), CPM_V_MALFORMED);
    assert_int_equal(cpm_verifier_finish(v, NULL, &ctx, NOW, &m), CPM_V_MALFORMED);
    free(f.buf);
    cpm_verifier_destroy(&v);
}

/* ---- the configuration field ---------------------------------------------- */

static cpm_config_t *load_with(const char *extra, cpm_error_t *err)
{
    char path[] = "/tmp/cpm_test_vpool.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f,
            "node: hn.doit\nservice: intake\ndata_dir: /tmp/x\nregistry: /tmp/r\n"
            "root_public: /tmp/p\nidentity: /tmp/i\n%s",
            extra);
    fclose(f);
    cpm_config_t *c = NULL;
    int rc = cpm_config_load(path, &c, err);
    unlink(path);
    assert_int_equal(rc == 0, c != NULL);
    return c;
}

static void test_config_verify_threads(void **state)
{
    (void)state;
    cpm_error_t err = {0};
    cpm_config_t *c = load_with("", &err);
    assert_non_null(c);
    assert_int_equal(c->verify_threads, cpm_vpool_default_threads());
    cpm_config_destroy(&c);
    c = load_with("verify_threads: 0\n", &err); /* 0: on the loop thread */
    assert_non_null(c);
    assert_int_equal(c->verify_threads, 0);
    cpm_config_destroy(&c);
    c = load_with("verify_threads: 4\n", &err);
    assert_non_null(c);
    assert_int_equal(c->verify_threads, 4);
    cpm_config_destroy(&c);
    c = load_with("verify_threads: 65\n", &err);
    assert_null(c);
    assert_int_equal(err.code, CPM_E_INVALID);
    assert_string_equal(err.field, "verify_threads");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_index_once),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_start_hands_one_to_a_worker),
        cmocka_unit_test(test_same_verdicts_as_sequential),
        cmocka_unit_test(test_finish_counts_precheck_refusals),
        cmocka_unit_test(test_config_verify_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
