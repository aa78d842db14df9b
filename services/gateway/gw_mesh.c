/* gw_mesh: see gw_mesh.h. */
#include "gw_mesh.h"

#include "cpm_log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_mesh {
    pthread_mutex_t lock;      /* the client: one call at a time */
    pthread_rwlock_t reg_lock; /* reg: readers share it, a reload writes */
    cpm_client_t *client;
    cpm_registry_t *reg;
    const cpm_config_t *cfg;
    uint8_t root_pk[32];
    char self[128];
};

static int load(gw_mesh_t *m, cpm_registry_t **out, cpm_error_t *err)
{
    return cpm_registry_load(m->cfg->registry, m->root_pk, out, err);
}

int gw_mesh_new(gw_mesh_t **out, void *zctx, const cpm_config_t *cfg, const cpm_identity_t *id,
                cpm_error_t *err)
{
    return gw_mesh_new_as(out, zctx, cfg, id, "gateway.http", err);
}

int gw_mesh_new_as(gw_mesh_t **out, void *zctx, const cpm_config_t *cfg, const cpm_identity_t *id,
                   const char *instance, cpm_error_t *err)
{
    *out = NULL;
    gw_mesh_t *m = calloc(1, sizeof *m);
    if (!m)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "out of memory");
    pthread_mutex_init(&m->lock, NULL);
    pthread_rwlock_init(&m->reg_lock, NULL);
    m->cfg = cfg;
    snprintf(m->self, sizeof m->self, "%s", id->id);
    cpm_public_t root;
    int rc = cpm_public_load(&root, cfg->root_public, err);
    if (rc == 0) {
        memcpy(m->root_pk, root.sign_pk, 32);
        rc = load(m, &m->reg, err);
    }
    if (rc == 0)
        rc = cpm_client_new(&m->client, zctx, m->reg, id, instance, err);
    if (rc != 0) {
        gw_mesh_destroy(&m);
        return rc;
    }
    *out = m;
    return 0;
}

void gw_mesh_destroy(gw_mesh_t **p)
{
    if (!p || !*p)
        return;
    gw_mesh_t *m = *p;
    cpm_client_destroy(&m->client);
    cpm_registry_destroy(&m->reg);
    pthread_mutex_destroy(&m->lock);
    pthread_rwlock_destroy(&m->reg_lock);
    free(m);
    *p = NULL;
}

void gw_mesh_reload(gw_mesh_t *m)
{
    cpm_registry_t *r = NULL;
    cpm_error_t err = {0};
    if (load(m, &r, &err) != 0) {
        cpm_warn("gateway: registry for the web side not reloaded: %s", err.message);
        return;
    }
    /* no call in flight (the client reads the registry), and no reader */
    pthread_mutex_lock(&m->lock);
    pthread_rwlock_wrlock(&m->reg_lock);
    if (cpm_registry_version(r) > cpm_registry_version(m->reg)) {
        cpm_client_set_registry(m->client, r);
        cpm_registry_t *old = m->reg;
        m->reg = r;
        r = old;
    }
    pthread_rwlock_unlock(&m->reg_lock);
    pthread_mutex_unlock(&m->lock);
    cpm_registry_destroy(&r);
}

int gw_mesh_call(gw_mesh_t *m, const char *member, const char *service, Cpm__MsgType type,
                 const ProtobufCMessage *req, int timeout_ms, cpm_msg_t *reply, cpm_error_t *err)
{
    pthread_mutex_lock(&m->lock);
    int rc = cpm_client_call(m->client, member, service, type, req, timeout_ms, reply, err);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int gw_mesh_with(gw_mesh_t *m, int (*fn)(const cpm_registry_t *reg, void *arg), void *arg)
{
    pthread_rwlock_rdlock(&m->reg_lock);
    int rc = fn(m->reg, arg);
    pthread_rwlock_unlock(&m->reg_lock);
    return rc;
}

const char *gw_mesh_self(const gw_mesh_t *m)
{
    return m->self;
}

typedef struct {
    const char *service;
    char member[128];
} find_t;

static int find(const cpm_registry_t *reg, void *arg)
{
    find_t *f = arg;
    const Cpm__Registry *doc = cpm_registry_doc(reg);
    bool intake = !strcmp(f->service, "intake");
    for (size_t i = 0; doc && i < doc->n_members; i++) {
        const Cpm__Member *m = doc->members[i];
        if (cpm_member_service(m, f->service) &&
            (!intake || (m->role && !strcmp(m->role, "city")))) {
            snprintf(f->member, sizeof f->member, "%s", m->id);
            return 0;
        }
    }
    return -1;
}

int gw_mesh_call_service(gw_mesh_t *m, const char *service, Cpm__MsgType type,
                         const ProtobufCMessage *req, int timeout_ms, cpm_msg_t *reply,
                         cpm_error_t *err)
{
    find_t f = {.service = service};
    if (gw_mesh_with(m, find, &f) != 0)
        return cpm_error_set(err, CPM_E_UNAVAILABLE, "service", "no %s%s in the registry", service,
                             strcmp(service, "intake") ? "" : " at a node of role city");
    return gw_mesh_call(m, f.member, service, type, req, timeout_ms, reply, err);
}
