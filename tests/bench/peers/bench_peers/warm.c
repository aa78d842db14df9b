/* bench_peers warm: new memory touched and given back just before a phase.
 *
 * This machine is a virtual machine whose balloon device reports the
 * guest's free memory to the host (virtio_balloon's free page reporting):
 * the host takes back every 2 MiB block the guest has left free for a
 * second or two, and the guest's next touch of such a page stops the core
 * while the host finds and zeroes a page for it. Measured here (2026-12-03):
 * writing 1 GB into a new file's page cache takes 2.6 s in that state and
 * 0.2 s when the same memory was freed a moment before, about 10 us for each
 * new 4 KiB page. A phase that grows its files' page cache (every system
 * that stores records does) pays that on top of its own work, and the
 * system that grows more per record pays more: cpmesh's intake store grows
 * some 3 KiB per complaint. Bare metal has no such cost. So before each
 * phase of every system, run_peers touches and frees this much memory (all
 * systems alike): the kernel hands the phase's new pages from it while the
 * reporting has not taken it back. The time it took is also this machine's
 * price of new memory, printed for the reader. */
#include "peers.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int peers_warm(size_t mb, double *us_per_page)
{
    size_t len = mb << 20;
    int64_t t0 = mono_us();
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    for (size_t off = 0; off < len; off += 4096) /* one write per page: the guest takes it */
        ((volatile unsigned char *)p)[off] = 1;
    munmap(p, len); /* back to the guest's free lists, not yet reported */
    *us_per_page = (double)(mono_us() - t0) / (double)(len / 4096);
    return 0;
}
