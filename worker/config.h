/* genq-worker's configuration file: INI (Debian's libinih) with one
 * [worker] section whose keys are the long flags' names, and an optional
 * [model_class] section (MODEL = CLASS: the limiter's key, limiter.h); each key
 * goes to a caller-supplied setter, and errors name the file and line. */
#ifndef GENQ_CONFIG_H
#define GENQ_CONFIG_H

#include <stddef.h>

/* Longest line and largest file accepted. */
#define CONFIG_MAX_LINE  4096
#define CONFIG_MAX_BYTES (1024 * 1024)

/* What a setter says about one key. */
enum config_verdict {
    CONFIG_OK,      /* accepted */
    CONFIG_SECRET,  /* accepted, and the value is a secret: the file must
                       not be readable by group or others */
    CONFIG_UNKNOWN, /* no such key (err may hold a hint, or be empty) */
    CONFIG_BAD      /* bad value: err says why, naming key and value */
};

/* Called once per key of [worker], in file order. value is owned by the
 * struct config and stays valid until config_free(); line is 1-based.
 * Must not print; writes any message into err (errlen bytes). */
typedef enum config_verdict (*config_set_fn)(void *ud, const char *key,
                                             const char *value, int line,
                                             char *err, size_t errlen);

/* A loaded file: owns its path and every value handed to the setter. */
struct config {
    char *path;
    char **values;
    size_t nvalues, cap;
    char **mclass; /* [model_class] pairs: model, class (into values) */
    size_t nmclass;
};

/* Read the INI file at path into cf (zero it first) and call set for each
 * key. Returns 0, or -1 with "PATH:LINE: reason" or "PATH: reason" in err:
 * unreadable or non-regular file, NUL bytes, over-long line, syntax error,
 * unknown section, key outside [worker], unknown key, bad value, or a
 * secret in a file readable by group or others (mode & 077). Values never
 * appear in err unless the setter put them there. Either way cf owns what
 * it holds; release it with config_free(). */
int config_load(struct config *cf, const char *path, config_set_fn set,
                void *ud, char *err, size_t errlen);

/* A key of a section other than [worker] (e.g. [queue.NAME],
 * [price.MODEL]): the same contract as config_set_fn. Also called with key
 * and value NULL for each section header: CONFIG_OK when it knows the
 * section, else CONFIG_UNKNOWN with the known sections in err. */
typedef enum config_verdict (*config_section_fn)(void *ud, const char *section,
                                                 const char *key,
                                                 const char *value, int line,
                                                 char *err, size_t errlen);

/* config_load(), and keys of any other section go to section_set. */
int config_load_sections(struct config *cf, const char *path, config_set_fn set,
                         config_section_fn section_set, void *ud, char *err,
                         size_t errlen);
/* The [model_class] class of model, or NULL (none, or model NULL).
 * Borrowed from cf. */
const char *config_model_class(const struct config *cf, const char *model);

/* Wipe (values may be secrets) and free what cf owns; cf may be zeroed. */
void config_free(struct config *cf);

#endif
