/* settings_int: private to worker/settings.c and worker/settings_print.c --
 * the option table's types, where each setting came from, and the values
 * both files read. settings.c owns every object declared here (static
 * storage or strings held by its config file until settings_free());
 * nobody else includes this header. */
#ifndef GENQ_SETTINGS_INT_H
#define GENQ_SETTINGS_INT_H

#include <stddef.h>

enum opt_type {
    T_INT,
    T_LONG,
    T_DOUBLE,
    T_STR,
    T_CHOICE, /* one of opt.choices */
    T_BOOL,
    T_QUEUES, /* comma-separated queue names; repeatable */
    T_CLAIM,  /* NAME=VALUE; repeatable */
    T_SECRET  /* config file only, never a flag */
};

/* Where a setting came from, in rising precedence. */
enum src_kind { SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_FLAG };

struct src {
    enum src_kind kind;
    int line; /* SRC_FILE */
};

struct opt {
    const char *name; /* long flag and config-file key */
    const char *env;  /* NULL: none */
    enum opt_type type;
    void *ptr;
    double lo, hi;
    const char *choices; /* T_CHOICE: "a|b|c" */
};

/* The option table (settings.c's opts[]) and its length. */
extern const struct opt *const settings_opts;
extern const int settings_nopts;
/* Where each opts[i] came from, indexed like settings_opts. */
extern struct src srcs[];
/* Index of the option called name, or -1. */
int opt_find(const char *name);

/* Values the table points at that are not in struct wcfg. */
extern const char *redis_url;
extern const char *provider_s;
extern const char *auth_s;
extern const char *key_file;     /* api-key-file */
extern const char *file_api_key; /* api-key from the config file */
extern const char *config_path;  /* --config; NULL: none */
extern struct src config_src;    /* where --config came from */
extern int claim_clamped;        /* claim-batch lowered to concurrency */

/* "default", "file PATH:LINE", "env NAME" or "flag --name" for s into out;
 * o NULL means the --config setting itself. */
void src_label(const struct src *s, const struct opt *o, char *out,
               size_t outlen);

/* Read the API key, strongest source first: the environment, an
 * api-key-file given by flag or environment, the config file's api-key or
 * api-key-file. Returns a malloc'd copy (the caller frees, after wiping it)
 * or NULL (none); where it came from goes into where. Exits 2 on an
 * unreadable or empty key file. */
char *read_api_key(char *where, size_t wherelen);

/* --print-config: the effective settings as an INI file to stdout, each
 * followed by where it came from; secrets masked. key_where: from
 * read_api_key(). */
void print_config(const char *key_where);

#endif
