/* cpm_keys: identities and their JSON key files. See cpm_keys.h. */
#include "cpm_keys.h"

#include "cpm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CURVE_SEED_DOMAIN "CPMESH-CURVE-SEED" /* followed by one zero byte */
#define KEY_FILE_MAX 4096                     /* a key file is a few hundred bytes */

/* Member ids become file names, so they are restricted to a safe alphabet. */
static int member_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= sizeof(((cpm_identity_t *)0)->id) || id[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-' || c == '_';
        if (!ok)
            return 0;
    }
    return 1;
}

void cpm_key_id(const uint8_t sign_pk[32], char out[CPM_KEY_ID_LEN + 1])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, sign_pk, 32);
    cpm_hex_encode(h, CPM_KEY_ID_LEN / 2, out);
}

static int identity_start(cpm_identity_t *id, const char *member_id)
{
    if (!id || sodium_init() < 0)
        return -1;
    memset(id, 0, sizeof *id);
    if (!member_id_ok(member_id))
        return -1;
    memcpy(id->id, member_id, strlen(member_id) + 1);
    return 0;
}

int cpm_identity_generate(cpm_identity_t *id, const char *member_id)
{
    if (identity_start(id, member_id) != 0)
        return -1;
    if (crypto_sign_keypair(id->sign_pk, id->sign_sk) != 0 ||
        crypto_box_keypair(id->curve_pk, id->curve_sk) != 0) {
        cpm_identity_wipe(id);
        return -1;
    }
    cpm_key_id(id->sign_pk, id->key_id);
    return 0;
}

int cpm_identity_from_seed(cpm_identity_t *id, const char *member_id, const uint8_t seed[32])
{
    if (!seed || identity_start(id, member_id) != 0)
        return -1;
    if (crypto_sign_seed_keypair(id->sign_pk, id->sign_sk, seed) != 0) {
        cpm_identity_wipe(id);
        return -1;
    }
    /* A separate derivation so the transport key never equals a signing seed. */
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)CURVE_SEED_DOMAIN,
                              sizeof CURVE_SEED_DOMAIN); /* includes the zero byte */
    crypto_hash_sha256_update(&st, seed, 32);
    crypto_hash_sha256_final(&st, id->curve_sk);
    sodium_memzero(&st, sizeof st);
    if (crypto_scalarmult_base(id->curve_pk, id->curve_sk) != 0) {
        cpm_identity_wipe(id);
        return -1;
    }
    cpm_key_id(id->sign_pk, id->key_id);
    return 0;
}

void cpm_identity_wipe(cpm_identity_t *id)
{
    if (id)
        sodium_memzero(id, sizeof *id);
}

/* jansson frees its string copies without wiping them; overwrite the hex of
 * secret keys in place before the document is released. */
static void wipe_json_string(json_t *obj, const char *key)
{
    json_t *s = json_object_get(obj, key);
    if (json_is_string(s))
        sodium_memzero((char *)json_string_value(s), json_string_length(s));
}

static int set_hex(json_t *obj, const char *key, const uint8_t *bin, size_t len)
{
    char hex[2 * 64 + 1];
    cpm_hex_encode(bin, len, hex);
    int rc = json_object_set_new(obj, key, json_stringn(hex, 2 * len));
    sodium_memzero(hex, sizeof hex);
    return rc;
}

/* Serialize obj into a caller-owned buffer (never a jansson heap copy) and
 * write it atomically with mode. */
