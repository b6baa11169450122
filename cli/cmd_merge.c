// qrobust merge: combine results directories (shards, or runs on several machines).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "eval/results.h"

static void help(void) {
    puts("usage: qrobust merge DIR... --out OUT\n"
         "\n"
         "Appends to OUT (created if needed; it may already hold results) every\n"
         "generation and execution line of the DIRs whose key OUT does not have yet.\n"
         "The same key in two places is the same work: the first line seen wins; if\n"
         "their contents differ (other than timings), that is counted as a conflict and\n"
         "the exit status is 1. Torn last lines of interrupted runs are ignored.\n"
         "Merging is idempotent: merging the same directories again adds nothing.\n"
         "\n"
         "flags\n"
         "  --out OUT   the merged results directory (required)\n"
         "  --quiet     print nothing on success\n"
         "\n"
         "example (4 shards run side by side on one machine, then merged):\n"
         "  seq 0 3 | xargs -P 4 -I{} qrobust run --config study.json --shard {}/4 --out res/shard{} --quiet\n"
         "  qrobust merge res/shard0 res/shard1 res/shard2 res/shard3 --out res/all && qrobust report res/all");
}

int cmd_merge(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { help(); return 0; }
    const char *out = NULL;
    const char **dirs = calloc((size_t)argc, sizeof(char *));
    int nd = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = cli_flag_value(argc, argv, &i, "--out", &v);
        if (r < 0) { free(dirs); return 2; }
        if (r) out = v;
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if (!strncmp(argv[i], "--", 2)) { free(dirs); return cli_dief("merge: unknown flag '%s' (see qrobust merge --help)", argv[i]); }
        else dirs[nd++] = argv[i];
    }
    if (!out) { free(dirs); return cli_dief("merge: --out OUT is required"); }
    if (!nd) { free(dirs); return cli_dief("merge: no input directory given"); }
    QrErr e;
    // Validate every input before writing anything.
    QrStore *in = calloc((size_t)nd, sizeof(QrStore));
    for (int i = 0; i < nd; i++)
        if (qr_store_open(&in[i], dirs[i], 0, &e)) {
            for (int j = 0; j < i; j++) qr_store_close(&in[j]);
            free(in);
            free(dirs);
            return cli_die(&e);
        }
    QrStore o;
    int rc = 0;
    if (qr_store_open(&o, out, 1, &e)) {
        rc = cli_die(&e);
    } else {
        int added[2] = {0, 0}, ignored = 0;
        for (int i = 0; i < nd && !rc; i++) {
            ignored += in[i].n_torn + in[i].n_bad;
            for (int f = 0; f < 2 && !rc; f++)
                for (int k = 0; k < in[i].n[f]; k++) {
                    int r = qr_store_merge_line(&o, (QrStoreFile)f, in[i].lines[f][k], &e);
                    if (r < 0) { rc = cli_die(&e); break; }
                    added[f] += r;
                }
        }
        if (!rc && qr_store_sync(&o, &e)) rc = cli_die(&e);
        if (!rc) {
            if (!quiet)
                printf("merged %d director%s into %s: +%d generations, +%d executions (now %d and %d); "
                       "%d torn/unreadable line(s) ignored\n",
                       nd, nd == 1 ? "y" : "ies", out, added[0], added[1], o.n[0], o.n[1], ignored);
            if (o.n_conflict) {
                fprintf(stderr, "qrobust: merge: %d key(s) appear with different contents; kept the first of each\n", o.n_conflict);
                rc = 1;
            }
        }
        qr_store_close(&o);
    }
    for (int i = 0; i < nd; i++) qr_store_close(&in[i]);
    free(in);
    free(dirs);
    return rc;
}
