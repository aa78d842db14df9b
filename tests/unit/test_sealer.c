/* cpm_sealer: format v2 sealed contacts (an ephemeral key shared by a few
 * seals) open with the recipient's key only, each seal has its own nonce, the
 * key rotates after CPM_SEALER_USES seals or CPM_SEALER_MS, and cpm_seal_open
 * still opens the old sealed boxes. */
#include "cpm_seal.h"

#include <sodium.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static Cpm__ContactCard card(const char *ticket)
{
    Cpm__ContactCard c = CPM__CONTACT_CARD__INIT;
    c.ticket = (char *)ticket;
    c.name = "Nguyễn Văn A";
    c.phone = "0912345678";
    return c;
}

static void test_v2_opens_with_recipient_key_only(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32], pk2[32], sk2[32];
    crypto_box_keypair(pk, sk);
    crypto_box_keypair(pk2, sk2);
    cpm_sealer_t *s = cpm_sealer_new();
    assert_non_null(s);
    Cpm__ContactCard c = card("HK-1");
    uint8_t *b = NULL;
    size_t len = 0;
    assert_int_equal(cpm_sealer_seal(s, &c, pk, 1000, &b, &len), 0);
    assert_int_equal(b[0], CPM_SEAL_V2);
    assert_int_equal(len, cpm__contact_card__get_packed_size(&c) + CPM_SEAL_V2_OVERHEAD);
    int rc = -1;
    Cpm__ContactCard *o = cpm_seal_open(b, len, pk, sk, "HK-1", &rc);
    assert_non_null(o);
    assert_int_equal(rc, 0);
    assert_string_equal(o->phone, "0912345678");
    assert_string_equal(o->name, "Nguyễn Văn A");
    cpm__contact_card__free_unpacked(o, NULL);
    assert_null(cpm_seal_open(b, len, pk2, sk2, "HK-1", &rc)); /* another agency */
    assert_int_equal(rc, CPM_E_INVALID);
    assert_null(cpm_seal_open(b, len, pk, sk, "HK-2", &rc)); /* copied onto another case */
    assert_int_equal(rc, CPM_E_CONFLICT);
    for (size_t i = 0; i < len; i += 7) { /* any flipped byte is refused */
        b[i] ^= 0x40;
        assert_null(cpm_seal_open(b, len, pk, sk, "HK-1", &rc));
        b[i] ^= 0x40;
    }
    free(b);
    cpm_sealer_destroy(&s);
    assert_null(s);
}

static void test_key_shared_then_rotated(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32], pk2[32], sk2[32];
    crypto_box_keypair(pk, sk);
    crypto_box_keypair(pk2, sk2);
    cpm_sealer_t *s = cpm_sealer_new();
    Cpm__ContactCard c = card("HK-1");
    uint8_t first_epk[32], first_nonce[24];
    for (int i = 0; i < CPM_SEALER_USES + 1; i++) {
        uint8_t *b = NULL;
        size_t len = 0;
        assert_int_equal(cpm_sealer_seal(s, &c, pk, 5000, &b, &len), 0);
        if (i == 0) {
            memcpy(first_epk, b + 1, 32);
            memcpy(first_nonce, b + 33, 24);
        } else if (i < CPM_SEALER_USES) {
            assert_memory_equal(b + 1, first_epk, 32);        /* shared ephemeral key */
            assert_memory_not_equal(b + 33, first_nonce, 24); /* never the same nonce */
        } else {
            assert_memory_not_equal(b + 1, first_epk, 32); /* used up: a new one */
        }
        int rc;
        Cpm__ContactCard *o = cpm_seal_open(b, len, pk, sk, "HK-1", &rc);
        assert_non_null(o);
        cpm__contact_card__free_unpacked(o, NULL);
        free(b);
    }
    /* Another recipient has its own key; time alone rotates too. */
    uint8_t *b = NULL, *b2 = NULL;
    size_t len = 0, len2 = 0;
    assert_int_equal(cpm_sealer_seal(s, &c, pk2, 5000, &b, &len), 0);
    assert_int_equal(cpm_sealer_seal(s, &c, pk2, 5000 + CPM_SEALER_MS, &b2, &len2), 0);
    assert_memory_not_equal(b + 1, b2 + 1, 32);
    int rc;
    Cpm__ContactCard *o = cpm_seal_open(b2, len2, pk2, sk2, "HK-1", &rc);
    assert_non_null(o);
    cpm__contact_card__free_unpacked(o, NULL);
    free(b);
    free(b2);
    /* An idle recipient's key is wiped by a sweep once its window is over. */
    assert_int_equal(cpm_sealer_sweep(s, 5000 + CPM_SEALER_MS + 1), 0);
    /* pk's key (born at 5000) was wiped by the seal at 5000 + CPM_SEALER_MS
     * already: each seal sweeps. pk2's new key goes now. */
    assert_int_equal(cpm_sealer_sweep(s, 5000 + 2 * CPM_SEALER_MS), 1);
    assert_int_equal(cpm_sealer_sweep(s, 5000 + 2 * CPM_SEALER_MS), 0);
    cpm_sealer_destroy(&s);
}

