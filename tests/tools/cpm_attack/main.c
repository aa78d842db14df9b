/* cpm_attack: sends one hostile frame (or a short sequence) to a service of a
 * running mesh and reports, as one JSON line, what came back. The security
 * integration test (tests/integration/test_security.py) drives it.
 *
 *   cpm_attack --home DIR --as ID --target MEMBER/SERVICE --attack NAME
 *              [--curve-as ID] [--timeout MS] [--count N] [--seed S] [--ticket T]
 *
 * It links over CURVE like any client (DEALER, the target's endpoint and
 * transport key from the registry), builds frames with the same envelope code
 * the services use and then breaks them in one precise way. Replies are
 * verified as cpmctl verifies them, except for the recipient, which a service
 * copies from the (possibly forged) request.
 *
 * CPM_ENVELOPE_VERSION=2 seals the frames in envelope version 2.
 *
 * Output: {"attack","replied","verified","reply_type","reply_version","error_code","field",
 * "message", ...}; sequences add "first" (the first exchange) and fuzz prints
 * counts instead. Exit 0 when the attack ran (whatever the verdict), 1 when it
 * could not be run, 2 on bad usage.
 *
 * Here: the command line and the run. The link and its exchanges are in
 * link.c, the good frames in frames.c, the hostile ones in attacks.c and the
 * fuzz runs in fuzz.c. */
#include "attacks.h"
#include "link.h"

#include "cpm_envelope.h"

#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int attack_die(const char *what, const char *detail)
{
    fprintf(stderr, "cpm_attack: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

static const char usage[] =
    "usage: cpm_attack --home DIR --as ID --target MEMBER/SERVICE --attack NAME\n"
    "                  [--curve-as ID] [--timeout MS] [--count N] [--seed S] [--ticket T]\n"
    "attacks: garbage empty truncated oversize oversize_huge tampered forged wrong_key\n"
    "  unknown_sender replay skew unknown_type forbidden wrong_recipient\n"
    "  transport_mismatch (needs --curve-as) bad_payload unregistered_curve invalid_field\n"
    "  valid stream_forgery ticket_squat multipart case_action foreign_update (these three\n"
    "  need --ticket) fuzz fuzz_payload (--count, --seed)\n"
    "  padded_complaint (--count KiB) twobyte_fields empty_records bad_records (--count\n"
    "  records) oversize_batch\n";

static int parse(int argc, char **argv, opts_t *o)
{
    static const struct option lo[] = {
        {"home", required_argument, 0, 'H'},     {"as", required_argument, 0, 'a'},
        {"curve-as", required_argument, 0, 'c'}, {"target", required_argument, 0, 't'},
        {"attack", required_argument, 0, 'k'},   {"timeout", required_argument, 0, 'T'},
        {"count", required_argument, 0, 'n'},    {"seed", required_argument, 0, 's'},
        {"ticket", required_argument, 0, 'i'},   {0, 0, 0, 0}};
    *o = (opts_t){.timeout_ms = 3000, .count = 500, .seed = 1};
    int opt;
    while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (opt) {
        case 'H':
            o->home = optarg;
            break;
        case 'a':
            o->as = optarg;
            break;
        case 'c':
            o->curve_as = optarg;
            break;
        case 't':
            o->target = optarg;
            break;
        case 'k':
            o->attack = optarg;
            break;
        case 'T':
            o->timeout_ms = atoi(optarg);
            break;
        case 'n':
            o->count = atoi(optarg);
            break;
        case 's':
            o->seed = strtoull(optarg, NULL, 10);
            break;
        case 'i':
            o->ticket = optarg;
            break;
        default:
            return -1;
        }
    }
    if (!o->home || !o->as || !o->target || !o->attack || o->timeout_ms <= 0 || o->count < 0 ||
        optind != argc)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o;
    if (parse(argc, argv, &o) != 0) {
        fputs(usage, stderr);
        return 2;
    }
    attack_fn fn = attack_find(o.attack);
    bool fuzz = !strcmp(o.attack, "fuzz"), fuzz_payload = !strcmp(o.attack, "fuzz_payload");
    if (!fn && !fuzz && !fuzz_payload) {
        fprintf(stderr, "cpm_attack: unknown attack %s\n%s", o.attack, usage);
        return 2;
    }
    if (sodium_init() < 0)
        return attack_die("libsodium cannot start", NULL);
    cpm_error_t verr = {0}; /* CPM_ENVELOPE_VERSION=2: the frames in version 2 */
    if (cpm_envelope_version_from_env(&verr) != 0) {
        fprintf(stderr, "cpm_attack: %s\n", verr.message);
        return 2;
    }
    attack_t a = {0};
    int rc = link_setup(&a, &o);
    json_t *out = json_pack("{s:s,s:s}", "attack", o.attack, "target", o.target);
    if (rc == 0 && !fn) {
        rc = fuzz_run(&a, fuzz_payload, out);
    } else if (rc == 0) {
        uint8_t *frame = NULL;
        size_t len = 0;
        result_t first = {0}, r = {0};
        rc = fn(&a, &frame, &len, &first);
        if (rc == 0)
            rc = link_exchange(&a, frame, len, &r);
        free(frame);
        if (rc == 0) {
            json_t *rj = result_json(&r);
            json_object_update(out, rj);
            json_decref(rj);
            if (first.replied)
                json_object_set_new(out, "first", result_json(&first));
        }
    }
    if (rc == 0) {
        char *s = json_dumps(out, JSON_COMPACT);
        if (s)
            printf("%s\n", s);
        free(s);
    }
    json_decref(out);
    link_teardown(&a);
    return rc == 0 ? 0 : 1;
}
