/* pg: one INSERT of the complaint's bytes per transaction (autocommit); with
 * a window above 1, libpq's pipeline mode with a sync point after every
 * INSERT, so that each one is still its own transaction. */
#include "peers.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

#define INSERT "INSERT INTO complaints (body) VALUES ($1)"

typedef struct {
    PGconn *c;
    int window;
} pg_t;

static void pg_close(void *p)
{
    pg_t *g = p;
    if (g)
        PQfinish(g->c);
    free(g);
}

static void *pg_open(const char *conninfo, int window, char *why, size_t n)
{
    pg_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->window = window;
    g->c = PQconnectdb(conninfo);
    PGresult *r = NULL;
    if (PQstatus(g->c) == CONNECTION_OK)
        r = PQprepare(g->c, "ins", INSERT, 1, (const Oid[]){17}); /* bytea */
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(why, n, "postgresql: %s", PQerrorMessage(g->c));
        PQclear(r);
        pg_close(g);
        return NULL;
    }
    PQclear(r);
    if (window > 1 && PQenterPipelineMode(g->c) != 1) {
        snprintf(why, n, "postgresql pipeline mode: %s", PQerrorMessage(g->c));
        pg_close(g);
        return NULL;
    }
    return g;
}

static int pg_send(void *p, const uint8_t *buf, size_t len, char *why, size_t n)
{
    pg_t *g = p;
    const char *vals[1] = {(const char *)buf};
    int lens[1] = {(int)len}, fmts[1] = {1};
    if (PQsendQueryPrepared(g->c, "ins", 1, vals, lens, fmts, 0) != 1 ||
        (g->window > 1 && PQpipelineSync(g->c) != 1)) { /* the sync ends the transaction */
        snprintf(why, n, "postgresql send: %s", PQerrorMessage(g->c));
        return -1;
    }
    return 0;
}

static int pg_recv(void *p, char *why, size_t n)
{
    pg_t *g = p;
    int ok = 0;
    for (;;) { /* the INSERT's result, NULL, and in a pipeline the sync's result */
        PGresult *r = PQgetResult(g->c);
        if (!r) {
            if (g->window > 1)
                continue; /* the sync point follows */
            break;
        }
        ExecStatusType st = PQresultStatus(r);
        PQclear(r);
        if (st == PGRES_COMMAND_OK)
            ok = 1;
        else if (st == PGRES_PIPELINE_SYNC)
            break;
        else {
            snprintf(why, n, "postgresql insert: %s", PQerrorMessage(g->c));
            return -1;
        }
    }
    if (!ok)
        snprintf(why, n, "postgresql: no result for an insert");
    return ok ? 0 : -1;
}

const peer_ops_t pg_ops = {pg_open, pg_send, pg_recv, pg_close};

int pg_prepare(const char *conninfo, char *why, size_t n)
{
    PGconn *c = PQconnectdb(conninfo);
    PGresult *r =
        PQstatus(c) == CONNECTION_OK
            ? PQexec(c, "SET client_min_messages = warning; DROP TABLE IF EXISTS complaints; "
                        "CREATE TABLE complaints "
                        "(id bigserial PRIMARY KEY, body bytea NOT NULL)")
            : NULL;
    int rc = r && PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc)
        snprintf(why, n, "postgresql: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return rc;
}
