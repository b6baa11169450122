// The CLI: `qrobust <command> [flags]`. Each command lives in cli/cmd_<name>.c
// and defines `int cmd_<name>(int argc, char **argv)` (argv[0] is the command
// name). cli/stubs.c holds weak placeholders so the binary links before every
// stage has landed; a real definition anywhere replaces the placeholder.
//
// Exit statuses: 0 success, 1 the work ran but found failures where that is
// the answer (e.g. tests failing), 2 bad input or usage (one line on stderr).
#pragma once
#include "util/err.h"

int cmd_generate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_attack(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_translate(int argc, char **argv);

// Prints "qrobust: <msg>" to stderr and returns 2 (use: `return cli_die(&err);`).
int cli_die(const QrErr *e);
// Same with a format string.
int cli_dief(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Flag helpers. Flags are `--name value` or `--name=value`.
// cli_flag_value: if argv[*i] is the flag `name`, stores its value in *out,
// advances *i past it, and returns 1; returns 0 if argv[*i] is not that flag;
// returns -1 (after printing a usage line) if the value is missing.
int cli_flag_value(int argc, char **argv, int *i, const char *name, const char **out);
// cli_is_flag: argv[*i] equals name exactly (a boolean flag).
int cli_is_flag(char **argv, int i, const char *name);
int cli_wants_help(int argc, char **argv);
// Strict number parsing: the whole string must be a number; errors name the flag.
int cli_parse_int(const char *flag, const char *s, long long *out);
int cli_parse_double(const char *flag, const char *s, double *out);
