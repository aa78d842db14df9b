/* test_keyhist: members' key history (Member.past_keys, key_revoked_ms): the
 * registry refuses a malformed history naming the field, and a kept act is
 * judged at its own time: current / rotated / revoked-after-signing, or
 * refused; the wire keeps accepting only the current, unrevoked key. The YAML
 * source's past_keys and key_revoked are read as documented. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpm_envelope.h"
#include "cpm_keyhist.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpm_util.h"
#include "cpm_verifier.h"

#define T_ROTATED 1800000000000LL /* k1 -> k2 */
#define T_REVOKED 1800000500000LL /* k2 revoked (second member: its current key) */
#define T_START 1700000000000LL   /* k0 -> k1 */

/* officer: keys k0 [.., T_START), k1 [T_START, T_ROTATED), k2 current.
 * other: key o1 current, revoked from T_REVOKED. */
static cpm_identity_t k0, k1, k2, o1, o_old;
static uint8_t root_pk[32], root_sk[64];

static int group_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0 || cpm_identity_generate(&k0, "officer") != 0 ||
        cpm_identity_generate(&k1, "officer") != 0 || cpm_identity_generate(&k2, "officer") != 0 ||
        cpm_identity_generate(&o1, "other") != 0 || cpm_identity_generate(&o_old, "other") != 0)
        return -1;
    crypto_sign_keypair(root_pk, root_sk);
    return 0;
}

static ProtobufCBinaryData bin(const uint8_t *pk)
{
    ProtobufCBinaryData b = {32, (uint8_t *)pk};
    return b;
}

/* A document on the stack (nothing allocated): two members with the history
 * above. Tests mutate it, then validate or sign and load it. */
typedef struct {
    Cpm__Registry doc;
    Cpm__Member officer, other, *members[2];
    Cpm__PastKey p0, p1, *past[3];
    Cpm__PastKey extra[CPM_KEYHIST_MAX + 1];
    char revoked_id[CPM_KEY_ID_LEN + 1];
    char *revoked[1];
} fixture_t;

static void fixture(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    cpm__registry__init(&f->doc);
    f->doc.version = 1;
    f->doc.mesh = "t";
    cpm__member__init(&f->officer);
    f->officer.id = "officer";
    f->officer.agency = "hn.d.hoan-kiem";
    f->officer.role = "officer";
    f->officer.name = "An Officer";
    f->officer.sign_pk = bin(k2.sign_pk);
    f->officer.curve_pk = bin(k2.curve_pk);
    cpm__past_key__init(&f->p0);
    f->p0.sign_pk = bin(k0.sign_pk);
    f->p0.valid_until_ms = T_START;
    cpm__past_key__init(&f->p1);
    f->p1.sign_pk = bin(k1.sign_pk);
    f->p1.valid_from_ms = T_START;
    f->p1.valid_until_ms = T_ROTATED;
    f->p1.reason = "rotated: tablet replaced";
    f->past[0] = &f->p1; /* any order */
    f->past[1] = &f->p0;
    f->officer.past_keys = f->past;
    f->officer.n_past_keys = 2;
    cpm__member__init(&f->other);
    f->other.id = "other";
    f->other.agency = "hn.d.hoan-kiem";
    f->other.role = "inspector";
    f->other.name = "Revoked Inspector";
    f->other.sign_pk = bin(o1.sign_pk);
    f->other.curve_pk = bin(o1.curve_pk);
    f->other.key_revoked_ms = T_REVOKED;
    snprintf(f->revoked_id, sizeof f->revoked_id, "%s", o1.key_id);
    f->revoked[0] = f->revoked_id;
    f->doc.revoked_keys = f->revoked;
    f->doc.n_revoked_keys = 1;
    f->members[0] = &f->officer;
    f->members[1] = &f->other;
    f->doc.members = f->members;
    f->doc.n_members = 2;
}

static cpm_registry_t *load(const fixture_t *f)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[300] = "";
    if (cpm_registry_sign(&f->doc, root_sk, &buf, &len) != 0)
        return NULL;
    cpm_registry_t *r = cpm_registry_from_signed(buf, len, root_pk, err, sizeof err);
    if (!r)
        fprintf(stderr, "load: %s\n", err);
    free(buf);
    return r;
}

static void refused(fixture_t *f, const char *want)
{
    char err[300] = "";
    assert_int_equal(cpm_registry_validate(&f->doc, err, sizeof err), -1);
    if (!strstr(err, want))
        fail_msg("error '%s' does not say '%s'", err, want);
}

