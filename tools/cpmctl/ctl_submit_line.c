/* ctl_submit_line: one JSON line of `cpmctl submit --file` (see the header). */
#include "ctl_submit_line.h"

#include <stddef.h>

/* Fill c from a JSON object; strings are borrowed from o. */
static int complaint_from_json(json_t *o, Cpm__Complaint *c, cpm_error_t *err)
{
    static const struct {
        const char *key;
        size_t off;
    } fields[] = {
        {"channel", offsetof(Cpm__Complaint, channel)},
        {"consumer_name", offsetof(Cpm__Complaint, consumer_name)},
        {"consumer_phone", offsetof(Cpm__Complaint, consumer_phone)},
        {"consumer_email", offsetof(Cpm__Complaint, consumer_email)},
        {"business_name", offsetof(Cpm__Complaint, business_name)},
        {"business_address", offsetof(Cpm__Complaint, business_address)},
        {"product", offsetof(Cpm__Complaint, product)},
        {"area", offsetof(Cpm__Complaint, area)},
        {"location", offsetof(Cpm__Complaint, location)},
        {"category", offsetof(Cpm__Complaint, category)},
        {"description", offsetof(Cpm__Complaint, description)},
        {"client_ref", offsetof(Cpm__Complaint, client_ref)},
    };
    if (!json_is_object(o))
        return cpm_error_set(err, CPM_E_INVALID, "", "a line must be a JSON object");
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(o, fields[i].key);
        if (!v)
            continue;
        if (!json_is_string(v))
            return cpm_error_set(err, CPM_E_INVALID, fields[i].key, "%s must be a string",
                                 fields[i].key);
        *(const char **)((char *)c + fields[i].off) = json_string_value(v);
    }
    json_t *u = json_object_get(o, "urgent"), *t = json_object_get(o, "event_time_ms");
    if (u && !json_is_boolean(u))
        return cpm_error_set(err, CPM_E_INVALID, "urgent", "urgent must be true or false");
    if (t && !json_is_integer(t))
        return cpm_error_set(err, CPM_E_INVALID, "event_time_ms",
                             "event_time_ms must be an integer (Unix ms)");
    /* A point: both or neither, numbers (the range is intake's to check). */
    json_t *lat = json_object_get(o, "lat"), *lon = json_object_get(o, "lon");
    if ((lat && !json_is_number(lat)) || (lon && !json_is_number(lon)) || !lat != !lon)
        return cpm_error_set(err, CPM_E_INVALID, lat && json_is_number(lat) ? "lon" : "lat",
                             "lat and lon must both be numbers of degrees, or both absent");
    c->has_point = lat != NULL;
    c->lat = lat ? json_number_value(lat) : 0;
    c->lon = lon ? json_number_value(lon) : 0;
    c->urgent = u && json_is_true(u);
    c->event_time_ms = t ? json_integer_value(t) : 0;
    return 0;
}

int ctl_submit_line_parse(const char *line, long lineno, json_t **obj, Cpm__Complaint *c,
                          cpm_error_t *err)
{
    json_error_t je;
    *obj = json_loads(line, 0, &je);
    int rc = *obj ? complaint_from_json(*obj, c, err)
                  : cpm_error_set(err, CPM_E_INVALID, "", "line %ld: %s", lineno, je.text);
    if (rc != 0) {
        json_decref(*obj);
        *obj = NULL;
    }
    return rc;
}