/* Nonces come from a pool drawn in one call: across several refills and
 * recipients no nonce is used twice, and every seal opens. */
static void test_nonces_never_repeat(void **state)
{
    (void)state;
    enum { SEALS = 300 };
    uint8_t pk[2][32], sk[2][32];
    crypto_box_keypair(pk[0], sk[0]);
    crypto_box_keypair(pk[1], sk[1]);
    cpm_sealer_t *s = cpm_sealer_new();
    assert_non_null(s);
    Cpm__ContactCard c = card("HK-1");
    static uint8_t nonce[SEALS][24];
    for (int i = 0; i < SEALS; i++) {
        uint8_t *b = NULL;
        size_t len = 0;
        int who = i % 3 == 0;
        assert_int_equal(cpm_sealer_seal(s, &c, pk[who], 5000, &b, &len), 0);
        memcpy(nonce[i], b + 33, 24);
        int rc;
        Cpm__ContactCard *o = cpm_seal_open(b, len, pk[who], sk[who], "HK-1", &rc);
        assert_non_null(o);
        cpm__contact_card__free_unpacked(o, NULL);
        free(b);
        for (int j = 0; j < i; j++)
            assert_memory_not_equal(nonce[i], nonce[j], 24);
    }
    cpm_sealer_destroy(&s);
}

/* A forked child holds a copy of its parent's sealer: its unused nonces and
 * the shared key of each recipient. The parent and the child each seal the
 * same contact to the same recipient after the fork: the child's seal must
 * not share the parent's ephemeral key or nonce (XSalsa20-Poly1305 with a
 * key and nonce used twice gives both plaintexts away), and it opens. */
static void test_child_does_not_reuse_parent_key_or_nonce(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32];
    crypto_box_keypair(pk, sk);
    cpm_sealer_t *s = cpm_sealer_new();
    assert_non_null(s);
    Cpm__ContactCard c = card("HK-1");
    uint8_t *b = NULL;
    size_t len = 0;
    assert_int_equal(cpm_sealer_seal(s, &c, pk, 5000, &b, &len), 0); /* key and pool drawn */
    free(b);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t *cb = NULL;
        size_t clen = 0;
        int ok = cpm_sealer_seal(s, &c, pk, 5000, &cb, &clen) == 0 &&
                 write(fds[1], &clen, sizeof clen) == (ssize_t)sizeof clen &&
                 write(fds[1], cb, clen) == (ssize_t)clen;
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    size_t clen = 0;
    assert_int_equal(read(fds[0], &clen, sizeof clen), sizeof clen);
    assert_true(clen > CPM_SEAL_V2_OVERHEAD && clen < CPM_SEAL_MAX);
    uint8_t child[CPM_SEAL_MAX];
    size_t got = 0;
    for (ssize_t r; got < clen && (r = read(fds[0], child + got, clen - got)) > 0;)
        got += (size_t)r;
    close(fds[0]);
    assert_int_equal(got, clen);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(cpm_sealer_seal(s, &c, pk, 5000, &b, &len), 0);
    assert_int_equal(len, clen);
    assert_memory_not_equal(child + 1, b + 1, 32);   /* not the parent's ephemeral key */
    assert_memory_not_equal(child + 33, b + 33, 24); /* nor its nonce */
    int rc;
    Cpm__ContactCard *o = cpm_seal_open(child, clen, pk, sk, "HK-1", &rc);
    assert_non_null(o);
    cpm__contact_card__free_unpacked(o, NULL);
    free(b);
    cpm_sealer_destroy(&s);
}

static void test_old_sealed_box_still_opens(void **state)
{
    (void)state;
    uint8_t pk[32], sk[32];
    crypto_box_keypair(pk, sk);
    Cpm__ContactCard c = card("HK-9");
    /* Many seals: some sealed boxes start with 0x02 by chance (their epk)
     * and must still open through the fallback. */
    int starting_02 = 0;
    for (int i = 0; i < 20000 && (i < 64 || starting_02 == 0); i++) {
        uint8_t *b = NULL;
        size_t len = 0;
        assert_int_equal(cpm_seal_contact(&c, pk, &b, &len), 0);
        starting_02 += b[0] == CPM_SEAL_V2;
        int rc;
        Cpm__ContactCard *o = cpm_seal_open(b, len, pk, sk, "HK-9", &rc);
        assert_non_null(o);
        cpm__contact_card__free_unpacked(o, NULL);
        free(b);
    }
    assert_true(starting_02 > 0); /* (255/256)^20000: never without one */
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v2_opens_with_recipient_key_only),
        cmocka_unit_test(test_key_shared_then_rotated),
        cmocka_unit_test(test_nonces_never_repeat),
        cmocka_unit_test(test_child_does_not_reuse_parent_key_or_nonce),
        cmocka_unit_test(test_old_sealed_box_still_opens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
