/* job_err: why a job (or a template) was rejected -- a field path and a
 * message -- and the number formatting used in those messages. A leaf
 * module: the job and template code both build on it. */
#ifndef GENQ_JOB_ERR_H
#define GENQ_JOB_ERR_H

/* Why a job was rejected: field is the JSON path of the offending field
 * ("max_tokens", "messages[2].role", "metadata.a"), "" for the whole line;
 * msg is a human reason naming the offending value where useful. Both are
 * NUL-terminated valid UTF-8 (long values are cut at a character). */
struct job_err {
    char field[64];
    char msg[256];
};

/* Fill *err: field (cut to fit, at a character boundary) and a printf-style
 * message. Returns -1, so `return job_err_set(...)` reads naturally. err may
 * be NULL (then it only returns -1). */
int job_err_set(struct job_err *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write d in its shortest text that reads back as the same double: integral
 * values below 1e15 without exponent ("1500"), else %.15g..%.17g ("0.1",
 * "2.5", "1e+300"); "inf"/"-inf"/"nan" for non-finite values. Can't fail. */
void job_format_number(double d, char out[32]);

#endif
