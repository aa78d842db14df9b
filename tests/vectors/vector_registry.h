/* vector_registry: the registry document of tests/vectors/registry.json as a
 * Cpm__Registry. Shared by the generator (gen_vectors.c), which signs it, and
 * test_vectors.c, which checks the signed bytes, so the two cannot drift
 * apart. Free with cpm__registry__free_unpacked(r, NULL). */
#ifndef VECTOR_REGISTRY_H
#define VECTOR_REGISTRY_H

#include "cpm_util.h"
#include "cpmesh.pb-c.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static inline Cpm__Registry *vector_registry_from_json(json_t *doc)
{
    Cpm__Registry *r = calloc(1, sizeof *r);
    cpm__registry__init(r);
    r->version = (uint64_t)json_integer_value(json_object_get(doc, "version"));
    r->issued_ms = json_integer_value(json_object_get(doc, "issued_ms"));
    r->mesh = strdup(json_string_value(json_object_get(doc, "mesh")));
    json_t *members = json_object_get(doc, "members");
    r->n_members = json_array_size(members);
    r->members = calloc(r->n_members, sizeof *r->members);
    for (size_t i = 0; i < r->n_members; i++) {
        json_t *mj = json_array_get(members, i);
        Cpm__Member *m = calloc(1, sizeof *m);
        cpm__member__init(m);
        m->id = strdup(json_string_value(json_object_get(mj, "id")));
        m->agency = strdup(json_string_value(json_object_get(mj, "agency")));
        m->role = strdup(json_string_value(json_object_get(mj, "role")));
        m->name = strdup(json_string_value(json_object_get(mj, "name")));
        m->ticket_prefix = strdup(json_string_value(json_object_get(mj, "ticket_prefix")));
        m->area = strdup(json_string_value(json_object_get(mj, "area")));
        m->sign_pk.len = m->curve_pk.len = 32;
        m->sign_pk.data = malloc(32);
        m->curve_pk.data = malloc(32);
        /* A vector with a bad key is a broken test file: stop loudly. */
        if (cpm_hex_decode(json_string_value(json_object_get(mj, "sign_pk")), m->sign_pk.data,
                           32) != 0 ||
            cpm_hex_decode(json_string_value(json_object_get(mj, "curve_pk")), m->curve_pk.data,
                           32) != 0)
            abort();
        json_t *svcs = json_object_get(mj, "services");
        m->n_services = json_array_size(svcs);
        m->services = calloc(m->n_services + 1, sizeof *m->services);
        for (size_t s = 0; s < m->n_services; s++) {
            json_t *sj = json_array_get(svcs, s);
            Cpm__ServiceEndpoint *e = calloc(1, sizeof *e);
            cpm__service_endpoint__init(e);
            e->name = strdup(json_string_value(json_object_get(sj, "name")));
            e->endpoint = strdup(json_string_value(json_object_get(sj, "endpoint")));
            e->pub_endpoint = strdup(json_string_value(json_object_get(sj, "pub_endpoint")));
            m->services[s] = e;
        }
        json_t *rules = json_object_get(mj, "may_send");
        m->n_may_send = json_array_size(rules);
        m->may_send = calloc(m->n_may_send + 1, sizeof *m->may_send);
        for (size_t k = 0; k < m->n_may_send; k++)
            m->may_send[k] = strdup(json_string_value(json_array_get(rules, k)));
        r->members[i] = m;
    }
    json_t *rev = json_object_get(doc, "revoked_keys");
    r->n_revoked_keys = json_array_size(rev);
    r->revoked_keys = calloc(r->n_revoked_keys + 1, sizeof *r->revoked_keys);
    for (size_t k = 0; k < r->n_revoked_keys; k++)
        r->revoked_keys[k] = strdup(json_string_value(json_array_get(rev, k)));
    return r;
}

#endif
