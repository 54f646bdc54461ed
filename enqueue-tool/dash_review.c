/* genq dashboard: review (approve / reject), the hook for the review state
 * that lands with issue 14. Until then the queues' stats documents carry no
 * "review" member, the page keeps its review section hidden, and these
 * handlers answer 404 "not available". To fill the hook: list the entries
 * awaiting review of ?queue= in dash_api_review() (the document
 * `genq review ls --json` prints, as {"queue", "entries": [...]}), and run
 * the CLI's approve/reject code on body {"queue", "ids": [...]} in
 * dash_api_review_decide() (authorisation and CSRF are already checked by
 * dash_http.c); app.js shows the section once a stats document has a
 * "review" count and calls exactly these two endpoints. */
#include "fmacros.h"

#include "dash.h"

enum MHD_Result
dash_api_review(struct dash_req *r)
{
    enum MHD_Result ret = MHD_NO;

    if (!dash_queue_arg(r, &ret))
        return ret;
    return dash_error(r, MHD_HTTP_NOT_FOUND,
                      "review is not available: this genq has no review "
                      "state");
}

enum MHD_Result
dash_api_review_decide(struct dash_req *r, cJSON *body, int approve)
{
    (void)body;
    return dash_error(r, MHD_HTTP_NOT_FOUND,
                      "review is not available: this genq has no review "
                      "state (%s)",
                      approve ? "approve" : "reject");
}
