// qrobust: does quantizing a code LLM make it more or less robust?
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"

#include "util/version.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} Command;

static const Command COMMANDS[] = {
    {"run", cmd_run, "run the whole robustness study (models x precisions x attacks x datasets), resumably"},
    {"report", cmd_report, "write tables (Markdown/CSV), SVG figures and an HTML page from a results directory"},
    {"merge", cmd_merge, "combine result directories of sharded runs"},
    {"generate", cmd_generate, "complete a prompt with a model (greedy or sampled)"},
    {"logits", cmd_logits, "print the last-position logits of one forward pass as JSON"},
    {"info", cmd_info, "describe a checkpoint: family, config, tensors, parameters, memory"},
    {"tokenize", cmd_tokenize, "print the token ids of a text (or decode ids)"},
    {"quantize", cmd_quantize, "write an int8 (LLM.int8) or nf4 checkpoint in bitsandbytes layout"},
    {"attack", cmd_attack, "write a perturbed dataset (char, word, sentence, ...)"},
    {"translate", cmd_translate, "translate / back-translate text with an mBART-50 checkpoint (sentence attack)"},
    {"evaluate", cmd_evaluate, "execute generated samples against a benchmark's tests (pass@k)"},
    {"bench", cmd_bench, "measure speed on a random-weight model of a real architecture"},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f) {
    fprintf(f,
            "qrobust %s — benchmark the robustness of quantized code LLMs\n\n"
            "usage: qrobust <command> [flags]      (qrobust <command> --help for its flags)\n\n"
            "commands:\n",
            QROBUST_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\nqrobust --version prints the version.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("qrobust %s\n", QROBUST_VERSION);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "qrobust: unknown command '%s' (qrobust --help lists them)\n", argv[1]);
    return 2;
}
