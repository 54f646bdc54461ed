/* settings: genq-worker's settings from defaults, a --config INI file, the
 * environment and flags, and the API key. One set per process, held by
 * settings.c from settings_load() to settings_free(). */
#ifndef GENQ_SETTINGS_H
#define GENQ_SETTINGS_H

#include "worker.h"

/* Load every setting, start logging, read the API key. Returns 0 when the
 * worker should run, or 1 when main should exit at once with *exit_code
 * (2 after a bad setting, whose message is printed; 0 or 1 after
 * --print-config). --help, --version and --error-classes print and exit()
 * here. */
int settings_load(int argc, char **argv, int *exit_code);

/* The settings, valid from settings_load() to settings_free(). */
struct wcfg *settings_cfg(void);

/* --processes. */
int settings_processes(void);

/* Wipe the API key and free what the config file held. */
void settings_free(void);

/* SIGHUP: read the --config file again and take its budget, price and
 * anomaly settings ([worker] keys not overridden by the environment or a
 * flag, [queue.NAME], [price.MODEL]); nothing else changes. Returns 0, or
 * -1 with the reason in err (the old values stay). */
int settings_reload(char *err, size_t errlen);

/* The --help text. */
extern const char settings_usage_text[];

/* Print the error-class table as Markdown (--error-classes). */
void settings_print_error_classes(void);

#endif