static int write_json(json_t *obj, const char *path, int mode, char *err, size_t errlen)
{
    char buf[KEY_FILE_MAX];
    size_t n = json_dumpb(obj, buf, sizeof buf - 1, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    int rc = -1;
    if (n == 0 || n >= sizeof buf - 1) {
        cpm_errf(err, errlen, "cannot encode the key file %s", path);
    } else {
        buf[n++] = '\n';
        if (cpm_write_file(path, buf, n, mode) == 0)
            rc = 0;
        else
            cpm_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    }
    sodium_memzero(buf, sizeof buf);
    return rc;
}

static json_t *public_json(const cpm_identity_t *id)
{
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "id", json_string(id->id)) != 0 ||
        json_object_set_new(o, "key_id", json_string(id->key_id)) != 0 ||
        set_hex(o, "sign_pk", id->sign_pk, 32) != 0 ||
        set_hex(o, "curve_pk", id->curve_pk, 32) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The loaders below write their sentence into a plain buffer; the public
 * functions at the end of the file turn it into the library's error. */
static int identity_save(const cpm_identity_t *id, const char *dir, int force, char *err,
                         size_t errlen, int *code)
{
    *code = CPM_E_INVALID;
    if (!id || !dir || !member_id_ok(id->id)) {
        cpm_errf(err, errlen, "cannot save keys: the member id is empty or not a safe file name");
        return -1;
    }
    char secret_path[4096], public_path[4096];
    if (snprintf(secret_path, sizeof secret_path, "%s/%s.secret", dir, id->id) >=
            (int)sizeof secret_path ||
        snprintf(public_path, sizeof public_path, "%s/%s.public", dir, id->id) >=
            (int)sizeof public_path) {
        cpm_errf(err, errlen, "cannot save keys: the path is too long (folder %.64s...)", dir);
        return -1;
    }
    *code = CPM_E_INTERNAL; /* from here on: the disk or the library */
    if (cpm_mkdirs(dir, 0700) != 0) {
        cpm_errf(err, errlen, "cannot create the key folder %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (!force && lstat(secret_path, &st) == 0) {
        cpm_errf(err, errlen, "%s already exists; refusing to overwrite a secret key", secret_path);
        *code = CPM_E_CONFLICT;
        return -1;
    }

    json_t *pub = public_json(id);
    json_t *sec = public_json(id);
    int rc = -1;
    if (!pub || !sec || set_hex(sec, "sign_sk", id->sign_sk, 64) != 0 ||
        set_hex(sec, "curve_sk", id->curve_sk, 32) != 0) {
        cpm_errf(err, errlen, "cannot encode the key files for %s", id->id);
        goto done;
    }
    /* The secret first: a public file without its secret would be useless. */
    if (write_json(sec, secret_path, 0600, err, errlen) != 0 ||
        write_json(pub, public_path, 0644, err, errlen) != 0)
        goto done;
    rc = 0;
done:
    if (sec) {
        wipe_json_string(sec, "sign_sk");
        wipe_json_string(sec, "curve_sk");
    }
    json_decref(sec);
    json_decref(pub);
    return rc;
}

/* Read a key file; for secrets, refuse modes that let group or others in.
 * The mode is checked on the opened descriptor, so the file checked is the
 * file read. */
static json_t *read_key_json(const char *path, int secret, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cpm_errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        cpm_errf(err, errlen, "%s is not a regular file", path);
        close(fd);
        return NULL;
    }
    if (secret && (st.st_mode & 077) != 0) {
        cpm_errf(err, errlen,
                 "%s may be read by group or others (mode %04o); a secret key file must have "
                 "mode 0600 (chmod 600 %s)",
                 path, (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return NULL;
    }
    if (st.st_size > KEY_FILE_MAX) {
        cpm_errf(err, errlen, "%s is too large to be a key file (%lld bytes)", path,
                 (long long)st.st_size);
        close(fd);
        return NULL;
    }
    char buf[KEY_FILE_MAX + 1];
    ssize_t n;
    do
        n = read(fd, buf, KEY_FILE_MAX + 1);
    while (n < 0 && errno == EINTR);
    int read_errno = errno;
    close(fd);
    if (n < 0 || n > KEY_FILE_MAX) {
        cpm_errf(err, errlen, "cannot read %s: %s", path,
                 n < 0 ? strerror(read_errno) : "file grew while reading");
        sodium_memzero(buf, sizeof buf);
        return NULL;
    }
    json_error_t je;
    json_t *doc = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &je);
    sodium_memzero(buf, sizeof buf);
    if (!doc) {
        cpm_errf(err, errlen, "%s is not valid JSON (line %d: %s)", path, je.line, je.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        cpm_errf(err, errlen, "%s is not a JSON object", path);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static int get_hex(json_t *doc, const char *path, const char *key, uint8_t *out, size_t len,
                   char *err, size_t errlen)
{
    json_t *v = json_object_get(doc, key);
    if (!json_is_string(v)) {
        cpm_errf(err, errlen, "%s: field \"%s\" is missing or not a string", path, key);
        return -1;
    }
    if (cpm_hex_decode(json_string_value(v), out, len) != 0) {
        cpm_errf(err, errlen, "%s: field \"%s\" must be %zu hex characters", path, key, 2 * len);
        return -1;
    }
    return 0;
}

/* The fields every key file has: id, key_id, sign_pk, curve_pk. */
static int get_public(json_t *doc, const char *path, cpm_public_t *pub, char *err, size_t errlen)
{
    json_t *v = json_object_get(doc, "id");
    if (!json_is_string(v) || !member_id_ok(json_string_value(v))) {
        cpm_errf(err, errlen,
                 "%s: field \"id\" is missing or not a valid member id (letters, digits, '.', "
                 "'-', '_', at most 127)",
                 path);
        return -1;
    }
    snprintf(pub->id, sizeof pub->id, "%s", json_string_value(v));
    if (get_hex(doc, path, "sign_pk", pub->sign_pk, 32, err, errlen) != 0 ||
        get_hex(doc, path, "curve_pk", pub->curve_pk, 32, err, errlen) != 0)
        return -1;
    v = json_object_get(doc, "key_id");
    if (!json_is_string(v)) {
        cpm_errf(err, errlen, "%s: field \"key_id\" is missing or not a string", path);
        return -1;
    }
    cpm_key_id(pub->sign_pk, pub->key_id);
    if (strcmp(json_string_value(v), pub->key_id) != 0) {
        cpm_errf(err, errlen, "%s: field \"key_id\" is %s but sign_pk has key id %s", path,
                 json_string_value(v), pub->key_id);
        return -1;
    }
    return 0;
}

static int public_load(cpm_public_t *pub, const char *public_path, char *err, size_t errlen)
{
    if (!pub || !public_path) {
        cpm_errf(err, errlen, "cannot load a public key: no path given");
        return -1;
    }
    memset(pub, 0, sizeof *pub);
    json_t *doc = read_key_json(public_path, 0, err, errlen);
    if (!doc)
        return -1;
    int rc = get_public(doc, public_path, pub, err, errlen);
    json_decref(doc);
    if (rc != 0)
        memset(pub, 0, sizeof *pub);
    return rc;
}

/* The secret halves must produce the public halves, or the file is corrupt
 * (or spliced from two identities). */
static int check_pairs(const cpm_identity_t *id, const char *path, char *err, size_t errlen)
{
    uint8_t pk[32];
    if (crypto_sign_ed25519_sk_to_pk(pk, id->sign_sk) != 0 ||
        sodium_memcmp(pk, id->sign_pk, 32) != 0) {
        cpm_errf(err, errlen, "%s: sign_pk does not match sign_sk", path);
        return -1;
    }
    /* sign_sk is seed || pk: the seed must also reproduce the key pair. */
    uint8_t seed_pk[32], seed_sk[64];
    int bad = crypto_sign_seed_keypair(seed_pk, seed_sk, id->sign_sk) != 0 ||
              sodium_memcmp(seed_pk, id->sign_pk, 32) != 0;
    sodium_memzero(seed_sk, sizeof seed_sk);
    if (bad) {
        cpm_errf(err, errlen, "%s: the seed half of sign_sk does not match sign_pk", path);
        return -1;
    }
    if (crypto_scalarmult_base(pk, id->curve_sk) != 0 || sodium_memcmp(pk, id->curve_pk, 32) != 0) {
        cpm_errf(err, errlen, "%s: curve_pk does not match curve_sk", path);
        return -1;
    }
    return 0;
}

static int identity_load(cpm_identity_t *id, const char *secret_path, char *err, size_t errlen)
{
    if (!id || !secret_path || sodium_init() < 0) {
        cpm_errf(err, errlen, "cannot load a secret key: no path given");
        return -1;
    }
    memset(id, 0, sizeof *id);
    json_t *doc = read_key_json(secret_path, 1, err, errlen);
    if (!doc)
        return -1;
    cpm_public_t pub = {0}; /* copied whole into id: no stack bytes after the strings */
    int rc = -1;
    if (get_public(doc, secret_path, &pub, err, errlen) != 0 ||
        get_hex(doc, secret_path, "sign_sk", id->sign_sk, 64, err, errlen) != 0 ||
        get_hex(doc, secret_path, "curve_sk", id->curve_sk, 32, err, errlen) != 0)
        goto done;
    memcpy(id->id, pub.id, sizeof id->id);
    memcpy(id->key_id, pub.key_id, sizeof id->key_id);
    memcpy(id->sign_pk, pub.sign_pk, 32);
    memcpy(id->curve_pk, pub.curve_pk, 32);
    rc = check_pairs(id, secret_path, err, errlen);
done:
    wipe_json_string(doc, "sign_sk");
    wipe_json_string(doc, "curve_sk");
    json_decref(doc);
    if (rc != 0)
        cpm_identity_wipe(id);
    return rc;
}

/* A failed load is CPM_E_NOT_FOUND when the file is not there, else
 * CPM_E_INVALID (unreadable, bad mode, bad content); field "key". */
static int load_error(const char *path, const char *why, cpm_error_t *err)
{
    struct stat st;
    int code = path && stat(path, &st) != 0 && errno == ENOENT ? CPM_E_NOT_FOUND : CPM_E_INVALID;
    return cpm_error_set(err, code, "key", "%s", why);
}

int cpm_identity_save(const cpm_identity_t *id, const char *dir, int force, cpm_error_t *err)
{
    char why[sizeof err->message] = "";
    int code;
    if (identity_save(id, dir, force, why, sizeof why, &code) == 0)
        return 0;
    return cpm_error_set(err, code, "key", "%s", why);
}

int cpm_public_load(cpm_public_t *pub, const char *public_path, cpm_error_t *err)
{
    char why[sizeof err->message] = "";
    return public_load(pub, public_path, why, sizeof why) == 0 ? 0
                                                               : load_error(public_path, why, err);
}

int cpm_identity_load(cpm_identity_t *id, const char *secret_path, cpm_error_t *err)
{
    char why[sizeof err->message] = "";
    return identity_load(id, secret_path, why, sizeof why) == 0 ? 0
                                                                : load_error(secret_path, why, err);
}
