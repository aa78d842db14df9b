/* intake_validate: field-by-field checks of client submissions. Messages never
 * echo the client's value: it may be huge or not valid UTF-8, and the message
 * goes back on the wire. */
#include "intake_validate.h"
#include "cpm_text.h"

#include "cpm_pbcheck.h"

#include <math.h>
#include <string.h>

static const char *const CHANNELS[] = {"hotline", "web", "walk_in", "email", "social", "letter"};

/* protobuf-c gives "" for absent strings, but a hand-built struct may hold NULL. */
static const char *str(const char *s)
{
    return s ? s : "";
}

bool intake_utf8_valid(const char *s, size_t len)
{
    return cpm_text_utf8_valid(s, len); /* one decoder for every hop */
}

bool intake_channel_valid(const char *channel)
{
    for (size_t i = 0; channel && i < sizeof CHANNELS / sizeof *CHANNELS; i++)
        if (!strcmp(channel, CHANNELS[i]))
            return true;
    return false;
}

/* UTF-8, presence and size of a text field: the check every hop makes. */
static int check_text(cpm_error_t *err, const char *field, const char *s, size_t max, bool required)
{
    return cpm_text_check(err, field, s, max, required);
}

static int check_set_by_intake(cpm_error_t *err, const char *field, bool is_set)
{
    if (is_set)
        return cpm_error_set(err, CPM_E_INVALID, field,
                             "%s is set by intake and must be empty on submit.", field);
    return 0;
}

static int check_channel(cpm_error_t *err, const char *s)
{
    int rc = check_text(err, "channel", s, 16, true);
    if (rc == CPM_E_TOO_LARGE || (rc == 0 && !intake_channel_valid(s)))
        return cpm_error_set(err, CPM_E_INVALID, "channel",
                             "channel must be one of hotline, web, walk_in, email, social, "
                             "letter.");
    return rc;
}

static int check_client_ref(cpm_error_t *err, const char *s)
{
    size_t n = strlen(s);
    if (n > INTAKE_CLIENT_REF_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "client_ref",
                             "client_ref is %zu characters long; at most %d are allowed.", n,
                             INTAKE_CLIENT_REF_MAX);
    if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") != n)
        return cpm_error_set(err, CPM_E_INVALID, "client_ref",
                             "client_ref may hold only letters A-Z and a-z, digits and . _ : -.");
    return 0;
}

static int check_category(cpm_error_t *err, const cpm_rules_t *rules, const char *s)
{
    int rc = check_text(err, "category", s, 64, false);
    if (rc == 0 && *s && !cpm_rules_has_category(rules, s))
        rc = CPM_E_INVALID;
    if (rc)
        return cpm_error_set(err, CPM_E_INVALID, "category",
                             "category is not a known category slug of this deployment.");
    return 0;
}

/* Where: a text (location, or the legacy area) and/or a point. Only the
 * forms here; intake_place decides whether Hanoi has such a place. */
static int check_location(cpm_error_t *err, const Cpm__Complaint *c)
{
    int rc;
    if ((rc = check_text(err, "location", str(c->location), INTAKE_LOCATION_MAX, false)) ||
        (rc = check_text(err, "area", str(c->area), INTAKE_LOCATION_MAX, false)) ||
        (rc = check_set_by_intake(err, "placement", c->placement != NULL)))
        return rc;
    if (!c->has_point && (c->lat != 0 || c->lon != 0))
        return cpm_error_set(err, CPM_E_INVALID, c->lat != 0 ? "lat" : "lon",
                             "%s is given without has_point; send has_point with lat and lon.",
                             c->lat != 0 ? "lat" : "lon");
    if (c->has_point && !(isfinite(c->lat) && c->lat >= -90 && c->lat <= 90))
        return cpm_error_set(err, CPM_E_INVALID, "lat",
                             "lat must be a number of degrees from -90 to 90 (WGS 84).");
    if (c->has_point && !(isfinite(c->lon) && c->lon >= -180 && c->lon <= 180))
        return cpm_error_set(err, CPM_E_INVALID, "lon",
                             "lon must be a number of degrees from -180 to 180 (WGS 84).");
    if (!*str(c->location) && !*str(c->area) && !c->has_point)
        return cpm_error_set(err, CPM_E_INVALID, "location",
                             "location is required: a ward, commune, district or address in "
                             "Hanoi, or a point (lat, lon).");
    return 0;
}

static int check_phone(cpm_error_t *err, const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return 0;
    if (strspn(s, "0123456789 +-.()") != n || strcspn(s, "0123456789") == n)
        return cpm_error_set(err, CPM_E_INVALID, "consumer_phone",
                             "consumer_phone may hold only digits, spaces and + - . ( ) and "
                             "must contain digits.");
    if (n < INTAKE_PHONE_MIN)
        return cpm_error_set(err, CPM_E_INVALID, "consumer_phone",
                             "consumer_phone is %zu characters long; at least %d are needed.", n,
                             INTAKE_PHONE_MIN);
    if (n > INTAKE_PHONE_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "consumer_phone",
                             "consumer_phone is %zu characters long; at most %d are allowed.", n,
                             INTAKE_PHONE_MAX);
    return 0;
}

