/* A CPU-bound user process for the vmitools KPTI test guest.
 *
 * Usage: spin          burns CPU in user mode forever, at the lowest priority
 *
 * With spinners runnable, a paused vCPU is most likely executing user code, so under
 * KPTI its CR3 is the user half of a page-table pair. Nice 19 leaves the guest's /init
 * almost all of the CPU while it still has work to do (listing /proc, printing).
 */
#include <sys/prctl.h>
#include <unistd.h>

int main(void)
{
    prctl(PR_SET_NAME, "spin", 0, 0, 0);
    if (nice(19) == -1) {
        /* not fatal: spinning at normal priority only slows the rest of the boot */
    }
    for (volatile unsigned long i = 0;; i++) {
    }
}
