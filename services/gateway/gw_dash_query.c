/* gw_dash_query: see gw_dash_query.h. */
#include "gw_dash_query.h"

#include "cpm_util.h"
#include "gw_ctx.h"
#include "gw_dash_html.h"
#include "monitor.pb-c.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GW_DASH_TIMEOUT_MS 5000

static int call(gw_ctx_t *gw, const char *service, Cpm__MsgType type, const ProtobufCMessage *req,
                cpm_msg_t *reply, cpm_error_t *err)
{
    return gw_mesh_call_service(gw->mesh, service, type, req, GW_DASH_TIMEOUT_MS, reply, err);
}

int gw_dash_list(gw_ctx_t *gw, const gw_session_t *s, Cpm__CaseListQuery *q,
                 Cpm__CaseListReply **out, cpm_error_t *err)
{
    *out = NULL;
    q->on_behalf = (ProtobufCBinaryData){s->frame_len, s->frame};
    cpm_msg_t reply = {0};
    int rc = call(gw, "routing", CPM__MSG_TYPE__MSG_CASE_LIST_QUERY, &q->base, &reply, err);
    q->on_behalf = (ProtobufCBinaryData){0, NULL};
    if (rc == 0 && !(*out = cpm__case_list_reply__unpack(NULL, reply.env->payload.len,
                                                         reply.env->payload.data)))
        rc = cpm_error_set(err, CPM_E_BAD_MESSAGE, "reply", "routing's list does not decode");
    cpm_msg_clear(&reply);
    return rc;
}

int gw_dash_status(gw_ctx_t *gw, const gw_session_t *s, const char *ticket, Cpm__StatusReply **out,
                   cpm_error_t *err)
{
    *out = NULL;
    if (!*ticket || strlen(ticket) > 64)
        return cpm_error_set(err, CPM_E_NOT_FOUND, "ticket", "no such ticket");
    Cpm__StatusQuery q = CPM__STATUS_QUERY__INIT;
    q.ticket = (char *)ticket;
    q.on_behalf = (ProtobufCBinaryData){s->frame_len, s->frame};
    cpm_msg_t reply = {0};
    int rc = call(gw, "routing", CPM__MSG_TYPE__MSG_STATUS_QUERY, &q.base, &reply, err);
    if (rc == 0 &&
        !(*out = cpm__status_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data)))
        rc = cpm_error_set(err, CPM_E_BAD_MESSAGE, "reply", "routing's status does not decode");
    cpm_msg_clear(&reply);
    return rc;
}

void gw_dash_effectiveness(gw_ctx_t *gw, const gw_session_t *s, gw_resp_t *rs)
{
    char year[16];
    time_t t = (time_t)(cpm_now_ms() / 1000) + 7 * 3600; /* Vietnam's year */
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(year, sizeof year, "%d", tm.tm_year + 1900);
    Cpm__MonitorReportQuery q = CPM__MONITOR_REPORT_QUERY__INIT;
    q.period = year;
    q.format = "json";
    q.on_behalf = (ProtobufCBinaryData){s->frame_len, s->frame}; /* answered as the person */
    cpm_msg_t reply = {0};
    cpm_error_t err = {0};
    gw_resp_printf(rs, "<section class=\"eff\"><h2>Effectiveness %s</h2>\n", year);
    int rc = call(gw, "monitor", CPM__MSG_TYPE__MSG_MONITOR_REPORT, &q.base, &reply, &err);
    Cpm__MonitorReportReply *r =
        rc == 0 ? cpm__monitor_report_reply__unpack(NULL, reply.env->payload.len,
                                                    reply.env->payload.data)
                : NULL;
    json_t *doc = r ? json_loadb((const char *)r->body.data, r->body.len, 0, NULL) : NULL;
    if (!doc) {
        gw_resp_printf(rs, "<p class=\"note\">No figures from the monitor: ");
        gw_html_esc(rs, rc ? err.message : "its answer is not JSON");
        gw_resp_printf(rs, "</p>\n");
    } else { /* the report's top-level figures; nested tables stay in cpmctl report */
        gw_resp_printf(rs, "<table class=\"figures\">\n");
        const char *k;
        json_t *v;
        json_object_foreach(doc, k, v)
        {
            if (!json_is_number(v) && !json_is_string(v))
                continue;
            gw_resp_printf(rs, "<tr><th>");
            gw_html_esc(rs, k);
            gw_resp_printf(rs, "</th><td>");
            if (json_is_string(v))
                gw_html_esc(rs, *json_string_value(v) ? json_string_value(v) : "(all)");
            else if (json_number_value(v) < 0) /* the report's "no case to measure" */
                gw_resp_printf(rs, "&mdash;");
            else
                gw_resp_printf(rs, "%.15g", json_number_value(v));
            gw_resp_printf(rs, "</td></tr>\n");
        }
        gw_resp_printf(rs, "</table>\n");
    }
    gw_resp_printf(rs, "</section>\n");
    json_decref(doc);
    if (r)
        cpm__monitor_report_reply__free_unpacked(r, NULL);
    cpm_msg_clear(&reply);
}
