#include "ctl_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int ctl_common_opt(int opt, ctl_opts_t *o)
{
    switch (opt) {
    case 1001:
        o->json = true;
        return 1;
    case 1002:
        o->home = optarg;
        return 1;
    case 1003:
        o->as = optarg;
        return 1;
    default:
        return 0;
    }
}

int ctl_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    int opt = getopt_long(argc, argv, shortopts, longopts, NULL);
    return opt == -1 ? 0 : opt;
}

int ctl_parse_time(const char *s, int64_t *ms)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && *end == 0) {
        *ms = v;
        return 0;
    }
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%d", &tm);
    if (!rest)
        return -1;
    if (*rest == 'T' || *rest == ' ') {
        const char *r2 = strptime(rest + 1, "%H:%M:%S", &tm);
        if (!r2)
            r2 = strptime(rest + 1, "%H:%M", &tm);
        rest = r2;
    }
    if (!rest || *rest)
        return -1;
    *ms = ((int64_t)timegm(&tm) - 7 * 3600) * 1000;
    return 0;
}

int ctl_usage(const char *text, int code)
{
    fputs(text, code == 0 ? stdout : stderr);
    return code;
}
