/* cpm_xanswer: a client accepts a signed exchange answer only when it is
 * signed by the agency asked, addressed to it, and bound to its own request
 * (hash of the frame it sent, msg_id); a changed byte, another signer, an
 * answer to another request (replayed) or to another requester is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "cpm_envelope.h"
#include "cpm_xanswer.h"

typedef struct {
    cpm_registry_t *reg;
    cpm_identity_t qltt, doit;
    uint8_t hash[32], other_hash[32];
} env_t;

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof *e);
    e->reg = dom_registry();
    dom_identity("hn.qltt", &e->qltt);
    dom_identity("hn.doit", &e->doit);
    crypto_hash_sha256(e->hash, (const uint8_t *)"request A", 9);
    crypto_hash_sha256(e->other_hash, (const uint8_t *)"request B", 9);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env_t *e = *state;
    cpm_registry_destroy(&e->reg);
    cpm_identity_wipe(&e->qltt);
    cpm_identity_wipe(&e->doit);
    free(e);
    return 0;
}

/* A signed answer by id to "officer.7/cli.1" for msg_id, naming hash. */
static uint8_t *answer(const cpm_identity_t *id, const char *publisher, const char *requester,
                       const char *msg_id, const uint8_t hash[32], size_t *len)
{
    Cpm__ExchangeAnswer a = CPM__EXCHANGE_ANSWER__INIT;
    a.request_hash.data = (uint8_t *)hash;
    a.request_hash.len = 32;
    a.request_id = (char *)msg_id;
    a.requester = (char *)requester;
    a.publisher = (char *)publisher;
    a.dataset = "watchlist";
    cpm_sender_t s;
    cpm_sender_init(&s, id, "exchange");
    uint8_t *out = NULL;
    assert_int_equal(cpm_sender_seal(&s, CPM__MSG_TYPE__MSG_EXCHANGE_ANSWER_SIGNED,
                                     "officer.7/cli.1", msg_id, &a.base, NULL, &out, len),
                     0);
    return out;
}

static int check(env_t *e, const uint8_t *f, size_t len, cpm_error_t *err)
{
    cpm_xanswer_expect_t x = {"hn.qltt", "officer.7", "officer.7/cli.1", "m1", e->hash};
    Cpm__ExchangeAnswer *a = NULL;
    int rc = cpm_xanswer_verify(e->reg, f, len, &x, &a, err);
    if (rc == 0) {
        assert_non_null(a);
        cpm__exchange_answer__free_unpacked(a, NULL);
    } else {
        assert_null(a);
    }
    return rc;
}

static void test_good(void **state)
{
    env_t *e = *state;
    size_t len;
    cpm_error_t err = {0};
    uint8_t *f = answer(&e->qltt, "hn.qltt", "officer.7", "m1", e->hash, &len);
    assert_int_equal(check(e, f, len, &err), 0);
    free(f);
}

static void test_forged_and_altered(void **state)
{
    env_t *e = *state;
    size_t len;
    cpm_error_t err = {0};
    uint8_t *f = answer(&e->qltt, "hn.qltt", "officer.7", "m1", e->hash, &len);
    /* every single changed byte is refused */
    for (size_t i = 0; i < len; i++) {
        f[i] ^= 0x01;
        assert_int_not_equal(check(e, f, len, &err), 0);
        f[i] ^= 0x01;
    }
    free(f);
    /* signed by another member that claims to be the agency asked */
    f = answer(&e->doit, "hn.qltt", "officer.7", "m1", e->hash, &len);
    assert_int_equal(check(e, f, len, &err), CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "signature");
    free(f);
}

static void test_other_request(void **state)
{
    env_t *e = *state;
    size_t len;
    cpm_error_t err = {0};
    /* a genuine answer to another request (a replay): refused */
    uint8_t *f = answer(&e->qltt, "hn.qltt", "officer.7", "m1", e->other_hash, &len);
    assert_int_equal(check(e, f, len, &err), CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "binding");
    free(f);
    f = answer(&e->qltt, "hn.qltt", "officer.7", "m0", e->hash, &len);
    assert_int_equal(check(e, f, len, &err), CPM_E_FORBIDDEN);
    assert_string_equal(err.field, "binding");
    free(f);
    f = answer(&e->qltt, "hn.qltt", "officer.8", "m1", e->hash, &len);
    assert_int_equal(check(e, f, len, &err), CPM_E_FORBIDDEN);
    free(f);
    /* the answer says another publisher than its signer */
    f = answer(&e->qltt, "hn.doit", "officer.7", "m1", e->hash, &len);
    assert_int_equal(check(e, f, len, &err), CPM_E_FORBIDDEN);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_and_altered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_request, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
