/* bench: what every part of bench_intake shares: the mesh's home folder as
 * loaded once (env_t), the clocks and CPU counters the figures come from, and
 * the complaints every phase sends. */
#ifndef BENCH_INTAKE_BENCH_H
#define BENCH_INTAKE_BENCH_H

#include "cpm_keys.h"
#include "cpm_place.h"
#include "cpm_registry.h"
#include "cpm_rules.h"

#include <stdbool.h>
#include <stdint.h>

#define MAX_CLIENTS 16

/* What every phase shares, loaded once from the home folder. */
typedef struct {
    char home[1024];
    const char *node, *as;
    char self_svc[200];          /* "<node>/intake" */
    char routing_member[128];    /* who runs routing */
    char inspection_member[128]; /* unused but kept for messages */
    uint8_t root_pk[32];
    cpm_registry_t *reg;
    cpm_rules_t *rules;
    cpm_places_t *places;        /* etc/reform-2025, as intake places complaints */
    uint8_t consumer_secret[32]; /* keys/consumer.key, as intake links consumers */
    bool have_consumer_secret;
    cpm_identity_t id;
    char ticket_prefix[24];
    char run_id[9];           /* keeps client refs unique across runs */
    int intake_pid;           /* for CPU accounting; 0 when unknown */
    int routing_pid;          /* the routing service intake delivers to; 0 when unknown */
    int other_pids[32];       /* every other service of the mesh */
    char other_names[32][64]; /* "node/service" of each */
    int nother;
} env_t;

/* Fills e from e->home, e->node and e->as (the caller sets those): root key,
 * registry, routing rules, places, consumer key, identity, the service pids.
 * 0, or -1 after saying why on stderr. env_free releases what it loaded. */
int env_load(env_t *e);
void env_free(env_t *e);

int64_t mono_us(void);
int64_t thread_cpu_us(void);
/* utime + stime of pid in microseconds, or -1. */
int64_t proc_cpu_us(int pid);
/* Busy time of the whole machine (every process, not only ours), in
 * microseconds of CPU, from /proc/stat; -1 when unreadable. */
int64_t machine_busy_us(void);
/* CPU of the mesh's other services, summed; -1 when none is readable. */
int64_t others_cpu_us(const env_t *e);

/* Complaint i of stream tag: realistic sizes (about 512 bytes packed, the
 * record size of issue 13's comparison with the peers). The strings point
 * into bufs, which must outlive c. One consumer (one phone) files them all
 * about 97 businesses, so that routing links nearly every one to an earlier
 * one; with CPM_BENCH_CONSUMERS=distinct in the environment each has a phone
 * of its own (no links: what a city's spread of consumers costs). */
typedef struct {
    char business[64], ref[64], desc[512], phone[16];
} complaint_bufs_t;

void make_complaint(const env_t *e, const char *tag, uint64_t i, Cpm__Complaint *c,
                    complaint_bufs_t *b);

#endif
