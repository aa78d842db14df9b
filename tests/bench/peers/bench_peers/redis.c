/* redis: XADD of the complaint's bytes to one stream; with a window above 1,
 * pipelined (hiredis appends, replies in order). */
#include "peers.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM "complaints"

static redisContext *connect_to(const char *target, char *why, size_t n)
{
    char host[256];
    const char *colon = strrchr(target, ':');
    if (!colon || (size_t)(colon - target) >= sizeof host) {
        snprintf(why, n, "redis target %s: expected host:port", target);
        return NULL;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - target), target);
    redisContext *c = redisConnect(host, atoi(colon + 1));
    if (!c || c->err) {
        snprintf(why, n, "redis %s: %s", target, c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    return c;
}

static void *r_open(const char *target, int window, char *why, size_t n)
{
    (void)window;
    return connect_to(target, why, n);
}

static int r_send(void *p, const uint8_t *buf, size_t len, char *why, size_t n)
{
    if (redisAppendCommand(p, "XADD " STREAM " * body %b", buf, len) != REDIS_OK) {
        snprintf(why, n, "redis append: %s", ((redisContext *)p)->errstr);
        return -1;
    }
    return 0;
}

static int r_recv(void *p, char *why, size_t n)
{
    redisReply *r = NULL;
    if (redisGetReply(p, (void **)&r) != REDIS_OK || !r) {
        snprintf(why, n, "redis: %s", ((redisContext *)p)->errstr);
        return -1;
    }
    int rc = r->type == REDIS_REPLY_STRING ? 0 : -1; /* the entry's id */
    if (rc)
        snprintf(why, n, "redis XADD: %s", r->type == REDIS_REPLY_ERROR ? r->str : "no id");
    freeReplyObject(r);
    return rc;
}

static void r_close(void *p)
{
    redisFree(p);
}

const peer_ops_t redis_ops = {r_open, r_send, r_recv, r_close};

int redis_prepare(const char *target, char *why, size_t n)
{
    redisContext *c = connect_to(target, why, n);
    if (!c)
        return -1;
    redisReply *r = redisCommand(c, "DEL " STREAM);
    int rc = r && r->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (rc)
        snprintf(why, n, "redis DEL: %s", r ? r->str : c->errstr);
    freeReplyObject(r);
    redisFree(c);
    return rc;
}