static void test_validation(void **state)
{
    (void)state;
    fixture_t f;
    char err[300];
    fixture(&f);
    assert_int_equal(cpm_registry_validate(&f.doc, err, sizeof err), 0);

    fixture(&f);
    f.p1.sign_pk.len = 31;
    refused(&f, "member officer: past_keys[0].sign_pk is 31 bytes");
    fixture(&f);
    f.p1.valid_until_ms = f.p1.valid_from_ms;
    refused(&f, "past_keys[0].valid_until_ms");
    fixture(&f);
    f.p1.valid_from_ms = T_START - 1; /* overlaps k0's period */
    refused(&f, "past_keys[1] (valid_from_ms..valid_until_ms) overlaps past_keys[0]");
    fixture(&f);
    f.p0.sign_pk = bin(k2.sign_pk);
    refused(&f, "past_keys[1].sign_pk is the current sign_pk");
    fixture(&f);
    f.p0.sign_pk = bin(k1.sign_pk);
    refused(&f, "past_keys[1].sign_pk is also past_keys[0]");
    fixture(&f);
    f.other.key_revoked_ms = -5;
    refused(&f, "member other: key_revoked_ms is negative");
    fixture(&f);
    f.doc.n_revoked_keys = 0; /* revoked with a time, but not on the wire */
    refused(&f, "key_revoked_ms is set but key id");
    fixture(&f);
    Cpm__PastKey before = CPM__PAST_KEY__INIT;
    Cpm__PastKey *bp[1] = {&before};
    before.sign_pk = bin(o_old.sign_pk);
    before.valid_until_ms = T_REVOKED; /* the current key began when it was revoked */
    f.other.past_keys = bp;
    f.other.n_past_keys = 1;
    refused(&f, "member other: key_revoked_ms is not after the end of its past_keys");

    /* bounded: CPM_KEYHIST_MAX entries pass, one more is refused */
    fixture(&f);
    Cpm__PastKey *many[CPM_KEYHIST_MAX + 1];
    cpm_identity_t tmp;
    for (int i = 0; i <= CPM_KEYHIST_MAX; i++) {
        cpm__past_key__init(&f.extra[i]);
        assert_int_equal(cpm_identity_generate(&tmp, "officer"), 0);
        f.extra[i].sign_pk.len = 32;
        f.extra[i].sign_pk.data = malloc(32);
        memcpy(f.extra[i].sign_pk.data, tmp.sign_pk, 32);
        f.extra[i].valid_from_ms = 1000 * i;
        f.extra[i].valid_until_ms = 1000 * i + 1000;
        many[i] = &f.extra[i];
    }
    f.officer.past_keys = many;
    f.officer.n_past_keys = CPM_KEYHIST_MAX;
    assert_int_equal(cpm_registry_validate(&f.doc, err, sizeof err), 0);
    f.officer.n_past_keys = CPM_KEYHIST_MAX + 1;
    refused(&f, "member officer: past_keys has 17 entries; at most 16");
    for (int i = 0; i <= CPM_KEYHIST_MAX; i++)
        free(f.extra[i].sign_pk.data);
}

/* A case action by who, signed with key, that says it happened at acted_ms
 * (0: none) and was sent at sent_ms. */
static uint8_t *act(const cpm_identity_t *key, const char *who, int64_t acted_ms, int64_t sent_ms,
                    size_t *len)
{
    Cpm__CaseAction a = CPM__CASE_ACTION__INIT;
    a.ticket = "HK-00000001";
    a.action = CPM__CASE_ACTION_KIND__CASE_ACTION_ACCEPT;
    a.acted_ms = acted_ms;
    uint8_t payload[128];
    size_t plen = cpm__case_action__pack(&a, payload);
    cpm_env_fields_t fl = {.sender = who,
                           .sender_instance = "cpmctl",
                           .key_id = key->key_id,
                           .seq = 1,
                           .sent_ms = sent_ms,
                           .type = CPM__MSG_TYPE__MSG_CASE_ACTION,
                           .msg_id = "m1",
                           .recipient = "hn.d.hoan-kiem/inspection",
                           .payload = payload,
                           .payload_len = plen};
    uint8_t *out = NULL;
    assert_int_equal(cpm_envelope_seal(&fl, key->sign_sk, &out, len), 0);
    return out;
}

