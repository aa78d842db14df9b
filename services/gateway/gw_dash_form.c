/* gw_dash_form: see gw_dash_form.h. */
#include "gw_dash_form.h"

#include "cpm_log.h"
#include "cpm_util.h"
#include "gw_auth.h"
#include "gw_ctx.h"
#include "gw_dash_html.h"
#include "gw_open311_int.h" /* the deployment's categories */

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORM_CALL_MS 5000
#define REF_HEX 32 /* cpm_time_ordered_id's length */

/* The form's fields: name, label, size of the value kept. */
typedef struct {
    char channel[32], business_name[512], business_address[512], product[300], location[1100],
        category[72], description[4200], consumer_name[256], consumer_phone[64],
        consumer_email[256], client_ref[REF_HEX + 1];
    bool urgent;
} form_t;

static const char *const CHANNELS[] = {"hotline", "web", "walk_in", "email", "social", "letter"};

typedef struct {
    const char *member;
    bool may;
} may_t;

static int may_submit(const cpm_registry_t *reg, void *arg)
{
    may_t *w = arg;
    const Cpm__Member *m = cpm_registry_member(reg, w->member);
    w->may = m && cpm_member_may_send(m, "submit_complaint", "intake");
    return 0;
}

/* Whether name is a field the form shows (its error goes next to it). */
static bool form_field(const char *name)
{
    static const char *const names[] = {
        "channel",  "business_name", "business_address", "product",        "location",      "area",
        "category", "description",   "consumer_name",    "consumer_phone", "consumer_email"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(name, names[i]))
            return true;
    return false;
}

static void field_error(gw_resp_t *rs, const cpm_error_t *err, const char *name)
{
    if (err && err->code && !strcmp(err->field, name)) {
        gw_resp_printf(rs, "<span class=\"error\" id=\"err-%s\">", name);
        gw_html_esc(rs, err->message);
        gw_resp_printf(rs, "</span>");
    }
}

static void text(gw_resp_t *rs, const char *name, const char *label, const char *value,
                 const cpm_error_t *err, bool required)
{
    gw_resp_printf(rs, "<p><label>%s <input name=\"%s\" value=\"", label, name);
    gw_html_esc(rs, value);
    gw_resp_printf(rs, "\"%s></label> ", required ? " required" : "");
    field_error(rs, err, name);
    gw_resp_printf(rs, "</p>\n");
}

/* The form with f's values and err's message next to the field it names. */
static void render(gw_ctx_t *gw, gw_resp_t *rs, const gw_session_t *s, const form_t *f,
                   const cpm_error_t *err)
{
    gw_page_begin(rs, "File a complaint", s);
    if (err && err->code && !form_field(err->field)) {
        gw_resp_printf(rs, "<p class=\"error\">");
        gw_html_esc(rs, err->message);
        gw_resp_printf(rs, "</p>\n");
    }
    gw_resp_printf(rs,
                   "<form method=\"post\" action=\"/dash/complaint\" class=\"complaint\">\n"
                   "<input type=\"hidden\" name=\"csrf\" value=\"%s\">\n"
                   "<input type=\"hidden\" name=\"client_ref\" value=\"",
                   s->csrf);
    gw_html_esc(rs, f->client_ref);
    gw_resp_printf(rs, "\">\n<p><label>Channel <select name=\"channel\">");
    for (size_t i = 0; i < sizeof CHANNELS / sizeof *CHANNELS; i++)
        gw_resp_printf(rs, "<option%s>%s</option>",
                       !strcmp(f->channel, CHANNELS[i]) ? " selected" : "", CHANNELS[i]);
    gw_resp_printf(rs, "</select></label> ");
    field_error(rs, err, "channel");
    gw_resp_printf(rs, "</p>\n");
    text(rs, "business_name", "Business name", f->business_name, err, false);
    text(rs, "business_address", "Business address", f->business_address, err, false);
    text(rs, "product", "Product or service", f->product, err, false);
    text(rs, "location", "Where (ward, commune or address)", f->location, err, true);
    field_error(rs, err, "area");
    gw_resp_printf(rs, "<p><label>Category <select name=\"category\"><option value=\"\">"
                       "(unknown)</option>");
    const gw_open311_t *o = gw->open311;
    for (size_t i = 0; o && i < o->n_cats; i++) { /* loaded once at start: read only */
        gw_resp_printf(rs, "<option value=\"");
        gw_html_esc(rs, o->cats[i].slug);
        gw_resp_printf(rs, "\"%s>", !strcmp(f->category, o->cats[i].slug) ? " selected" : "");
        gw_html_esc(rs, *o->cats[i].name_en ? o->cats[i].name_en : o->cats[i].slug);
        gw_resp_printf(rs, "</option>");
    }
    gw_resp_printf(rs, "</select></label> ");
    field_error(rs, err, "category");
    gw_resp_printf(rs, "</p>\n<p><label>Description<br><textarea name=\"description\" "
                       "rows=\"5\" cols=\"60\" required>");
    gw_html_esc(rs, f->description);
    gw_resp_printf(rs, "</textarea></label> ");
    field_error(rs, err, "description");
    gw_resp_printf(rs, "</p>\n<fieldset><legend>Consumer (kept sealed)</legend>\n");
    text(rs, "consumer_name", "Name", f->consumer_name, err, false);
    text(rs, "consumer_phone", "Phone", f->consumer_phone, err, false);
    text(rs, "consumer_email", "Email", f->consumer_email, err, false);
    gw_resp_printf(rs,
                   "</fieldset>\n<p><label><input type=\"checkbox\" name=\"urgent\" "
                   "value=\"1\"%s> urgent</label></p>\n"
                   "<p><button type=\"submit\">File the complaint</button></p>\n</form>\n",
                   f->urgent ? " checked" : "");
    gw_page_end(rs);
}

