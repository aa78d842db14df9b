/* A registry for the field tests: agency hn.d.x (inspection service), its
 * inspectors inspector1/2.hn.d.x, an inspector of another agency
 * (inspector1.hn.d.y), an officer of hn.d.x, and a revoked inspector
 * (inspector9.hn.d.x). Header-only: each test program includes it once. */
#ifndef FIELD_FIXTURE_H
#define FIELD_FIXTURE_H

#include "cpm_keys.h"
#include "cpm_registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FX_ROOT, FX_AGENCY, FX_INS1, FX_INS2, FX_OTHER, FX_OFFICER, FX_REVOKED, FX_N };
static cpm_identity_t fx_id[FX_N];

static cpm_registry_t *fx_registry(void)
{
    static const char *names[FX_N] = {"root",
                                      "hn.d.x",
                                      "inspector1.hn.d.x",
                                      "inspector2.hn.d.x",
                                      "inspector1.hn.d.y",
                                      "officer.hn.d.x",
                                      "inspector9.hn.d.x"};
    static const char *roles[FX_N] = {"",          "department", "inspector", "inspector",
                                      "inspector", "department", "inspector"};
    static const char *agencies[FX_N] = {"",       "hn.d.x", "hn.d.x", "hn.d.x",
                                         "hn.d.y", "hn.d.x", "hn.d.x"};
    static char *ins_rules[] = {"field_checkout@inspection", "field_upload@inspection",
                                "evidence_chunk@inspection"};
    uint8_t seed[32];
    for (int i = 0; i < FX_N; i++) {
        memset(seed, 0x60 + i, 32);
        if (cpm_identity_from_seed(&fx_id[i], names[i], seed) != 0)
            return NULL;
    }
    Cpm__Member ms[FX_N - 1], *mp[FX_N - 1];
    Cpm__ServiceEndpoint svc = CPM__SERVICE_ENDPOINT__INIT, *svcs[1] = {&svc};
    svc.name = "inspection";
    svc.endpoint = "tcp://127.0.0.1:7220";
    svc.pub_endpoint = "tcp://127.0.0.1:7221";
    for (int i = 1; i < FX_N; i++) {
        Cpm__Member *m = &ms[i - 1];
        cpm__member__init(m);
        m->id = (char *)names[i];
        m->agency = (char *)agencies[i];
        m->role = (char *)roles[i];
        m->name = (char *)names[i];
        m->sign_pk.data = fx_id[i].sign_pk;
        m->sign_pk.len = 32;
        m->curve_pk.data = fx_id[i].curve_pk;
        m->curve_pk.len = 32;
        if (!strcmp(roles[i], "inspector")) {
            m->may_send = ins_rules;
            m->n_may_send = 3;
        }
        if (i == FX_AGENCY) {
            m->services = svcs;
            m->n_services = 1;
            m->ticket_prefix = "HX";
        }
        mp[i - 1] = m;
    }
    char *revoked[1] = {fx_id[FX_REVOKED].key_id};
    Cpm__Registry doc = CPM__REGISTRY__INIT;
    doc.version = 1;
    doc.issued_ms = 1767225600000;
    doc.mesh = "field-test";
    doc.members = mp;
    doc.n_members = FX_N - 1;
    doc.revoked_keys = revoked;
    doc.n_revoked_keys = 1;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    if (cpm_registry_sign(&doc, fx_id[FX_ROOT].sign_sk, &buf, &len) != 0)
        return NULL;
    cpm_registry_t *reg =
        cpm_registry_from_signed(buf, len, fx_id[FX_ROOT].sign_pk, err, sizeof err);
    free(buf);
    if (!reg)
        fprintf(stderr, "registry: %s\n", err);
    return reg;
}

#endif
