/* CPU time of a command for `make bench`: runs it, waits for it, and writes the user and system seconds it
 * (and the children it waited for) used, from getrusage, so that every program is measured alike without
 * touching its hot path.
 *
 * usage: cpu OUTFILE COMMAND [ARG...]
 * Writes "user U sys S" (seconds) to OUTFILE; exits with the command's status. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: cpu OUTFILE COMMAND [ARG...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("cpu: fork");
        return 1;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("cpu: exec");
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("cpu: wait4");
            return 1;
        }
    }
    FILE *f = fopen(argv[1], "w");
    if (f) {
        fprintf(f, "user %ld.%06ld sys %ld.%06ld\n", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
                (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
        fclose(f);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
