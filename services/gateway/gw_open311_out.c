/* gw_open311_out: Open311 replies as JSON or the standard's XML, errors, and
 * the standard's times (gw_open311_int.h). */
#include "gw_open311_int.h"

#include "cpm_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VN_OFFSET_S (7 * 3600) /* Vietnam: UTC+07:00 all year */

/* The element name of an item of a list named name (the standard's pairs). */
static const char *singular(const char *name)
{
    static const char *const pairs[][2] = {
        {"services", "service"}, {"service_requests", "request"},
        {"errors", "error"},     {"attributes", "attribute"},
        {"values", "value"},     {"endpoints", "endpoint"},
        {"formats", "format"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
        if (!strcmp(name, pairs[i][0]))
            return pairs[i][1];
    return "item";
}

int o311_xml_text(gw_resp_t *rs, const char *s)
{
    size_t n = strlen(s);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        switch (c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        default:
            break;
        }
        if (rep) {
            rc = gw_resp_append(rs, rep, strlen(rep));
            i++;
            continue;
        }
        /* XML 1.0 holds tab, newline, return and no other C0 control. */
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            rc = gw_resp_append(rs, "\xEF\xBF\xBD", 3);
            i++;
            continue;
        }
        size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (c >= 0x80 && (i + len > n || !cpm_text_utf8_valid(s + i, len))) {
            rc = gw_resp_append(rs, "\xEF\xBF\xBD", 3);
            i++;
            continue;
        }
        /* U+FFFE and U+FFFF are not XML characters either. */
        if (len == 3 && c == 0xEF && (unsigned char)s[i + 1] == 0xBF &&
            (unsigned char)s[i + 2] >= 0xBE)
            rc = gw_resp_append(rs, "\xEF\xBF\xBD", 3);
        else
            rc = gw_resp_append(rs, s + i, len);
        i += len;
    }
    return rc;
}

static int xml_value(gw_resp_t *rs, const char *name, json_t *v);

static int xml_children(gw_resp_t *rs, const char *name, json_t *v)
{
    int rc = 0;
    if (json_is_array(v)) {
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it) if (rc == 0) rc = xml_value(rs, singular(name), it);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *it;
        json_object_foreach(v, k, it) if (rc == 0) rc = xml_value(rs, k, it);
    }
    return rc;
}

/* <name>v</name>; names are the module's own (never a client's). */
static int xml_value(gw_resp_t *rs, const char *name, json_t *v)
{
    char num[48];
    const char *text = NULL;
    if (json_is_null(v))
        return gw_resp_printf(rs, "<%s/>", name);
    if (json_is_string(v))
        text = json_string_value(v);
    else if (json_is_true(v))
        text = "true";
    else if (json_is_false(v))
        text = "false";
    else if (json_is_integer(v))
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v)), text = num;
    else if (json_is_real(v))
        snprintf(num, sizeof num, "%.7f", json_real_value(v)), text = num;
    if (gw_resp_printf(rs, "<%s>", name) != 0)
        return -1;
    int rc = text ? o311_xml_text(rs, text) : xml_children(rs, name, v);
    return rc == 0 ? gw_resp_printf(rs, "</%s>", name) : -1;
}

int o311_render(gw_resp_t *rs, o311_fmt_t fmt, int status, const char *root, json_t *v)
{
    if (!v) {
        rs->oom = true;
        return -1;
    }
    rs->status = status;
    rs->len = 0;
    int rc;
    if (fmt == O311_XML) {
        rs->content_type = "text/xml; charset=utf-8";
        rc = gw_resp_printf(rs, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        if (rc == 0)
            rc = xml_value(rs, root, v);
        if (rc == 0)
            rc = gw_resp_append(rs, "\n", 1);
    } else {
        rs->content_type = "application/json; charset=utf-8";
        char *s = json_dumps(v, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_ENCODE_ANY);
        rc = s ? gw_resp_append(rs, s, strlen(s)) : -1;
        if (rc == 0)
            rc = gw_resp_append(rs, "\n", 1);
        free(s);
    }
    json_decref(v);
    if (rc != 0)
        rs->oom = true;
    return rc;
}

int o311_error(gw_resp_t *rs, o311_fmt_t fmt, int status, const char *fmt_desc, ...)
{
    char desc[512];
    va_list ap;
    va_start(ap, fmt_desc);
    vsnprintf(desc, sizeof desc, fmt_desc, ap);
    va_end(ap);
    json_t *e = json_object();
    json_object_set_new(e, "code", json_integer(status));
    json_object_set_new(e, "description", json_string(desc));
    json_t *list = json_array();
    json_array_append_new(list, e);
    o311_render(rs, fmt, status, "errors", list);
    return 0;
}

const char *o311_time(int64_t ms, char buf[32])
{
    if (ms <= 0) {
        buf[0] = 0;
        return buf;
    }
    time_t t = (time_t)(ms / 1000) + VN_OFFSET_S;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%S+07:00", &tm);
    return buf;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int o311_parse_time(const char *s, int64_t *ms)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, off = VN_OFFSET_S;
    size_t n = strlen(s);
    if (n < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    const char *p = s + 10;
    if (*p == 'T' || *p == ' ') {
        if (strlen(p) < 9 || digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi) ||
            p[6] != ':' || digits(p + 7, 2, &sec) || h > 23 || mi > 59 || sec > 60)
            return -1;
        p += 9;
        if (*p == '.')
            for (p++; *p >= '0' && *p <= '9'; p++)
                ;
        if (*p == 'Z') {
            off = 0, p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (strlen(p) < 6 || digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) ||
                oh > 14 || om > 59)
                return -1;
            off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
            p += 6;
        } else {
            return -1; /* a time without a zone means nothing certain */
        }
    }
    if (*p)
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_mday != d) /* 31 February */
        return -1;
    *ms = ((int64_t)t - off) * 1000;
    return 0;
}
