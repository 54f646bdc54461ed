/* pool: running the worker -- one event loop in this process, or a pool
 * of N pre-forked processes under a supervisor that forwards SIGTERM and
 * SIGINT and restarts a child that dies (backing off while it keeps dying
 * young). */
#include "fmacros.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "clustersync.h"
#include "log.h"
#include "pool.h"
#include "rclient.h"
#include "rconn.h"

int
pool_run_one(const struct wcfg *cfg)
{
    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    struct worker *w;
    int rc;

    if (!loop) {
        log_msg(LOG_ERROR, "cannot create the event loop");
        return 1;
    }
    w = worker_new(loop, cfg);
    if (!w) {
        log_msg(LOG_ERROR, "cannot start the worker (out of memory or curl)");
        return 1;
    }
    log_kv(LOG_INFO, "worker started", "provider",
           llm_provider_name(cfg->provider), "queues", cfg->queues[0], NULL);
    ev_run(loop, 0);
    rc = worker_exit_code(w);
    worker_free(w);
    ev_loop_destroy(loop);
    return rc;
}

/* Child `index` of a pool serves its metrics on the configured port plus
 * its index, so every child can be scraped (HOST:9100 → :9100, :9101, …). */
static void
child_metrics_addr(struct wcfg *cfg, int index)
{
    static char buf[300];
    const char *colon;
    long port;

    if (!cfg->metrics_addr || index == 0)
        return;
    colon = strrchr(cfg->metrics_addr, ':');
    if (!colon)
        return;
    port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port + index > 65535)
        return;
    snprintf(buf, sizeof(buf), "%.*s:%ld", (int)(colon - cfg->metrics_addr),
             cfg->metrics_addr, port + index);
    cfg->metrics_addr = buf;
}

/* The supervisor of a pre-forked pool. SIGTERM, SIGINT and SIGCHLD are
 * blocked and taken with sigtimedwait(), so no signal slips between a check
 * and a wait: every SIGTERM/SIGINT/SIGHUP is forwarded to the children (a
 * second one of SIGTERM/SIGINT makes them hand back at once), a child that
 * dies is restarted after a delay that doubles while it keeps dying young
 * (1 s, 2 s, ... 30 s); one refused by the layout check (RCONN_EXIT_LAYOUT)
 * stops the pool. */
static pid_t
spawn(struct wcfg *cfg, int index, const sigset_t *oldmask)
{
    pid_t pid = fork();

    if (pid == 0) {
        sigprocmask(SIG_SETMASK, oldmask, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_IGN); /* until the worker's own handler */
        child_metrics_addr(cfg, index);
        exit(pool_run_one(cfg));
    }
    return pid;
}

/* A Redis of a layout version this genq does not know refuses every child
 * alike: ask once, before forking, and say it once. Any other failure
 * (Redis down) is left to the children, which keep reconnecting. */
static int
layout_refused(const struct wcfg *cfg)
{
    char err[512];
    redisContext *c = rclient_connect(&cfg->redis, 2.0, err, sizeof(err));

    csync_close(); /* Redis Cluster: no connection inherited by children */
    if (c) {
        redisFree(c);
        return 0;
    }
    if (errno != EPROTONOSUPPORT)
        return 0;
    log_msg(LOG_ERROR, "%s", err);
    return 1;
}

