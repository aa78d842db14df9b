/* bench_field_sync: fills an inspector's device for the field sync benchmark
 * (tests/bench/field_sync.py), and measures the baseline the sync is
 * compared with.
 *
 *   bench_field_sync --home HOME --as INSPECTOR --inspection ID
 *                    [--findings 10000] [--files 25] [--file-mb 2]
 *
 * Writes FINDINGS signed findings (what `cpmctl inspector finding add`
 * writes) and FILES evidence files of FILE-MB each (random bytes, each named
 * by one finding) into HOME/field/INSPECTOR. Then, as the baseline, the
 * least the agency must do with those bytes in this process: hash them
 * (BLAKE2b) and write them to a fresh folder in 1 MiB appends, each
 * fsync'ed. Prints one JSON line: record and evidence bytes, baseline ms. */
#include "cpm_evidence.h"
#include "cpm_fieldrec.h"
#include "cpm_util.h"
#include "field_device.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *arg(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

int main(int argc, char **argv)
{
    const char *home = arg(argc, argv, "--home", NULL), *as = arg(argc, argv, "--as", NULL);
    const char *inspection = arg(argc, argv, "--inspection", NULL);
    int findings = atoi(arg(argc, argv, "--findings", "10000"));
    int files = atoi(arg(argc, argv, "--files", "25"));
    size_t file_len = (size_t)atoi(arg(argc, argv, "--file-mb", "2")) << 20;
    if (!home || !as || !inspection || findings < files || sodium_init() < 0) {
        fprintf(stderr, "usage: bench_field_sync --home HOME --as INSPECTOR --inspection ID "
                        "[--findings N] [--files N] [--file-mb N]\n");
        return 2;
    }
    cpm_error_t e = {0};
    cpm_identity_t id;
    char path[1400];
    snprintf(path, sizeof path, "%s/keys/%s.secret", home, as);
    field_device_t d;
    if (cpm_identity_load(&id, path, &e) != 0 || field_device_open(&d, home, as, NULL, &e) != 0) {
        fprintf(stderr, "bench_field_sync: %s\n", e.message);
        return 1;
    }
    cpm_sender_t s;
    cpm_sender_init(&s, &id, "device");
    char recipient[200];
    snprintf(recipient, sizeof recipient, "%.*s/inspection",
             (int)(strrchr(inspection, '/') - inspection), inspection);
    uint8_t *buf = malloc(file_len), (*hashes)[32] = calloc((size_t)files, 32);
    uint64_t record_bytes = 0, evidence_bytes = 0;
    for (int i = 0; i < files; i++) {
        randombytes_buf(buf, file_len);
        char src[1400];
        snprintf(src, sizeof src, "%s/bench-%d.jpg", d.dir, i);
        int fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || write(fd, buf, file_len) != (ssize_t)file_len || close(fd) != 0)
            return 1;
        uint64_t size;
        bool existed;
        if (cpm_evidence_import(d.ev, src, hashes[i], &size, &existed, &e) != 0)
            return 1;
        unlink(src);
        evidence_bytes += size;
    }
    for (int i = 0; i < findings; i++) {
        Cpm__FieldRecord r = CPM__FIELD_RECORD__INIT;
        Cpm__EvidenceRef ref = CPM__EVIDENCE_REF__INIT, *refs[1] = {&ref};
        char rid[32], desc[120];
        snprintf(rid, sizeof rid, "bench-%06d", i);
        snprintf(desc, sizeof desc, "Hàng hoá không rõ nguồn gốc, lô số %d, kệ %d", i, i % 40);
        r.id = rid;
        r.inspection = (char *)inspection;
        r.inspector = (char *)as;
        r.kind = CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING;
        r.item = "origin-labels";
        r.violation = "ND98-art9";
        r.description = desc;
        r.severity = 1 + i % 3;
        r.fine_vnd = 1000000 + 50000 * (i % 20);
        r.made_ms = cpm_now_ms();
        r.has_position = true;
        r.lat = 21.03 + i * 1e-6;
        r.lon = 105.85;
        if (i < files) {
            ref.blake2b.data = hashes[i];
            ref.blake2b.len = 32;
            ref.size = file_len;
            ref.name = "photo.jpg";
            r.evidence = refs;
            r.n_evidence = 1;
        }
        uint8_t *frame = NULL;
        size_t len = 0;
        if (cpm_fieldrec_seal(&s, recipient, &r, &frame, &len, &e) != 0 ||
            field_device_add_record(&d, inspection, rid, frame, len, &e) != 0) {
            fprintf(stderr, "bench_field_sync: %s\n", e.message);
            return 1;
        }
        record_bytes += len;
        free(frame);
    }
    /* baseline: hash and durably write the evidence bytes, 1 MiB at a time */
    char base[1400];
    snprintf(base, sizeof base, "%s/baseline.bin", d.dir);
    int64_t t0 = cpm_mono_ms();
    for (int i = 0; i < files; i++) {
        char src[1400];
        cpm_evidence_path(d.ev, hashes[i], src, sizeof src);
        int in = open(src, O_RDONLY), out = open(base, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, 32);
        ssize_t n;
        while ((n = read(in, buf, 1 << 20)) > 0) {
            crypto_generichash_update(&st, buf, (size_t)n);
            if (write(out, buf, (size_t)n) != n || fsync(out) != 0)
                return 1;
        }
        uint8_t h[32];
        crypto_generichash_final(&st, h, 32);
        close(in);
        close(out);
    }
    int64_t baseline_ms = cpm_mono_ms() - t0;
    unlink(base);
    printf("{\"findings\": %d, \"files\": %d, \"record_bytes\": %llu, \"evidence_bytes\": %llu, "
           "\"baseline_ms\": %lld}\n",
           findings, files, (unsigned long long)record_bytes, (unsigned long long)evidence_bytes,
           (long long)baseline_ms);
    free(buf);
    free(hashes);
    field_device_close(&d);
    cpm_identity_wipe(&id);
    return 0;
}