/* The verdict and (on OK) standing of an act signed with key at at_ms. */
static cpm_verdict_t judge(const cpm_registry_t *r, const cpm_identity_t *key, const char *who,
                           int64_t at_ms, cpm_key_standing_t *st)
{
    size_t len = 0;
    uint8_t *f = act(key, who, 0, at_ms, &len);
    const Cpm__Member *m = NULL;
    *st = (cpm_key_standing_t)-1;
    cpm_verdict_t v = cpm_verify_signed_at(r, f, len, 0, &m, st);
    if (v == CPM_V_OK)
        assert_string_equal(m->id, who);
    free(f);
    return v;
}

static void test_verdicts(void **state)
{
    (void)state;
    fixture_t f;
    fixture(&f);
    cpm_registry_t *r = load(&f);
    assert_non_null(r);
    cpm_key_standing_t st;

    /* current key, from the moment it began */
    assert_int_equal(judge(r, &k2, "officer", T_ROTATED, &st), CPM_V_OK);
    assert_int_equal(st, CPM_KEY_CURRENT);
    /* ... and for an act dated earlier: recorded offline before the rotation,
     * signed and sent with the new key after it */
    assert_int_equal(judge(r, &k2, "officer", T_START - 1, &st), CPM_V_OK);
    assert_int_equal(st, CPM_KEY_CURRENT);
    /* a rotated key inside its period: accepted, and said so */
    assert_int_equal(judge(r, &k1, "officer", T_START, &st), CPM_V_OK);
    assert_int_equal(st, CPM_KEY_ROTATED);
    assert_int_equal(judge(r, &k1, "officer", T_ROTATED - 1, &st), CPM_V_OK);
    assert_int_equal(judge(r, &k0, "officer", 5, &st), CPM_V_OK); /* from the start */
    assert_int_equal(st, CPM_KEY_ROTATED);
    /* ... and refused outside it: a forgery with the old key dated later */
    assert_int_equal(judge(r, &k1, "officer", T_ROTATED, &st), CPM_V_KEY_NOT_VALID_AT);
    assert_int_equal(judge(r, &k1, "officer", T_START - 1, &st), CPM_V_KEY_NOT_VALID_AT);
    assert_int_equal(judge(r, &k0, "officer", T_START, &st), CPM_V_KEY_NOT_VALID_AT);
    /* a revoked key with its time: earlier acts stand, marked; later refused */
    assert_int_equal(judge(r, &o1, "other", T_REVOKED - 1, &st), CPM_V_OK);
    assert_int_equal(st, CPM_KEY_REVOKED);
    assert_int_equal(judge(r, &o1, "other", T_REVOKED, &st), CPM_V_KEY_NOT_VALID_AT);
    /* keys that are not the member's, and bad signatures */
    assert_int_equal(judge(r, &o_old, "other", 5, &st), CPM_V_UNKNOWN_KEY);
    assert_int_equal(judge(r, &k1, "other", T_START, &st), CPM_V_UNKNOWN_KEY);
    assert_int_equal(judge(r, &k1, "nobody", T_START, &st), CPM_V_UNKNOWN_SENDER);
    size_t len = 0;
    uint8_t *fr = act(&k1, "officer", 0, T_START, &len);
    fr[len - 1] ^= 1; /* last signature byte */
    const Cpm__Member *m = NULL;
    assert_int_equal(cpm_verify_signed_at(r, fr, len, 0, &m, &st), CPM_V_BAD_SIGNATURE);
    free(fr);

    /* the act's own time (acted_ms) decides, not when it was signed: the
     * caller reads it from the verified payload */
    fr = act(&k1, "officer", T_ROTATED - 10, T_ROTATED + 60000, &len);
    cpm_slice_t envb;
    cpm_envelope_view_t v;
    cpm_member_key_t k;
    assert_int_equal(cpm_verify_signed_key(r, fr, len, &envb, &v, &m, &k), CPM_V_OK);
    assert_false(k.current);
    Cpm__CaseAction *a = cpm__case_action__unpack(NULL, v.payload.len, v.payload.data);
    assert_non_null(a);
    assert_int_equal(cpm_keyhist_check_at(&k, a->acted_ms, &st), CPM_V_OK);
    assert_int_equal(st, CPM_KEY_ROTATED);
    assert_int_equal(cpm_verify_signed_at(r, fr, len, a->acted_ms + 10, &m, &st),
                     CPM_V_KEY_NOT_VALID_AT);
    cpm__case_action__free_unpacked(a, NULL);

    /* the wire is not weakened: a past key is unknown to cpm_verify_signed,
     * a key revoked with a time is revoked there */
    assert_int_equal(cpm_verify_signed(r, fr, len, &envb, &m), CPM_V_UNKNOWN_KEY);
    free(fr);
    fr = act(&o1, "other", 0, T_REVOKED - 1, &len);
    assert_int_equal(cpm_verify_signed(r, fr, len, &envb, &m), CPM_V_REVOKED_KEY);
    free(fr);
    fr = act(&k2, "officer", 0, T_ROTATED, &len);
    assert_int_equal(cpm_verify_signed(r, fr, len, &envb, &m), CPM_V_OK);
    free(fr);
    cpm_registry_destroy(&r);

    /* a current key revoked with no time verifies nothing, not even before */
    fixture(&f);
    f.other.key_revoked_ms = 0;
    r = load(&f);
    assert_non_null(r);
    assert_int_equal(judge(r, &o1, "other", 5, &st), CPM_V_REVOKED_KEY);
    cpm_registry_destroy(&r);
    assert_string_equal(cpm_key_standing_name(CPM_KEY_ROTATED), "rotated");
    assert_string_equal(cpm_key_standing_name(CPM_KEY_REVOKED), "revoked");
    assert_string_equal(cpm_key_standing_name(CPM_KEY_CURRENT), "current");
}

