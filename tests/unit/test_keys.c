/* Tests of cpm_keys: derivation, key ids, key files and every refusal of the loaders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_keys.h"
#include "cpm_util.h"

#include <dirent.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cpm-test-keys-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void seed_of(uint8_t seed[32], uint8_t b)
{
    memset(seed, b, 32);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    cpm_hex_encode(b, n, out);
}

/* A secret key file for id, with any field replaced through the arguments
 * (NULL keeps the real value; "-" leaves the field out). */
typedef struct {
    const char *id, *key_id, *sign_pk, *sign_sk, *curve_pk, *curve_sk;
} fields_t;

static void write_secret(const char *path, const cpm_identity_t *id, fields_t f, int mode)
{
    char spk[65], ssk[129], cpk[65], csk[65];
    hex(id->sign_pk, 32, spk);
    hex(id->sign_sk, 64, ssk);
    hex(id->curve_pk, 32, cpk);
    hex(id->curve_sk, 32, csk);
    const char *names[6] = {"id", "key_id", "sign_pk", "sign_sk", "curve_pk", "curve_sk"};
    const char *vals[6] = {f.id ? f.id : id->id,          f.key_id ? f.key_id : id->key_id,
                           f.sign_pk ? f.sign_pk : spk,   f.sign_sk ? f.sign_sk : ssk,
                           f.curve_pk ? f.curve_pk : cpk, f.curve_sk ? f.curve_sk : csk};
    char buf[2048];
    size_t n = (size_t)snprintf(buf, sizeof buf, "{");
    int first = 1;
    for (int i = 0; i < 6; i++) {
        if (strcmp(vals[i], "-") == 0)
            continue;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"%s\": \"%s\"", first ? "" : ", ",
                              names[i], vals[i]);
        first = 0;
    }
    n += (size_t)snprintf(buf + n, sizeof buf - n, "}\n");
    assert_int_equal(cpm_write_file(path, buf, n, mode), 0);
}

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

/* Load must fail and err must contain want. */
static void expect_load_error(const char *path, const char *want)
{
    cpm_identity_t id;
    cpm_error_t e = {0};
    const char *err = e.message;
    memset(&id, 0xaa, sizeof id);
    assert_int_not_equal(cpm_identity_load(&id, path, &e), 0);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not mention \"%s\"", err, want);
    /* Nothing half-loaded is left behind. */
    uint8_t zero[64] = {0};
    assert_memory_equal(id.sign_sk, zero, 64);
    assert_memory_equal(id.curve_sk, zero, 32);
}

static void expect_public_error(const char *path, const char *want)
{
    cpm_public_t pub;
    cpm_error_t e = {0};
    const char *err = e.message;
    assert_int_not_equal(cpm_public_load(&pub, path, &e), 0);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not mention \"%s\"", err, want);
}

static void test_key_id_is_sha256_prefix(void **state)
{
    (void)state;
    uint8_t pk[32], h[32];
    for (int i = 0; i < 32; i++)
        pk[i] = (uint8_t)i;
    crypto_hash_sha256(h, pk, 32);
    char want[17], got[17];
    hex(h, 8, want);
    cpm_key_id(pk, got);
    assert_string_equal(got, want);
    assert_int_equal(strlen(got), CPM_KEY_ID_LEN);
}

static void test_generate(void **state)
{
    (void)state;
    cpm_identity_t a, b;
    assert_int_equal(cpm_identity_generate(&a, "hn.d.hoan-kiem"), 0);
    assert_int_equal(cpm_identity_generate(&b, "hn.d.hoan-kiem"), 0);
    assert_string_equal(a.id, "hn.d.hoan-kiem");
    assert_memory_not_equal(a.sign_pk, b.sign_pk, 32);
    assert_memory_not_equal(a.curve_sk, b.curve_sk, 32);
    /* The halves belong together. */
    uint8_t pk[32];
    assert_int_equal(crypto_scalarmult_base(pk, a.curve_sk), 0);
    assert_memory_equal(pk, a.curve_pk, 32);
    assert_memory_equal(a.sign_sk + 32, a.sign_pk, 32);
    char kid[17];
    cpm_key_id(a.sign_pk, kid);
    assert_string_equal(a.key_id, kid);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, (const uint8_t *)"x", 1, a.sign_sk);
    assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)"x", 1, a.sign_pk), 0);
}

