/* A process with several threads for the vmitools test guests (vmi-ps --threads).
 *
 * Usage: threads N     renames itself "threaded", starts N threads that sleep forever,
 *                      then sleeps forever itself: N + 1 tasks in one thread group.
 *
 * Built static by tests/guests/build-guests.sh (gcc -static -pthread) because the guest
 * has no C library. The name is set before the threads start, so every thread inherits
 * it as its comm.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

static void *sleep_forever(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

int main(int argc, char **argv)
{
    char *end;
    long n = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    if (argc != 2 || *end != '\0' || n < 0 || n > 1000) {
        fprintf(stderr, "usage: threads N (0..1000)\n");
        return 2;
    }
    prctl(PR_SET_NAME, "threaded", 0, 0, 0);
    for (long i = 0; i < n; i++) {
        pthread_t t;
        int err = pthread_create(&t, NULL, sleep_forever, NULL);
        if (err != 0) {
            fprintf(stderr, "threads: pthread_create: error %d\n", err);
            return 1;
        }
    }
    sleep_forever(NULL);
}