/* Not RFC 5322: enough to catch typing mistakes without refusing real addresses. */
static int check_email(cpm_error_t *err, const char *s)
{
    int rc = check_text(err, "consumer_email", s, INTAKE_EMAIL_MAX, false);
    if (rc || !*s)
        return rc;
    const char *at = strchr(s, '@');
    const char *domain = at ? at + 1 : "";
    size_t dn = strlen(domain);
    const char *dot = memchr(domain, '.', dn);
    bool has_space = false;
    for (const char *p = s; *p; p++)
        has_space |= (unsigned char)*p <= 0x20 || *p == 0x7F;
    if (!at || at == s || strchr(domain, '@') || !dot || dot == domain || domain[dn - 1] == '.' ||
        has_space)
        return cpm_error_set(err, CPM_E_INVALID, "consumer_email",
                             "consumer_email must be one name, one '@' and a domain with a '.', "
                             "without spaces.");
    return 0;
}

static int check_event_time(cpm_error_t *err, int64_t t, int64_t now_ms)
{
    if (t == 0)
        return 0;
    if (t < INTAKE_EPOCH_MIN_MS)
        return cpm_error_set(err, CPM_E_INVALID, "event_time_ms",
                             "event_time_ms is before the year 2000.");
    if (t > now_ms + INTAKE_FUTURE_SLACK_MS)
        return cpm_error_set(err, CPM_E_INVALID, "event_time_ms",
                             "event_time_ms is more than 5 minutes in the future.");
    return 0;
}

int intake_validate_record(const ProtobufCMessage *m, cpm_error_t *err)
{
    int rc = cpm_pbcheck(m, NULL, err);
    if (rc)
        return rc;
    size_t n = protobuf_c_message_get_packed_size(m);
    if (n > INTAKE_RECORD_MAX)
        return cpm_error_set(err, CPM_E_TOO_LARGE, "",
                             "The %s is %zu bytes long in all; at most %d bytes are allowed.",
                             m->descriptor->short_name, n, INTAKE_RECORD_MAX);
    return 0;
}

int intake_validate_complaint(const Cpm__Complaint *c, const cpm_rules_t *rules, int64_t now_ms,
                              cpm_error_t *err)
{
    int rc;
    if (!c)
        return cpm_error_set(err, CPM_E_INVALID, "", "The request holds no complaint.");
    if (!rules)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "No routing configuration is loaded.");
    if ((rc = check_set_by_intake(err, "ticket", *str(c->ticket))) ||
        (rc = check_set_by_intake(err, "received_ms", c->received_ms != 0)) ||
        (rc = check_set_by_intake(err, "intake_node", *str(c->intake_node))) ||
        (rc = check_set_by_intake(err, "lookup_code", *str(c->lookup_code))) ||
        (rc = check_set_by_intake(err, "category_suggested", *str(c->category_suggested))) ||
        (rc = check_set_by_intake(err, "suggestion_pm", c->suggestion_pm != 0)) ||
        (rc = check_set_by_intake(err, "category_by", *str(c->category_by))) ||
        (rc = check_set_by_intake(err, "model_version", *str(c->model_version))) ||
        (rc = check_channel(err, str(c->channel))) ||
        (rc = check_text(err, "consumer_name", str(c->consumer_name), INTAKE_NAME_MAX, false)) ||
        (rc = check_phone(err, str(c->consumer_phone))) ||
        (rc = check_email(err, str(c->consumer_email))) ||
        (rc = check_text(err, "business_name", str(c->business_name), INTAKE_NAME_MAX, true)) ||
        (rc = check_text(err, "business_address", str(c->business_address), INTAKE_ADDRESS_MAX,
                         false)) ||
        (rc = check_location(err, c)) || (rc = check_category(err, rules, str(c->category))) ||
        (rc = check_text(err, "description", str(c->description), INTAKE_TEXT_MAX, true)) ||
        (rc = check_text(err, "product", str(c->product), INTAKE_PRODUCT_MAX, false)) ||
        (rc = check_event_time(err, c->event_time_ms, now_ms)) ||
        (rc = check_client_ref(err, str(c->client_ref))) ||
        (rc = intake_validate_record(&c->base, err)))
        return rc;
    return 0;
}

int intake_validate_consultation(const Cpm__Consultation *c, const cpm_rules_t *rules,
                                 cpm_error_t *err)
{
    int rc;
    if (!c)
        return cpm_error_set(err, CPM_E_INVALID, "", "The request holds no consultation.");
    if (!rules)
        return cpm_error_set(err, CPM_E_INTERNAL, "", "No routing configuration is loaded.");
    if ((rc = check_set_by_intake(err, "id", *str(c->id))) ||
        (rc = check_set_by_intake(err, "received_ms", c->received_ms != 0)) ||
        (rc = check_set_by_intake(err, "operator", *str(c->operator_))) ||
        (rc = check_channel(err, str(c->channel))) ||
        (rc = check_category(err, rules, str(c->category))) ||
        (rc = check_text(err, "summary", str(c->summary), INTAKE_TEXT_MAX, true)) ||
        (rc = check_client_ref(err, str(c->client_ref))) ||
        (rc = intake_validate_record(&c->base, err)))
        return rc;
    if (c->duration_s > INTAKE_DURATION_MAX)
        return cpm_error_set(err, CPM_E_INVALID, "duration_s",
                             "duration_s is over one day (%d seconds).", INTAKE_DURATION_MAX);
    return 0;
}