static void test_bad_member_ids(void **state)
{
    (void)state;
    cpm_identity_t id;
    uint8_t seed[32];
    seed_of(seed, 1);
    char long_id[200];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    const char *bad[] = {NULL, "", "a/b", ".hidden", "a b", "x\n", long_id};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cpm_identity_generate(&id, bad[i]), -1);
        assert_int_equal(cpm_identity_from_seed(&id, bad[i], seed), -1);
    }
    assert_int_equal(cpm_identity_from_seed(&id, "ok", NULL), -1);
    assert_int_equal(cpm_identity_generate(NULL, "ok"), -1);
    long_id[127] = 0; /* 127 chars: the longest id that fits */
    assert_int_equal(cpm_identity_generate(&id, long_id), 0);
}

static void test_from_seed(void **state)
{
    (void)state;
    uint8_t seed[32];
    seed_of(seed, 7);
    cpm_identity_t a, b;
    assert_int_equal(cpm_identity_from_seed(&a, "hn.doit", seed), 0);
    assert_int_equal(cpm_identity_from_seed(&b, "hn.doit", seed), 0);
    assert_memory_equal(&a, &b, sizeof a);

    uint8_t pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, seed);
    assert_memory_equal(a.sign_pk, pk, 32);
    assert_memory_equal(a.sign_sk, sk, 64);

    /* curve_sk = SHA-256("CPMESH-CURVE-SEED\0" || seed), computed here by hand. */
    uint8_t in[18 + 32], h[32];
    memcpy(in, "CPMESH-CURVE-SEED", 18);
    memcpy(in + 18, seed, 32);
    crypto_hash_sha256(h, in, sizeof in);
    assert_memory_equal(a.curve_sk, h, 32);
    crypto_scalarmult_base(pk, h);
    assert_memory_equal(a.curve_pk, pk, 32);

    seed_of(seed, 8);
    assert_int_equal(cpm_identity_from_seed(&b, "hn.doit", seed), 0);
    assert_memory_not_equal(a.sign_pk, b.sign_pk, 32);
}

