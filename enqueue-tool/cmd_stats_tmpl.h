/* cmd_stats_tmpl: genq stats --by template and the review counts of genq
 * stats (cmd_stats_tmpl.c); called from cmd_stats.c. */
#ifndef GENQ_CMD_STATS_TMPL_H
#define GENQ_CMD_STATS_TMPL_H

#include <cjson/cJSON.h>

#include "cli.h"

/* genq stats --by template: print the figures of every known queue (or
 * c->queue when explicit_queue). Returns the exit code. */
int stats_by_template(struct cli *c, int explicit_queue);

/* Results of queue now in state review (0 on any error). */
long long stats_review_count(struct cli *c, const char *queue);

/* Add "review" (that count) to doc (may be NULL); with warn, say on stderr
 * when results wait in review. */
void stats_review_note(struct cli *c, const char *queue, cJSON *doc, int warn);

#endif
