/* Fuzz target: the registry's YAML source (cpm_registry_from_yaml, what
 * `cpmctl registry` signs), written to registry.yaml in a folder whose keys/
 * holds a .public file for each member of the vectors (keys/hn.doit.public,
 * keys/hn.d.hoan-kiem.public, keys/hn.op.lan.public, ...). A document that
 * loads is signed and loaded back as a service would. */
#include "fuzz_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_keys(void)
{
    static const char *const ids[] = {"hn.doit", "hn.d.hoan-kiem", "hn.op.lan", "hn.op.old"};
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/keys", fz_dir());
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const cpm_identity_t *id = fz_identity(ids[i]);
        cpm_error_t e = {0};
        if (!id || cpm_identity_save(id, dir, 1, &e) != 0)
            fz_die("keys", e.message);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        write_keys();
        ready = 1;
    }
    char path[1024], err[256];
    if (fz_write_file("registry.yaml", data, size, path) != 0)
        fz_die("write", path);
    Cpm__Registry *doc = NULL;
    if (cpm_registry_from_yaml(path, &doc, err, sizeof err) == 0 && doc) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (cpm_registry_sign(doc, fz_root()->sign_sk, &buf, &len) == 0) {
            cpm_registry_t *r =
                cpm_registry_from_signed(buf, len, fz_root()->sign_pk, err, sizeof err);
            cpm_registry_destroy(&r);
        }
        free(buf);
        cpm__registry__free_unpacked(doc, NULL);
    }
    return 0;
}