/* The session, and whether its member may file (403 page when not). */
static int begin(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs, gw_session_t *s)
{
    if (gw_auth_require(gw, rq, rs, false, s) != 0)
        return -1;
    may_t w = {s->grant.member, false};
    gw_mesh_with(gw->mesh, may_submit, &w);
    if (w.may)
        return 0;
    gw_count(gw, "web.complaint_refused", 1);
    cpm_info("gateway: complaint form refused to %s: may not send submit_complaint@intake",
             s->grant.member);
    gw_page_begin(rs, "Not allowed", s);
    rs->status = 403;
    gw_resp_printf(rs, "<p class=\"error\">");
    gw_html_esc(rs, s->grant.member);
    gw_resp_printf(rs, " may not file complaints (submit_complaint@intake).</p>\n");
    gw_page_end(rs);
    gw_session_clear(s);
    return -1;
}

int gw_dash_form_get(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    gw_session_t s;
    if (begin(gw, rq, rs, &s) != 0)
        return 0;
    form_t f = {.channel = "hotline"};
    /* one form, one complaint: a resend is the same one (time-ordered: intake's
     * index of references stays local) */
    cpm_time_ordered_id(f.client_ref, cpm_now_ms());
    render(gw, rs, &s, &f, NULL);
    gw_session_clear(&s);
    return 0;
}

/* Whether the form body has field key (at its start or after '&'). */
static bool present(const char *body, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = body; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL)
        if (!strncmp(p, key, k) && p[k] == '=')
            return true;
    return false;
}

/* Field key into out; a value longer than cap - 1 (more than intake takes)
 * or not well escaped is reported in *err (the first such field) rather
 * than cut or dropped. */
static void get(const gw_req_t *rq, const char *key, char *out, size_t cap, cpm_error_t *err)
{
    int rc = gw_form_get((const char *)rq->body, key, out, cap);
    if (rc == 0)
        return;
    *out = 0;
    if (!err->code && rc == -2)
        cpm_error_set(err, CPM_E_INVALID, key, "%s holds a broken %% escape or a NUL byte", key);
    else if (!err->code && present((const char *)rq->body, key))
        cpm_error_set(err, CPM_E_TOO_LARGE, key, "%s is longer than %zu bytes", key, cap - 1);
}