int
pool_run(struct wcfg *cfg, int n)
{
    pid_t *kids = calloc((size_t)n, sizeof(pid_t));
    struct timespec *due = calloc((size_t)n, sizeof(struct timespec));
    time_t *born = calloc((size_t)n, sizeof(time_t));
    double *delay = calloc((size_t)n, sizeof(double));
    sigset_t set, old;
    int alive = 0, rc = 0, stopping = 0, waiting = 0;

    if (!kids || !due || !born || !delay || layout_refused(cfg)) {
        rc = kids && due && born && delay ? RCONN_EXIT_LAYOUT : 1;
        free(kids);
        free(due);
        free(born);
        free(delay);
        return rc;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);
    for (int i = 0; i < n; i++) {
        kids[i] = spawn(cfg, i, &old);
        born[i] = time(NULL);
        delay[i] = 1.0;
        if (kids[i] > 0)
            alive++;
    }
    while (alive > 0 || (waiting > 0 && !stopping)) {
        struct timespec now, tmo = {1, 0};
        int sig, st;
        pid_t pid;

        /* sleep until a signal or the next restart is due */
        clock_gettime(CLOCK_MONOTONIC, &now);
        for (int i = 0; i < n; i++) {
            if (kids[i] != 0 || due[i].tv_sec == 0)
                continue;
            double left = (double)(due[i].tv_sec - now.tv_sec) +
                          (double)(due[i].tv_nsec - now.tv_nsec) / 1e9;
            if (left < 0)
                left = 0;
            if (left < (double)tmo.tv_sec + (double)tmo.tv_nsec / 1e9) {
                tmo.tv_sec = (time_t)left;
                tmo.tv_nsec = (long)((left - (double)tmo.tv_sec) * 1e9);
            }
        }
        sig = sigtimedwait(&set, NULL, &tmo);
        if (sig == SIGHUP) /* reload (budget.c): each child re-reads */
            for (int i = 0; i < n; i++)
                if (kids[i] > 0)
                    kill(kids[i], SIGHUP);
        if (sig == SIGTERM || sig == SIGINT) {
            stopping = 1;
            for (int i = 0; i < n; i++)
                if (kids[i] > 0)
                    kill(kids[i], SIGTERM);
        }
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            for (int i = 0; i < n; i++) {
                if (kids[i] != pid)
                    continue;
                kids[i] = 0;
                alive--;
                if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                    continue;
                if (WIFEXITED(st) && WEXITSTATUS(st) == RCONN_EXIT_LAYOUT) {
                    /* the child said why; every restart would be refused */
                    rc = RCONN_EXIT_LAYOUT;
                    if (!stopping)
                        for (int j = 0; j < n; j++)
                            if (kids[j] > 0)
                                kill(kids[j], SIGTERM);
                    stopping = 1;
                    continue;
                }
                if (stopping) {
                    if (rc == 0)
                        rc = 1;
                    continue;
                }
                {
                    char how[32], wait_s[16];
                    double d;
                    if (time(NULL) - born[i] >= 10)
                        delay[i] = 1.0;
                    d = delay[i];
                    delay[i] = delay[i] * 2 > 30 ? 30 : delay[i] * 2;
                    if (WIFSIGNALED(st))
                        snprintf(how, sizeof(how), "signal %d", WTERMSIG(st));
                    else
                        snprintf(how, sizeof(how), "exit %d", WEXITSTATUS(st));
                    snprintf(wait_s, sizeof(wait_s), "%.0f", d);
                    log_kv(LOG_WARN, "worker process died; restarting it",
                           "how", how, "restart_in_s", wait_s, NULL);
                    clock_gettime(CLOCK_MONOTONIC, &due[i]);
                    due[i].tv_sec += (time_t)d;
                    waiting++;
                }
            }
        }
        /* restarts that are due */
        clock_gettime(CLOCK_MONOTONIC, &now);
        for (int i = 0; i < n; i++) {
            if (kids[i] != 0 || due[i].tv_sec == 0)
                continue;
            if (stopping) {
                due[i].tv_sec = 0;
                waiting--;
                continue;
            }
            if (now.tv_sec > due[i].tv_sec || (now.tv_sec == due[i].tv_sec &&
                                               now.tv_nsec >= due[i].tv_nsec)) {
                due[i].tv_sec = 0;
                waiting--;
                kids[i] = spawn(cfg, i, &old);
                born[i] = time(NULL);
                if (kids[i] > 0)
                    alive++;
            }
        }
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    free(kids);
    free(due);
    free(born);
    free(delay);
    return rc;
}