static void test_save_and_load(void **state)
{
    (void)state;
    cpm_identity_t id, back;
    uint8_t seed[32];
    seed_of(seed, 3);
    assert_int_equal(cpm_identity_from_seed(&id, "hn.op.lan", seed), 0);
    char dir[512], sp[600], pp[600];
    cpm_error_t e = {0};
    const char *err = e.message;
    snprintf(dir, sizeof dir, "%s/keys/nested", tmpdir);
    assert_int_equal(cpm_identity_save(&id, dir, 0, &e), 0);
    snprintf(sp, sizeof sp, "%s/hn.op.lan.secret", dir);
    snprintf(pp, sizeof pp, "%s/hn.op.lan.public", dir);

    struct stat st;
    assert_int_equal(stat(sp, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(pp, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    assert_int_equal(cpm_identity_load(&back, sp, &e), 0);
    assert_memory_equal(&back, &id, sizeof id);

    cpm_public_t pub;
    assert_int_equal(cpm_public_load(&pub, pp, &e), 0);
    assert_string_equal(pub.id, "hn.op.lan");
    assert_string_equal(pub.key_id, id.key_id);
    assert_memory_equal(pub.sign_pk, id.sign_pk, 32);
    assert_memory_equal(pub.curve_pk, id.curve_pk, 32);

    /* The public file carries no secret. */
    uint8_t *buf;
    size_t len;
    char ssk[129];
    hex(id.sign_sk, 64, ssk);
    assert_int_equal(cpm_read_file(pp, 4096, &buf, &len), 0);
    assert_null(strstr((char *)buf, "sign_sk"));
    assert_null(strstr((char *)buf, "curve_sk"));
    assert_null(strstr((char *)buf, ssk));
    free(buf);

    /* No overwriting without force. */
    cpm_identity_t other;
    assert_int_equal(cpm_identity_generate(&other, "hn.op.lan"), 0);
    assert_int_equal(cpm_identity_save(&other, dir, 0, &e), CPM_E_CONFLICT);
    assert_non_null(strstr(err, "already exists"));
    assert_int_equal(cpm_identity_load(&back, sp, &e), 0);
    assert_memory_equal(back.sign_pk, id.sign_pk, 32);
    assert_int_equal(cpm_identity_save(&other, dir, 1, &e), 0);
    assert_int_equal(cpm_identity_load(&back, sp, &e), 0);
    assert_memory_equal(back.sign_pk, other.sign_pk, 32);

    /* A loose umask does not loosen the secret file. */
    mode_t old = umask(0);
    assert_int_equal(cpm_identity_save(&other, dir, 1, &e), 0);
    umask(old);
    assert_int_equal(stat(sp, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

/* content of path as a string (static buffer), or "" when unreadable. */
static const char *slurp(const char *path)
{
    static char text[256];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = 0;
    return text;
}

/* Symlinks planted where a writer might put its temporary file: at the names
 * the old scheme used (path.tmp.<pid>, for pids around ours) and with the
 * suffixes an attacker could try. */
static void plant(const char *path, const char *victim)
{
    static const char *const suffixes[] = {".tmp", ".new", "~", ".swp"};
    char link[700];
    for (int d = -2; d <= 2; d++) {
        snprintf(link, sizeof link, "%s.tmp.%d", path, (int)getpid() + d);
        assert_int_equal(symlink(victim, link), 0);
    }
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(link, sizeof link, "%s%s", path, suffixes[i]);
        assert_int_equal(symlink(victim, link), 0);
    }
}

/* Entries of dir whose name contains ".tmp." and that are not symlinks:
 * temporary files left behind. */
static int leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        char p[700];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (strstr(e->d_name, ".tmp") && lstat(p, &st) == 0 && !S_ISLNK(st.st_mode))
            n++;
    }
    closedir(d);
    return n;
}

/* A local user who can write into the key folder plants symlinks at the
 * temporary names: saving keys must not follow them (the victim stays as it
 * was), must leave regular files of mode 0600/0644, and no temporary file. */
static void test_save_never_follows_planted_symlinks(void **state)
{
    (void)state;
    char dir[512], victim[600], sp[600], pp[600];
    cpm_error_t e = {0};
    snprintf(dir, sizeof dir, "%s/planted", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    path_of(victim, sizeof victim, "victim");
    assert_int_equal(cpm_write_file(victim, "victim", 6, 0644), 0);
    snprintf(sp, sizeof sp, "%s/hn.sym.secret", dir);
    snprintf(pp, sizeof pp, "%s/hn.sym.public", dir);
    plant(sp, victim);
    plant(pp, victim);

    cpm_identity_t id, back;
    assert_int_equal(cpm_identity_generate(&id, "hn.sym"), 0);
    mode_t old = umask(0); /* modes must not depend on the caller's umask */
    assert_int_equal(cpm_identity_save(&id, dir, 0, &e), 0);
    umask(old);

    assert_string_equal(slurp(victim), "victim");
    struct stat st;
    assert_int_equal(lstat(victim, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(lstat(sp, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(lstat(pp, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(cpm_identity_load(&back, sp, &e), 0);
    assert_memory_equal(back.sign_pk, id.sign_pk, 32);
    assert_int_equal(leftovers(dir), 0);

    /* A symlink at the destination itself is replaced, not written through. */
    char reg[600];
    snprintf(reg, sizeof reg, "%s/registry.signed", dir);
    assert_int_equal(symlink(victim, reg), 0);
    assert_int_equal(cpm_write_file(reg, "registry", 8, 0644), 0);
    assert_string_equal(slurp(victim), "victim");
    assert_int_equal(lstat(reg, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_string_equal(slurp(reg), "registry");
    assert_int_equal(leftovers(dir), 0);
    cpm_identity_wipe(&id);
    cpm_identity_wipe(&back);
}

static void test_save_errors(void **state)
{
    (void)state;
    cpm_identity_t id;
    char blocker[512], dir[600];
    cpm_error_t e = {0};
    const char *err = e.message;
    assert_int_equal(cpm_identity_generate(&id, "hn.x"), 0);

    path_of(blocker, sizeof blocker, "plainfile");
    assert_int_equal(cpm_write_file(blocker, "x", 1, 0600), 0);
    snprintf(dir, sizeof dir, "%s/sub", blocker);
    assert_int_equal(cpm_identity_save(&id, dir, 0, &e), CPM_E_INTERNAL);
    assert_non_null(strstr(err, "cannot create the key folder"));

    char longdir[5000];
    memset(longdir, 'd', sizeof longdir - 1);
    longdir[sizeof longdir - 1] = 0;
    assert_int_equal(cpm_identity_save(&id, longdir, 0, &e), CPM_E_INVALID);
    assert_non_null(strstr(err, "too long"));

    strcpy(id.id, "../escape");
    assert_int_equal(cpm_identity_save(&id, tmpdir, 0, &e), CPM_E_INVALID);
    assert_non_null(strstr(err, "member id"));
    assert_int_equal(cpm_identity_save(NULL, tmpdir, 0, &e), CPM_E_INVALID);

    /* A folder we may not write into (root ignores modes, so only when not root). */
    if (geteuid() != 0) {
        char ro[600];
        snprintf(ro, sizeof ro, "%s/ro", tmpdir);
        assert_int_equal(mkdir(ro, 0500), 0);
        assert_int_equal(cpm_identity_generate(&id, "hn.x"), 0);
        assert_int_equal(cpm_identity_save(&id, ro, 0, &e), CPM_E_INTERNAL);
        assert_non_null(strstr(err, "cannot write"));
        chmod(ro, 0700);
    }
}

static void test_load_mode_refused(void **state)
{
    (void)state;
    cpm_identity_t id;
    char p[512];
    assert_int_equal(cpm_identity_generate(&id, "hn.m"), 0);
    path_of(p, sizeof p, "m.secret");
    fields_t none = {0};
    const int modes[] = {0640, 0604, 0644, 0660, 0601, 0610};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        write_secret(p, &id, none, modes[i]);
        char want[32];
        snprintf(want, sizeof want, "(mode %04o)", modes[i]);
        expect_load_error(p, want);
        expect_load_error(p, "may be read by group or others");
    }
    write_secret(p, &id, none, 0400);
    cpm_identity_t back;
    cpm_error_t e = {0};
    assert_int_equal(cpm_identity_load(&back, p, &e), 0);
    /* The public loader does not care about modes. */
    write_secret(p, &id, none, 0644);
    cpm_public_t pub;
    assert_int_equal(cpm_public_load(&pub, p, &e), 0);
}

static void test_load_file_errors(void **state)
{
    (void)state;
    char p[512];
    path_of(p, sizeof p, "missing.secret");
    expect_load_error(p, "cannot open");
    expect_load_error(p, "No such file");
    expect_public_error(p, "cannot open");

    expect_load_error(tmpdir, "not a regular file");
    expect_public_error(tmpdir, "not a regular file");

    char big[6000];
    memset(big, ' ', sizeof big);
    path_of(p, sizeof p, "big.secret");
    assert_int_equal(cpm_write_file(p, big, sizeof big, 0600), 0);
    expect_load_error(p, "too large");

    path_of(p, sizeof p, "bad.secret");
    assert_int_equal(cpm_write_file(p, "{\"id\": ", 7, 0600), 0);
    expect_load_error(p, "not valid JSON");
    expect_public_error(p, "not valid JSON");
    assert_int_equal(cpm_write_file(p, "[1,2]", 5, 0600), 0);
    expect_load_error(p, "not a JSON object");
    assert_int_equal(cpm_write_file(p, "{\"id\":\"a\",\"id\":\"b\"}", 19, 0600), 0);
    expect_load_error(p, "not valid JSON");

    cpm_identity_t id;
    cpm_error_t e = {0};
    const char *err = e.message;
    assert_int_equal(cpm_identity_load(&id, NULL, &e), CPM_E_INVALID);
    assert_non_null(strstr(err, "no path"));
    cpm_public_t pub;
    assert_int_equal(cpm_public_load(&pub, NULL, &e), CPM_E_INVALID);
    assert_non_null(strstr(err, "no path"));
    /* err may be NULL. */
    assert_int_equal(cpm_identity_load(&id, p, NULL), CPM_E_INVALID);
}

static void test_load_field_errors(void **state)
{
    (void)state;
    cpm_identity_t id, other;
    uint8_t seed[32];
    seed_of(seed, 5);
    assert_int_equal(cpm_identity_from_seed(&id, "hn.f", seed), 0);
    seed_of(seed, 6);
    assert_int_equal(cpm_identity_from_seed(&other, "hn.f", seed), 0);
    char p[512];
    path_of(p, sizeof p, "f.secret");

    char o_spk[65], o_ssk[129], o_cpk[65], o_csk[65], mixed_ssk[129];
    hex(other.sign_pk, 32, o_spk);
    hex(other.sign_sk, 64, o_ssk);
    hex(other.curve_pk, 32, o_cpk);
    hex(other.curve_sk, 32, o_csk);
    /* The other identity's seed with this identity's public half. */
    uint8_t mixed[64];
    memcpy(mixed, other.sign_sk, 32);
    memcpy(mixed + 32, id.sign_pk, 32);
    hex(mixed, 64, mixed_ssk);

    struct {
        fields_t f;
        const char *want;
    } cases[] = {
        {{.id = "-"}, "field \"id\" is missing"},
        {{.id = "../x"}, "not a valid member id"},
        {{.key_id = "-"}, "field \"key_id\" is missing"},
        {{.key_id = "0000000000000000"}, "field \"key_id\" is 0000000000000000 but"},
        {{.sign_pk = "-"}, "field \"sign_pk\" is missing"},
        {{.sign_pk = "abcd"}, "field \"sign_pk\" must be 64 hex characters"},
        {{.sign_pk = "zz00000000000000000000000000000000000000000000000000000000000000"},
         "field \"sign_pk\" must be 64 hex"},
        {{.curve_pk = "-"}, "field \"curve_pk\" is missing"},
        {{.curve_pk = "00"}, "field \"curve_pk\" must be 64 hex"},
        {{.sign_sk = "-"}, "field \"sign_sk\" is missing"},
        {{.sign_sk = "00"}, "field \"sign_sk\" must be 128 hex characters"},
        {{.curve_sk = "-"}, "field \"curve_sk\" is missing"},
        {{.curve_sk = "0g"}, "field \"curve_sk\" must be 64 hex"},
        /* Keys that do not belong together. */
        {{.sign_sk = o_ssk}, "sign_pk does not match sign_sk"},
        {{.sign_sk = mixed_ssk}, "seed half of sign_sk does not match sign_pk"},
        {{.curve_sk = o_csk}, "curve_pk does not match curve_sk"},
        {{.curve_pk = o_cpk}, "curve_pk does not match curve_sk"},
        {{.sign_pk = o_spk}, "field \"key_id\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_secret(p, &id, cases[i].f, 0600);
        expect_load_error(p, cases[i].want);
        expect_load_error(p, p); /* every error names the file */
    }
    /* A number where a string belongs. */
    const char *num = "{\"id\": 5}";
    assert_int_equal(cpm_write_file(p, num, strlen(num), 0600), 0);
    expect_load_error(p, "field \"id\" is missing");

    /* The public loader checks its fields the same way. */
    write_secret(p, &id, (fields_t){.key_id = "ffffffffffffffff"}, 0644);
    expect_public_error(p, "field \"key_id\" is ffffffffffffffff but");
    write_secret(p, &id, (fields_t){.curve_pk = "-"}, 0644);
    expect_public_error(p, "field \"curve_pk\" is missing");
    write_secret(p, &id, (fields_t){.id = "-"}, 0644);
    expect_public_error(p, "field \"id\"");
}

static void test_wipe(void **state)
{
    (void)state;
    cpm_identity_t id;
    assert_int_equal(cpm_identity_generate(&id, "hn.w"), 0);
    cpm_identity_wipe(&id);
    cpm_identity_t zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&id, &zero, sizeof id);
    cpm_identity_wipe(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_id_is_sha256_prefix),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_bad_member_ids),
        cmocka_unit_test(test_from_seed),
        cmocka_unit_test(test_save_and_load),
        cmocka_unit_test(test_save_errors),
        cmocka_unit_test(test_save_never_follows_planted_symlinks),
        cmocka_unit_test(test_load_mode_refused),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_load_field_errors),
        cmocka_unit_test(test_wipe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
