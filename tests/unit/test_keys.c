/* Unit tests for common/keys.c: the limit key id never carries a
 * credential of the API base (it is a Redis key, printed by genq limits
 * and a metrics label), and never a hash-tag brace. */
#include "fmacros.h"

#include <criterion/criterion.h>

#include "keys.h"

static void
expect_id(const char *base, const char *want)
{
    char id[256];

    key_limit_id(id, sizeof(id), "anthropic", base, "sonnet-4");
    cr_assert_str_eq(id, want, "base %s", base);
}

Test(keys, limit_id_drops_credentials_query_and_braces)
{
    expect_id("https://api.anthropic.com",
              "anthropic|https://api.anthropic.com|sonnet-4");
    expect_id("https://user:s3cret@proxy.example/v1",
              "anthropic|https://proxy.example/v1|sonnet-4");
    expect_id("https://proxy.example/v1?key=s3cret#frag",
              "anthropic|https://proxy.example/v1|sonnet-4");
    expect_id("http://127.0.0.1:8089/a@b", /* '@' in the path is kept */
              "anthropic|http://127.0.0.1:8089/a@b|sonnet-4");
    expect_id("http://h/{x} y", "anthropic|http://h/_x__y|sonnet-4");
}