int gw_dash_form_post(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs)
{
    gw_session_t s;
    if (gw_auth_require(gw, rq, rs, false, &s) != 0)
        return 0;
    const char *why = NULL;
    if (gw_auth_check_post(rq, &s, &why) != 0) {
        gw_count(gw, "web.csrf_refused", 1);
        cpm_info("gateway: complaint of %s refused: %s", s.grant.member, why);
        gw_session_clear(&s);
        return gw_resp_text(rs, 403, "%s", why);
    }
    form_t *f = calloc(1, sizeof *f);
    if (!f) {
        gw_session_clear(&s);
        return -1;
    }
    cpm_error_t err = {0};
    get(rq, "channel", f->channel, sizeof f->channel, &err);
    get(rq, "business_name", f->business_name, sizeof f->business_name, &err);
    get(rq, "business_address", f->business_address, sizeof f->business_address, &err);
    get(rq, "product", f->product, sizeof f->product, &err);
    get(rq, "location", f->location, sizeof f->location, &err);
    get(rq, "category", f->category, sizeof f->category, &err);
    get(rq, "description", f->description, sizeof f->description, &err);
    get(rq, "consumer_name", f->consumer_name, sizeof f->consumer_name, &err);
    get(rq, "consumer_phone", f->consumer_phone, sizeof f->consumer_phone, &err);
    get(rq, "consumer_email", f->consumer_email, sizeof f->consumer_email, &err);
    get(rq, "client_ref", f->client_ref, sizeof f->client_ref, &err);
    char urgent[8] = "";
    get(rq, "urgent", urgent, sizeof urgent, &err);
    f->urgent = *urgent && strcmp(urgent, "0") != 0;

    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.channel = f->channel, c.business_name = f->business_name;
    c.business_address = f->business_address, c.location = f->location;
    c.product = f->product;
    c.category = f->category, c.description = f->description;
    c.consumer_name = f->consumer_name, c.consumer_phone = f->consumer_phone;
    c.consumer_email = f->consumer_email, c.client_ref = f->client_ref;
    c.urgent = f->urgent;
    c.on_behalf = (ProtobufCBinaryData){s.frame_len, s.frame}; /* filed as the person */
    cpm_msg_t reply = {0};
    int rc = err.code
                 ? err.code /* a field longer than intake takes: not sent */
                 : gw_mesh_call_service(gw->mesh, "intake", CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT,
                                        &c.base, FORM_CALL_MS, &reply, &err);
    Cpm__SubmitReply *r =
        rc == 0 ? cpm__submit_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data)
                : NULL;
    if (rc == 0 && !r)
        rc = cpm_error_set(&err, CPM_E_BAD_MESSAGE, "", "intake's reply does not decode");
    cpm_msg_clear(&reply);
    if (rc != 0) {
        gw_count(gw, "web.complaint_refused", 1);
        cpm_info("gateway: complaint filed for %s refused: %s %s: %s", s.grant.member,
                 cpm_err_name(rc), err.field, err.message);
        if (!err.code)
            err.code = rc;
        render(gw, rs, &s, f, &err);
        rs->status = rc == CPM_E_INVALID || rc == CPM_E_TOO_LARGE ? 400
                     : rc == CPM_E_FORBIDDEN                      ? 403
                                                                  : 502;
    } else {
        gw_count(gw, "web.complaint", 1);
        cpm_info("gateway: complaint %s filed for %s%s", r->ticket, s.grant.member,
                 r->duplicate ? " (the same form again)" : "");
        gw_page_begin(rs, "Complaint filed", &s);
        gw_resp_printf(rs, "<p>Ticket <strong id=\"ticket\">");
        gw_html_esc(rs, r->ticket);
        gw_resp_printf(rs, "</strong>, lookup code <strong id=\"lookup\">");
        gw_html_esc(rs, r->lookup_code);
        gw_resp_printf(rs,
                       "</strong>%s</p>\n<p><a href=\"/dash/complaint\">File another</a> "
                       "· <a href=\"/dash/live\">Live events</a></p>\n",
                       r->duplicate ? " (this form was already filed: the same ticket)" : "");
        gw_page_end(rs);
        cpm__submit_reply__free_unpacked(r, NULL);
    }
    sodium_memzero(f, sizeof *f); /* the consumer's contact */
    free(f);
    gw_session_clear(&s);
    return 0;
}
