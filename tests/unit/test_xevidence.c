/* Evidence files: an answered query in hn.a's log, checkpointed and
 * co-signed by hn.b, exported by exchange_logq and verified offline with the
 * root key alone; every single changed byte is refused; a forged
 * cosignature, a wrong root key and an unchecked entry (409) too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "fixtures/xlog/xlog_fixture.h"
#include "cpm_util.h"
#include "cpm_xevidence.h"
#include "cpm_xlog.h"
#include "exchange_checkpoint.h"
#include "exchange_log.h"
#include "exchange_logq.h"

static xfix_t F;

static int setup(void **state)
{
    (void)state;
    xfix_setup(&F);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    xfix_teardown(&F);
    return 0;
}

/* The dataset the log entry names (a dishonest agency may name another). */
static const char *entry_dataset = "violations";

/* officer.b asks hn.a; hn.a answers, signed and bound to the request. */
static void append_query(MDB_txn *txn, uint64_t *seq)
{
    cpm_sender_t so, sa;
    cpm_sender_init(&so, &F.off, "cli");
    cpm_sender_init(&sa, &F.a, "exchange");
    Cpm__ExchangeQuery q = CPM__EXCHANGE_QUERY__INIT;
    q.dataset = "violations";
    q.business = "Công ty TNHH Hoa Mai";
    uint8_t *req = NULL, *ans = NULL;
    size_t rlen = 0, alen = 0;
    char id[33];
    assert_int_equal(cpm_sender_seal(&so, CPM__MSG_TYPE__MSG_EXCHANGE_QUERY, "hn.a/exchange", NULL,
                                     &q.base, id, &req, &rlen),
                     0);
    uint8_t h[32];
    crypto_hash_sha256(h, req, rlen);
    Cpm__ExchangeAnswer a = CPM__EXCHANGE_ANSWER__INIT;
    a.request_hash.data = h;
    a.request_hash.len = 32;
    a.request_id = id;
    a.requester = "officer.b";
    a.publisher = "hn.a";
    a.dataset = "violations";
    uint64_t head = 0;
    assert_int_equal(exchange_log_head(F.st, txn, &head, NULL), 0);
    a.log_seq = head + 1; /* the entry this answer is logged as */
    assert_int_equal(cpm_sender_seal(&sa, CPM__MSG_TYPE__MSG_EXCHANGE_ANSWER_SIGNED,
                                     "officer.b/cli", id, &a.base, NULL, &ans, &alen),
                     0);
    exchange_log_entry_t e = {"query", "officer.b", entry_dataset, req, rlen, ans, alen};
    assert_int_equal(exchange_log_append(F.st, txn, cpm_now_ms(), &e, seq), 0);
    free(req);
    free(ans);
}

static void filler(MDB_txn *txn, int n)
{
    for (int i = 0; i < n; i++) {
        exchange_log_entry_t e = {"publish", "hn.a", "watchlist", NULL, 0, (const uint8_t *)"reply",
                                  5};
        assert_int_equal(exchange_log_append(F.st, txn, cpm_now_ms(), &e, NULL), 0);
    }
}

static int ask(uint64_t seq, const char *agency, const char *role, Cpm__ExchangeLogReply *r,
               cpm_error_t *err)
{
    MDB_txn *txn = dom_begin(F.st, false);
    Cpm__ExchangeLogQuery q = CPM__EXCHANGE_LOG_QUERY__INIT;
    q.evidence_seq = seq;
    int rc = exchange_logq(&F.xa, F.st, txn, F.reg_path, agency, role, &q, r, err);
    cpm_store_abort(&txn);
    return rc;
}