/* The YAML source: past_keys and key_revoked as docs/operations.md shows. */
static void test_yaml(void **state)
{
    (void)state;
    char dir[] = "/tmp/cpm_test_keyhist.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char keys[64], yaml[80], old[96];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    snprintf(yaml, sizeof yaml, "%s/registry.yaml", dir);
    cpm_error_t e;
    assert_int_equal(cpm_identity_save(&k2, keys, 0, &e), 0);
    assert_int_equal(cpm_identity_save(&o1, keys, 0, &e), 0);
    /* the old key's .public kept under another name */
    snprintf(old, sizeof old, "%s/old", dir);
    assert_int_equal(cpm_identity_save(&k1, old, 0, &e), 0);
    static const char text[] = "mesh: t\nversion: 2\nmembers:\n"
                               "  - id: officer\n    agency: a\n    role: officer\n    name: O\n"
                               "    public_key: keys/officer.public\n"
                               "    past_keys:\n"
                               "      - public_key: old/officer.public\n"
                               "        valid_from: 2023-11-14\n"
                               "        valid_until: 2027-01-15T08:00:00Z\n"
                               "        reason: \"rotated: tablet replaced\"\n"
                               "  - id: other\n    agency: a\n    role: inspector\n    name: I\n"
                               "    public_key: keys/other.public\n"
                               "    key_revoked: %s\n";
    char buf[1024];
    snprintf(buf, sizeof buf, text, "2027-02-01");
    assert_int_equal(cpm_write_file(yaml, buf, strlen(buf), 0644), 0);
    Cpm__Registry *doc = NULL;
    char err[400] = "";
    if (cpm_registry_from_yaml(yaml, &doc, err, sizeof err) != 0)
        fail_msg("yaml: %s", err);
    assert_int_equal(doc->members[0]->n_past_keys, 1);
    const Cpm__PastKey *p = doc->members[0]->past_keys[0];
    assert_memory_equal(p->sign_pk.data, k1.sign_pk, 32);
    assert_int_equal(p->valid_from_ms, 1699920000000LL);
    assert_int_equal(p->valid_until_ms, T_ROTATED); /* 2027-01-15T08:00:00Z */
    assert_string_equal(p->reason, "rotated: tablet replaced");
    assert_int_equal(doc->members[1]->key_revoked_ms, 1801440000000LL);
    /* key_revoked puts the key on the wire's revoked list by itself */
    assert_int_equal(doc->n_revoked_keys, 1);
    assert_string_equal(doc->revoked_keys[0], o1.key_id);
    cpm__registry__free_unpacked(doc, NULL);

    /* a bad time names the member and the field */
    snprintf(buf, sizeof buf, text, "soon");
    assert_int_equal(cpm_write_file(yaml, buf, strlen(buf), 0644), 0);
    assert_int_equal(cpm_registry_from_yaml(yaml, &doc, err, sizeof err), -1);
    assert_non_null(strstr(err, "member other: key_revoked 'soon' is not a time"));
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_yaml),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
