#!/bin/sh
# Regenerates common/pack_zdict.c (the entropy tables of the payload
# dictionary, scripts/pack_zdict_gen.c) from sample jobs: ~300-byte pieces
# of genq's own man pages as job prompts (generic English about genq,
# nothing from the benchmarks' requests), as they were at commit REV
# (default 5114e0f: the committed tables, reproduced byte for byte). Only
# for a new tag: the committed tables are frozen (common/pack.h).
# Usage: scripts/pack-zdict.sh [REV]
set -eu
cd "$(dirname "$0")/.."
rev=${1:-5114e0f}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git show "$rev:man/genq.1" >"$tmp/genq.1"
git show "$rev:man/genq-worker.1" >"$tmp/genq-worker.1"
python3 - "$tmp/genq.1" "$tmp/genq-worker.1" >"$tmp/samples" <<'PY'
import json, random, re, sys
random.seed(1)
text = " ".join(l for f in sys.argv[1:] for l in open(f).read().split("\n")
                if l and not l.startswith((".", "\\")))
words = re.sub(r"\s+", " ", re.sub(r"\\-", "-", re.sub(r"\\f[BIRP]", "", text))).split(" ")
i = 0
for _ in range(1000):
    k = random.randint(25, 60)
    if i + k >= len(words):
        i = random.randint(0, 200)
    d = {"prompt": " ".join(words[i:i + k]),
         "max_tokens": random.choice([500, 800, 1000, 1500, 2000])}
    i += k
    if random.random() < 0.7:
        d["metadata"] = {random.choice(["article_id", "user_id", "order"]):
                         random.randint(1, 100000)}
    if random.random() < 0.3:
        d["model"] = random.choice(["gpt-4o-mini", "claude-haiku-4-5"])
    print(json.dumps(d, separators=(",", ":"))[1:])
PY
cc -O2 -Icommon -o "$tmp/gen" scripts/pack_zdict_gen.c common/pack_dict.c -lzstd
"$tmp/gen" <"$tmp/samples" >common/pack_zdict.c
echo "common/pack_zdict.c: $(grep -o "0x[0-9a-f][0-9a-f]," common/pack_zdict.c | wc -l) bytes of tables"
