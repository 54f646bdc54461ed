/* genq-worker: load the settings (settings.c), then run one event loop or
 * a supervised pool of pre-forked workers (pool.c). */
#include "fmacros.h"

#include <signal.h>
#include <stdio.h>

#include <curl/curl.h>

#include "fdlimit.h"
#include "pool.h"
#include "scripts.h"
#include "settings.h"

int
main(int argc, char **argv)
{
    struct wcfg *cfg;
    int rc;

    if (settings_load(argc, argv, &rc))
        return rc;
    cfg = settings_cfg();
    signal(SIGPIPE, SIG_IGN);
    fdlimit_ensure((long)cfg->concurrency + FDLIMIT_SPARE);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
        scripts_init() < 0) {
        fprintf(stderr, "genq-worker: initialisation failed\n");
        settings_free();
        return 1;
    }
    rc = settings_processes() > 1 ? pool_run(cfg, settings_processes())
                                  : pool_run_one(cfg);
    scripts_free();
    curl_global_cleanup();
    settings_free();
    return rc;
}
