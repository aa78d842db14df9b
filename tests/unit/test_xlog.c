/* The proof log: chain verification with each kind of tampering named by its
 * first bad seq, checkpoints and cosignatures (sealed, verified, forged), the
 * co-signer's rules (fork, backdating, older seq, wrong sender) and stored
 * checkpoints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "fixtures/xlog/xlog_fixture.h"
#include "cpm_util.h"
#include "cpm_xlog.h"
#include "exchange_checkpoint.h"
#include "exchange_log.h"

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

/* n entries appended to the store, read back as records 1..n. */
static void make_log(size_t n, Cpm__LogRecord **recs)
{
    MDB_txn *txn = dom_begin(F.st, true);
    uint64_t head = 0;
    assert_int_equal(exchange_log_head(F.st, txn, &head, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        char req[32];
        snprintf(req, sizeof req, "request %zu", i);
        exchange_log_entry_t e = {
            "query", "hn.b", "violations", (uint8_t *)req, strlen(req), (const uint8_t *)"answer",
            6};
        assert_int_equal(exchange_log_append(F.st, txn, 1700000000000LL + (int64_t)i, &e, NULL), 0);
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(exchange_log_get(F.st, txn, head + 1 + i, &recs[i]), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
}

static void free_log(Cpm__LogRecord **recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cpm__log_record__free_unpacked(recs[i], NULL);
}

static void refused_at(Cpm__LogRecord **recs, size_t n, uint64_t seq, const char *want)
{
    cpm_xlog_head_t h = {0, {0}, false};
    cpm_xlog_problem_t p = {0};
    assert_int_equal(cpm_xlog_verify_run(recs, n, &h, &p), -1);
    if (p.seq != seq || !strstr(p.what, want))
        fail_msg("got seq %llu \"%s\", want seq %llu \"%s\"", (unsigned long long)p.seq, p.what,
                 (unsigned long long)seq, want);
}

static void test_chain_and_tampering(void **state)
{
    (void)state;
    Cpm__LogRecord *r[5];
    make_log(5, r);
    cpm_xlog_head_t h = {0, {0}, false};
    cpm_xlog_problem_t p = {0};
    assert_int_equal(cpm_xlog_verify_run(r, 5, &h, &p), 0);
    assert_int_equal(h.seq, 5);
    /* in pages: the second page continues the first */
    cpm_xlog_head_t h2 = {0, {0}, false};
    assert_int_equal(cpm_xlog_verify_run(r, 2, &h2, &p), 0);
    assert_int_equal(cpm_xlog_verify_run(r + 2, 3, &h2, &p), 0);
    assert_memory_equal(h2.hash, h.hash, 32);

    /* a changed byte in a body */
    r[2]->body.data[r[2]->body.len - 1] ^= 1;
    refused_at(r, 5, 3, "changed byte");
    r[2]->body.data[r[2]->body.len - 1] ^= 1;
    /* a changed byte in a stored hash */
    r[3]->hash.data[0] ^= 0x80;
    refused_at(r, 5, 4, "hash does not match");
    r[3]->hash.data[0] ^= 0x80;
    /* a removed record */
    Cpm__LogRecord *gap[4] = {r[0], r[1], r[3], r[4]};
    refused_at(gap, 4, 3, "missing");
    /* a removed first record */
    refused_at(r + 1, 4, 1, "missing");
    /* a reordered pair */
    Cpm__LogRecord *swap[5] = {r[0], r[2], r[1], r[3], r[4]};
    refused_at(swap, 5, 2, "out of order");
    /* a body rewritten with its own hash recomputed: the next link breaks */
    uint8_t c[32];
    r[1]->body.data[r[1]->body.len - 1] ^= 1;
    cpm_xlog_content(r[1]->body.data, r[1]->body.len, c);
    cpm_xlog_link(r[1]->prev_hash.data, c, r[1]->hash.data);
    refused_at(r, 5, 3, "prev_hash is not the hash of seq 2");
    free_log(r, 5);
}

static void test_checkpoint_seal_verify_forge(void **state)
{
    (void)state;
    uint8_t head[32] = {1, 2, 3};
    cpm_sender_t sa, sb;
    cpm_sender_init(&sa, &F.a, "exchange.ckpt");
    cpm_sender_init(&sb, &F.b, "exchange.ckpt");
    uint8_t *fr = NULL, *forged = NULL;
    size_t len = 0, flen = 0;
    int64_t now = cpm_now_ms();
    assert_int_equal(cpm_xcheckpoint_seal(&sa, "hn.a", 9, head, now, &fr, &len), 0);
    Cpm__Checkpoint *cp = NULL;
    cpm_xlog_problem_t p = {0};
    assert_int_equal(cpm_xcheckpoint_verify(F.reg, fr, len, &cp, &p), 0);
    assert_string_equal(cp->agency, "hn.a");
    assert_int_equal(cp->seq, 9);
    assert_memory_equal(cp->head_hash.data, head, 32);
    cpm__checkpoint__free_unpacked(cp, NULL);
    /* signed by hn.b but naming hn.a */
    assert_int_equal(cpm_xcheckpoint_seal(&sb, "hn.a", 9, head, now, &forged, &flen), 0);
    assert_int_equal(cpm_xcheckpoint_verify(F.reg, forged, flen, &cp, &p), -1);
    assert_non_null(strstr(p.what, "is not its signer"));
    /* a replaced signature */
    fr[len - 3] ^= 0x10;
    assert_int_equal(cpm_xcheckpoint_verify(F.reg, fr, len, &cp, &p), -1);
    assert_non_null(strstr(p.what, "signature refused"));
    fr[len - 3] ^= 0x10;

    /* cosignatures */
    uint8_t sig[64];
    Cpm__Cosignature c = CPM__COSIGNATURE__INIT;
    c.cosigner = "hn.b";
    c.at_ms = now;
    c.signature.data = sig;
    c.signature.len = 64;
    assert_int_equal(cpm_xcosign_sign(F.b.sign_sk, fr, len, now, sig), 0);
    assert_int_equal(cpm_xcosign_verify(F.reg, &c, "hn.a", fr, len, 9, &p), 0);
    /* the same bytes under another time */
    c.at_ms = now - 1;
    assert_int_equal(cpm_xcosign_verify(F.reg, &c, "hn.a", fr, len, 9, &p), -1);
    c.at_ms = now;
    /* signed by hn.c, labelled hn.b: forged */
    assert_int_equal(cpm_xcosign_sign(F.c.sign_sk, fr, len, now, sig), 0);
    assert_int_equal(cpm_xcosign_verify(F.reg, &c, "hn.a", fr, len, 9, &p), -1);
    assert_non_null(strstr(p.what, "forged"));
    assert_int_equal(p.seq, 9);
    /* an agency cannot co-sign itself */
    c.cosigner = "hn.a";
    assert_int_equal(cpm_xcosign_sign(F.a.sign_sk, fr, len, now, sig), 0);
    assert_int_equal(cpm_xcosign_verify(F.reg, &c, "hn.a", fr, len, 9, &p), -1);
    /* a person (here another agency's officer) is not a peer exchange: an
     * agency could have its own staff sign a backdated checkpoint */
    c.cosigner = "officer.b";
    assert_int_equal(cpm_xcosign_sign(F.off.sign_sk, fr, len, now, sig), 0);
    assert_int_equal(cpm_xcosign_verify(F.reg, &c, "hn.a", fr, len, 9, &p), -1);
    assert_non_null(strstr(p.what, "runs no exchange"));
    /* a SignedCheckpoint with a forged cosignature is refused as a whole */
    c.cosigner = "hn.c";
    Cpm__Cosignature *cs[1] = {&c};
    Cpm__SignedCheckpoint sc = CPM__SIGNED_CHECKPOINT__INIT;
    sc.checkpoint.data = fr;
    sc.checkpoint.len = len;
    sc.cosignatures = cs;
    sc.n_cosignatures = 1;
    assert_int_equal(cpm_xcheckpoint_verify_signed(F.reg, &sc, NULL, &p), -1);
    assert_int_equal(cpm_xcosign_sign(F.c.sign_sk, fr, len, now, sig), 0);
    assert_int_equal(cpm_xcheckpoint_verify_signed(F.reg, &sc, NULL, &p), 0);
    free(fr);
    free(forged);
}

/* hn.b co-signs hn.a's checkpoints. */
static int cosign(int64_t at_ms, uint64_t seq, uint8_t headbyte, const char *sender,
                  cpm_error_t *err)
{
    uint8_t head[32] = {headbyte};
    cpm_sender_t sa;
    cpm_sender_init(&sa, &F.a, "exchange.ckpt");
    uint8_t *fr = NULL;
    size_t len = 0;
    assert_int_equal(cpm_xcheckpoint_seal(&sa, "hn.a", seq, head, at_ms, &fr, &len), 0);
    Cpm__CosignRequest req = CPM__COSIGN_REQUEST__INIT;
    req.checkpoint.data = fr;
    req.checkpoint.len = len;
    Cpm__Cosignature out = CPM__COSIGNATURE__INIT;
    uint8_t sig[64];
    MDB_txn *txn = dom_begin(F.st, true);
    int64_t now = cpm_now_ms();
    int rc = exchange_cosign(&F.xb, F.st, txn, sender, (const uint8_t *)"frame", 5, &req, now, &out,
                             sig, err);
    if (rc == 0) {
        cpm_xlog_problem_t p = {0};
        assert_int_equal(cpm_xcosign_verify(F.reg, &out, "hn.a", fr, len, seq, &p), 0);
        assert_int_equal(cpm_store_commit(txn), 0);
    } else {
        cpm_store_abort(&txn);
    }
    free(fr);
    return rc;
}

static void test_cosigner_rules(void **state)
{
    (void)state;
    cpm_error_t err = {0};
    int64_t now = cpm_now_ms();
    MDB_txn *txn = dom_begin(F.st, false);
    uint64_t before = 0;
    assert_int_equal(exchange_log_head(F.st, txn, &before, NULL), 0);
    cpm_store_abort(&txn);
    assert_int_equal(cosign(now, 10, 1, "hn.a", &err), 0);
    /* logged as a "cosign" entry */
    txn = dom_begin(F.st, false);
    uint64_t after = 0;
    assert_int_equal(exchange_log_head(F.st, txn, &after, NULL), 0);
    assert_int_equal(after, before + 1);
    Cpm__LogRecord *r = NULL;
    assert_int_equal(exchange_log_get(F.st, txn, after, &r), 0);
    Cpm__LogEntry *e = cpm__log_entry__unpack(NULL, r->body.len, r->body.data);
    assert_string_equal(e->kind, "cosign");
    assert_string_equal(e->peer, "hn.a");
    cpm__log_entry__free_unpacked(e, NULL);
    cpm__log_record__free_unpacked(r, NULL);
    cpm_store_abort(&txn);
    /* asked again for the same checkpoint: signed again */
    assert_int_equal(cosign(now, 10, 1, "hn.a", &err), 0);
    /* the same seq with another head: a fork */
    assert_int_equal(cosign(now, 10, 2, "hn.a", &err), CPM_E_CONFLICT);
    assert_non_null(strstr(err.message, "fork"));
    /* an older seq */
    assert_int_equal(cosign(now, 9, 1, "hn.a", &err), CPM_E_CONFLICT);
    /* backdated by an hour */
    assert_int_equal(cosign(now - 3600000, 11, 1, "hn.a", &err), CPM_E_INVALID);
    assert_string_equal(err.field, "at_ms");
    /* asked by someone else than the agency */
    assert_int_equal(cosign(now, 11, 1, "hn.c", &err), CPM_E_FORBIDDEN);
    /* a later one */
    assert_int_equal(cosign(now, 11, 1, "hn.a", &err), 0);
}

static void test_checkpoints_stored(void **state)
{
    (void)state;
    Cpm__LogRecord *r[3];
    make_log(3, r);
    free_log(r, 3);
    cpm_sender_t sa;
    cpm_sender_init(&sa, &F.a, "exchange.ckpt");
    MDB_txn *txn = dom_begin(F.st, true);
    uint64_t head = 0, seq = 0, cs = 0;
    assert_int_equal(exchange_log_head(F.st, txn, &head, NULL), 0);
    assert_int_equal(exchange_checkpoint_make(&F.xa, &sa, F.st, txn, cpm_now_ms(), &seq), 0);
    assert_int_equal(seq, head);
    Cpm__SignedCheckpoint *sc = NULL;
    assert_int_equal(exchange_checkpoint_at_or_after(F.st, txn, 1, &sc, &cs), 0);
    assert_int_equal(cs, seq);
    cpm_xlog_problem_t p = {0};
    assert_int_equal(cpm_xcheckpoint_verify_signed(F.reg, sc, NULL, &p), 0);
    uint8_t sig[64];
    Cpm__Cosignature c = CPM__COSIGNATURE__INIT;
    c.cosigner = "hn.b";
    c.at_ms = cpm_now_ms();
    c.signature.data = sig;
    c.signature.len = 64;
    assert_int_equal(
        cpm_xcosign_sign(F.b.sign_sk, sc->checkpoint.data, sc->checkpoint.len, c.at_ms, sig), 0);
    cpm__signed_checkpoint__free_unpacked(sc, NULL);
    assert_int_equal(exchange_checkpoint_add_cosig(F.st, txn, seq, &c), 0);
    assert_int_equal(exchange_checkpoint_add_cosig(F.st, txn, seq, &c), 0); /* once */
    assert_int_equal(exchange_checkpoint_last(F.st, txn, &cs, &sc), 0);
    assert_int_equal(sc->n_cosignatures, 1);
    assert_int_equal(cpm_xcheckpoint_verify_signed(F.reg, sc, NULL, &p), 0);
    cpm__signed_checkpoint__free_unpacked(sc, NULL);
    assert_int_equal(exchange_checkpoint_at_or_after(F.st, txn, seq + 1, &sc, &cs),
                     CPM_E_NOT_FOUND);
    assert_int_equal(cpm_store_commit(txn), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain_and_tampering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_seal_verify_forge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cosigner_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoints_stored, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
