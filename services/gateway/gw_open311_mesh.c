/* gw_open311_mesh: the Open311 module's real backend (gw_open311_int.h):
 * complaints to the city's intake, reads from routing, as the gateway
 * member, through gw_mesh. */
#include "gw_open311_int.h"

#include <stdio.h>
#include <string.h>

/* Open311's own client and lock (gw_ctx.mesh311), so a slow list never
 * holds up logins and the dashboard. */
static gw_mesh_t *mesh_of(gw_ctx_t *gw)
{
    return gw->mesh311 ? gw->mesh311 : gw->mesh;
}

static int call(gw_ctx_t *gw, const char *service, Cpm__MsgType type, const ProtobufCMessage *req,
                cpm_msg_t *reply, cpm_error_t *err)
{
    return gw_mesh_call_service(mesh_of(gw), service, type, req, O311_CALL_MS, reply, err);
}

static int submit(void *arg, const Cpm__Complaint *c, Cpm__SubmitReply **out, cpm_error_t *err)
{
    cpm_msg_t reply = {0};
    int rc = call(arg, "intake", CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT, &c->base, &reply, err);
    if (rc != 0)
        return rc;
    *out = cpm__submit_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
    cpm_msg_clear(&reply);
    return *out ? 0 : cpm_error_set(err, CPM_E_BAD_MESSAGE, "", "intake's reply does not decode");
}

static int status(void *arg, const char *ticket, Cpm__StatusReply **out, cpm_error_t *err)
{
    Cpm__StatusQuery q = CPM__STATUS_QUERY__INIT;
    q.ticket = (char *)ticket;
    cpm_msg_t reply = {0};
    int rc = call(arg, "routing", CPM__MSG_TYPE__MSG_STATUS_QUERY, &q.base, &reply, err);
    if (rc != 0)
        return rc;
    *out = cpm__status_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
    cpm_msg_clear(&reply);
    return *out ? 0 : cpm_error_set(err, CPM_E_BAD_MESSAGE, "", "routing's reply does not decode");
}

static int list(void *arg, const Cpm__CaseListQuery *q, Cpm__CaseListReply **out, cpm_error_t *err)
{
    cpm_msg_t reply = {0};
    int rc = call(arg, "routing", CPM__MSG_TYPE__MSG_CASE_LIST_QUERY, &q->base, &reply, err);
    if (rc != 0)
        return rc;
    *out = cpm__case_list_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
    cpm_msg_clear(&reply);
    return *out ? 0 : cpm_error_set(err, CPM_E_BAD_MESSAGE, "", "routing's reply does not decode");
}

typedef struct {
    const char *id;
    char *out;
    size_t cap;
} name_t;

static int name_of(const cpm_registry_t *reg, void *arg)
{
    name_t *n = arg;
    const Cpm__Member *m = cpm_registry_member(reg, n->id);
    snprintf(n->out, n->cap, "%s", m && m->name ? m->name : "");
    return 0;
}

static void member_name(void *arg, const char *id, char *out, size_t cap)
{
    gw_ctx_t *gw = arg;
    name_t n = {id, out, cap};
    gw_mesh_with(mesh_of(gw), name_of, &n);
}

static int with_registry(void *arg, int (*fn)(const cpm_registry_t *reg, void *a), void *a)
{
    gw_ctx_t *gw = arg;
    return gw_mesh_with(mesh_of(gw), fn, a);
}

void o311_mesh_backend(gw_ctx_t *gw, o311_backend_t *be)
{
    *be = (o311_backend_t){submit, status, list, member_name, with_registry, gw};
}