/* The evidence of a query entry with a co-signed checkpoint; *len bytes. */
static uint8_t *make_evidence(size_t *len, bool cosigned)
{
    MDB_txn *txn = dom_begin(F.st, true);
    uint64_t seq = 0, cp = 0;
    filler(txn, 2);
    append_query(txn, &seq);
    assert_int_equal(cpm_store_commit(txn), 0);
    cpm_error_t err = {0};
    Cpm__ExchangeLogReply r = CPM__EXCHANGE_LOG_REPLY__INIT;
    /* not yet checkpointed: 409, and it says so */
    assert_int_equal(ask(seq, "hn.a", "department", &r, &err), CPM_E_CONFLICT);
    assert_non_null(strstr(err.message, "not yet checkpointed"));
    exchange_logq_free(&r);
    txn = dom_begin(F.st, true);
    filler(txn, 3);
    cpm_sender_t sa;
    cpm_sender_init(&sa, &F.a, "exchange.ckpt");
    assert_int_equal(exchange_checkpoint_make(&F.xa, &sa, F.st, txn, cpm_now_ms(), &cp), 0);
    assert_int_equal(cp, seq + 3);
    if (cosigned) {
        Cpm__SignedCheckpoint *sc = NULL;
        assert_int_equal(exchange_checkpoint_get(F.st, txn, cp, &sc), 0);
        uint8_t sig[64];
        Cpm__Cosignature c = CPM__COSIGNATURE__INIT;
        c.cosigner = "hn.b";
        c.at_ms = cpm_now_ms();
        c.signature.data = sig;
        c.signature.len = 64;
        assert_int_equal(
            cpm_xcosign_sign(F.b.sign_sk, sc->checkpoint.data, sc->checkpoint.len, c.at_ms, sig),
            0);
        cpm__signed_checkpoint__free_unpacked(sc, NULL);
        assert_int_equal(exchange_checkpoint_add_cosig(F.st, txn, cp, &c), 0);
    }
    assert_int_equal(cpm_store_commit(txn), 0);
    /* only the own agency and coordinators read the log */
    assert_int_equal(ask(seq, "hn.c", "department", &r, &err), CPM_E_FORBIDDEN);
    assert_int_equal(ask(seq, "hn.b", "officer", &r, &err), CPM_E_FORBIDDEN);
    /* another agency's coordinator reads hashes, never an entry's content */
    assert_int_equal(ask(seq, "hn.b", "coordinator", &r, &err), CPM_E_FORBIDDEN);
    assert_int_equal(ask(seq, "hn.a", "inspector", &r, &err), CPM_E_FORBIDDEN);
    assert_int_equal(ask(seq, "hn.a", "officer", &r, &err), 0);
    uint8_t *out = malloc(r.evidence.len);
    memcpy(out, r.evidence.data, r.evidence.len);
    *len = r.evidence.len;
    exchange_logq_free(&r);
    return out;
}

static void test_evidence_verifies_offline(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *ev = make_evidence(&len, true);
    char *summary = NULL;
    cpm_xlog_problem_t p = {0};
    if (cpm_xevidence_verify(ev, len, F.root_pk, &summary, &p) != 0)
        fail_msg("refused: %s", p.what);
    assert_non_null(strstr(summary, "kind query"));
    assert_non_null(strstr(summary, "officer.b"));
    assert_non_null(strstr(summary, "bound to the request's hash"));
    assert_non_null(strstr(summary, "cosigned:  by hn.b"));
    free(summary);
    /* another root key */
    uint8_t other_pk[32], other_sk[64];
    crypto_sign_keypair(other_pk, other_sk);
    assert_int_equal(cpm_xevidence_verify(ev, len, other_pk, &summary, &p), -1);
    assert_non_null(strstr(p.what, "signed_registry"));
    free(ev);
}

/* An agency logs a genuine request and its own answer under another
 * dataset (to make it look as if the requester obtained something else):
 * the entry does not prove that exchange. */
static void test_entry_disagreeing_with_its_request_refused(void **state)
{
    (void)state;
    entry_dataset = "product_warnings";
    size_t len = 0;
    uint8_t *ev = make_evidence(&len, true);
    entry_dataset = "violations";
    char *summary = NULL;
    cpm_xlog_problem_t p = {0};
    assert_int_equal(cpm_xevidence_verify(ev, len, F.root_pk, &summary, &p), -1);
    assert_non_null(strstr(p.what, "another dataset"));
    free(ev);
}

static void test_every_changed_byte_refused(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *ev = make_evidence(&len, true);
    char *summary = NULL;
    cpm_xlog_problem_t p = {0};
    size_t passed = 0;
    for (size_t i = 0; i < len; i++) {
        ev[i] ^= 0x01;
        if (cpm_xevidence_verify(ev, len, F.root_pk, &summary, &p) == 0) {
            fprintf(stderr, "byte %zu of %zu changed and still verifies\n", i, len);
            free(summary);
            passed++;
        }
        ev[i] ^= 0x01;
    }
    assert_int_equal(passed, 0);
    /* a removed byte and an added one */
    assert_int_equal(cpm_xevidence_verify(ev, len - 1, F.root_pk, &summary, &p), -1);
    free(ev);
}

static void test_uncosigned_checkpoint_says_so(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *ev = make_evidence(&len, false);
    char *summary = NULL;
    cpm_xlog_problem_t p = {0};
    assert_int_equal(cpm_xevidence_verify(ev, len, F.root_pk, &summary, &p), 0);
    assert_non_null(strstr(summary, "by no peer"));
    free(summary);
    free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_evidence_verifies_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_changed_byte_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_disagreeing_with_its_request_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_uncosigned_checkpoint_says_so, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
