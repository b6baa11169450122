// Weak placeholders for commands whose stage has not landed yet. A strong
// definition of cmd_<name> in cli/cmd_<name>.c replaces the placeholder at link
// time (objects are linked directly, not through an archive, so this works).
#include "cli/cli.h"
#include <stdio.h>

static int not_yet(const char *name) {
    fprintf(stderr, "qrobust: '%s' is not implemented in this build yet\n", name);
    return 2;
}

#define STUB(n) \
    __attribute__((weak)) int cmd_##n(int argc, char **argv) { (void)argc; (void)argv; return not_yet(#n); }
STUB(generate)
STUB(tokenize)
STUB(info)
STUB(logits)
STUB(quantize)
STUB(attack)
STUB(evaluate)
STUB(run)
STUB(report)
STUB(merge)
STUB(bench)
