/* settings_print: what genq-worker's settings say about themselves --
 * where each came from (src_label), the API key's source (read_api_key)
 * and --print-config. Reads the table and values settings.c owns, through
 * settings_int.h. */
#include "fmacros.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "mask.h"
#include "settings.h"
#include "settings_int.h"

/* "default", "file PATH:LINE", "env NAME" or "flag --name", into out. */
void
src_label(const struct src *s, const struct opt *o, char *out, size_t outlen)
{
    switch (s->kind) {
    case SRC_FILE:
        snprintf(out, outlen, "file %s:%d", config_path, s->line);
        break;
    case SRC_ENV:
        snprintf(out, outlen, "env %s", o ? o->env : "GENQ_CONFIG");
        break;
    case SRC_FLAG:
        snprintf(out, outlen, "flag --%s%s",
                 o && o->type == T_BOOL && !*(const int *)o->ptr ? "no-" : "",
                 o ? o->name : "config");
        break;
    default:
        snprintf(out, outlen, "default");
        break;
    }
}

/* Read the API key, strongest source first: the environment, an
 * api-key-file given by flag or environment, the config file's api-key or
 * api-key-file. Returns a malloc'd copy or NULL (none); where it came from
 * goes into where. Exits 2 on an unreadable or empty key file. */
char *
read_api_key(char *where, size_t wherelen)
{
    const struct wcfg *cfg = settings_cfg();
    const char *env[] = {"GENQ_API_KEY", cfg->provider == LLM_OPENAI
                                             ? "OPENAI_API_KEY"
                                             : "ANTHROPIC_API_KEY"};
    int kf = opt_find("api-key-file"), ak = opt_find("api-key");
    char buf[4096], label[600];
    size_t n;
    FILE *f;

    snprintf(where, wherelen, "not set");
    for (int i = 0; i < 2; i++) {
        const char *v = getenv(env[i]);
        if (v && *v) {
            snprintf(where, wherelen, "env %s", env[i]);
            return strdup(v);
        }
    }
    if (!key_file || srcs[kf].kind == SRC_FILE) {
        if (file_api_key) {
            src_label(&srcs[ak], &settings_opts[ak], where, wherelen);
            return strdup(file_api_key);
        }
        if (!key_file)
            return NULL;
    }
    src_label(&srcs[kf], &settings_opts[kf], label, sizeof(label));
    f = fopen(key_file, "r");
    if (!f) {
        fprintf(stderr, "genq-worker: api-key-file %s (%s): %s\n", key_file,
                label, strerror(errno));
        exit(2);
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 &&
           (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (n == 0) {
        fprintf(stderr, "genq-worker: api-key-file %s (%s) is empty\n",
                key_file, label);
        exit(2);
    }
    snprintf(where, wherelen, "api-key-file %s, %s", key_file, label);
    char *k = strdup(buf);
    explicit_bzero(buf, sizeof(buf));
    return k;
}

static void
print_row(const char *key, const char *val, const char *where)
{
    printf("%-18s = %s ; %s\n", key, val, where);
}

/* --print-config: the effective settings as an INI file, each followed by
 * where it came from; secrets masked. key_where: see read_api_key(). */
void
print_config(const char *key_where)
{
    const struct wcfg *cfg = settings_cfg();
    static const char *const auth_names[] = {"api-key", "bearer", "jwt"};
    const char *pre, *post, *pw;
    char val[1200], where[1300];

    src_label(&config_src, NULL, where, sizeof(where));
    printf("; genq-worker --print-config: the effective settings; after ';'\n"
           "; where each came from (flags > environment > config file > "
           "defaults)\n");
    if (config_path)
        printf("; config file: %s (%s)\n", config_path, where);
    else
        printf("; config file: none\n");
    printf("[worker]\n");
    for (int i = 0; i < settings_nopts; i++) {
        const struct opt *o = &settings_opts[i];
        int derived = srcs[i].kind == SRC_DEFAULT;

        src_label(&srcs[i], o, where, sizeof(where));
        switch (o->type) {
        case T_QUEUES:
            val[0] = '\0';
            for (int q = 0; q < (o->ptr ? cfg->nbatch_queues : cfg->nqueues);
                 q++) {
                size_t n = strlen(val);
                snprintf(val + n, sizeof(val) - n, "%s%s", q ? "," : "",
                         o->ptr ? cfg->batch_queues[q] : cfg->queues[q]);
            }
            break;
        case T_CLAIM:
            for (int c = 0; c < cfg->jwt.nclaims; c++)
                print_row(o->name, cfg->jwt.claims[c], where);
            if (cfg->jwt.nclaims == 0)
                printf("; %s (not set)\n", o->name);
            continue;
        case T_SECRET:
            if (!cfg->api_key) {
                printf("; %s (not set)\n", o->name);
                continue;
            }
            secret_masked(cfg->api_key, val, sizeof(val));
            snprintf(where, sizeof(where), "%s", key_where);
            break;
        case T_INT:
            snprintf(val, sizeof(val), "%d", *(const int *)o->ptr);
            break;
        case T_LONG:
            snprintf(val, sizeof(val), "%ld", *(const long *)o->ptr);
            break;
        case T_DOUBLE:
            snprintf(val, sizeof(val), "%g", *(const double *)o->ptr);
            break;
        case T_BOOL:
            snprintf(val, sizeof(val), "%s",
                     *(const int *)o->ptr ? "true" : "false");
            break;
        case T_STR:
        case T_CHOICE: {
            const char *s = *(const char *const *)o->ptr;
            if (o->ptr == &auth_s)
                s = auth_names[cfg->auth];
            if (!s) {
                printf("; %s (not set)\n", o->name);
                continue;
            }
            if (o->ptr == &redis_url)
                url_masked(s, val, sizeof(val));
            else if (o->ptr == &cfg->alert_webhook)
                webhook_masked(s, val, sizeof(val));
            else
                snprintf(val, sizeof(val), "%s", s);
            if (derived && (o->ptr == &cfg->api_base || o->ptr == &cfg->model ||
                            o->ptr == &auth_s))
                snprintf(where, sizeof(where), "default for provider %s",
                         provider_s);
            break;
        }
        }
        if (o->ptr == &cfg->claim_batch && claim_clamped) {
            size_t n = strlen(where);
            snprintf(where + n, sizeof(where) - n, ", lowered to concurrency");
        } else if (o->ptr == &cfg->claim_batch && derived) {
            snprintf(where, sizeof(where),
                     "default: concurrency/10 in 100..1000");
        }
        print_row(o->name, val, where);
        if (o->ptr == &redis_url && !url_secret(redis_url, &pre, &post) &&
            (pw = getenv("GENQ_REDIS_PASSWORD")) != NULL && *pw)
            printf("; redis password: **** (env GENQ_REDIS_PASSWORD)\n");
        if (o->ptr == &redis_url && !strncmp(redis_url, "sentinel://", 11) &&
            (pw = getenv("GENQ_SENTINEL_PASSWORD")) != NULL && *pw)
            printf("; sentinel password: **** (env GENQ_SENTINEL_PASSWORD)\n");
    }
    budget_cfg_print();
}
