// qrobust report: tables, figures and an HTML page from a results directory
// (or from a CSV of published pass@1 values).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "eval/report.h"
#include "eval/results.h"

static void help(void) {
    puts("usage: qrobust report DIR [--out OUTDIR] [flags]\n"
         "       qrobust report --pass-rates FILE.csv --out OUTDIR [flags]\n"
         "\n"
         "Recomputes everything from the JSONL files in DIR (or from a table of\n"
         "pass@1 values) and writes into OUTDIR (default DIR/report):\n"
         "  report.md, report.html   Table I (RRS with arrows), summary shares, figures,\n"
         "                           pass@1 per cell with 95% intervals, %Δ, McNemar p\n"
         "                           (report.html is self-contained: figures inline)\n"
         "  table1.csv, pass_rates.csv\n"
         "  fig3_noise_<ds>.svg      pass@1 vs noise level, original vs int8 vs nf4\n"
         "  noise_targets_<ds>.svg   quantized models under each noise target\n"
         "  fig4/fig5_precision_<ds>.svg  precision comparison per condition\n"
         "\n"
         "flags\n"
         "  --out OUTDIR          where to write (default DIR/report)\n"
         "  --pass-rates FILE     CSV with columns model,precision,dataset,condition,pass@1\n"
         "                        (e.g. the study's published numbers); precision fp32|bf16|\n"
         "                        fp16|int8|nf4; dataset humaneval|humaneval+|mbpp|mbpp+;\n"
         "                        condition clean|char|word|sentence|gaussian:LEVEL|uniform:LEVEL;\n"
         "                        pass@1 a fraction, or percent if any value exceeds 1\n"
         "  --bootstrap N         bootstrap replicates (default 2000)\n"
         "  --seed S              bootstrap seed (default 0)\n"
         "  --title TEXT          page title\n"
         "  --quiet               print nothing on success\n"
         "\n"
         "RRS rule: numbers where both drops are positive; otherwise ↑ (quantized more\n"
         "robust), ↓ (original more robust) or = by the sign of d_orig - d_quant; * = the\n"
         "95% interval of d_orig - d_quant excludes 0.\n"
         "\n"
         "example:\n"
         "  qrobust report results/tiny && xdg-open results/tiny/report/report.html");
}

int cmd_report(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) { help(); return 0; }
    const char *dir = NULL, *out = NULL, *rates = NULL;
    QrReportOpts o = {.bootstrap = 2000, .seed = 0, .alpha = 0.05, .title = NULL};
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_flag_value(argc, argv, &i, "--out", &v))) { if (r < 0) return 2; out = v; continue; }
        if ((r = cli_flag_value(argc, argv, &i, "--pass-rates", &v))) { if (r < 0) return 2; rates = v; continue; }
        if ((r = cli_flag_value(argc, argv, &i, "--title", &v))) { if (r < 0) return 2; o.title = v; continue; }
        if ((r = cli_flag_value(argc, argv, &i, "--bootstrap", &v))) {
            long long n;
            if (r < 0 || cli_parse_int("--bootstrap", v, &n)) return 2;
            if (n < 100 || n > 1000000) return cli_dief("--bootstrap: %lld is out of range [100, 1000000]", n);
            o.bootstrap = (int)n;
            continue;
        }
        if ((r = cli_flag_value(argc, argv, &i, "--seed", &v))) {
            long long n;
            if (r < 0 || cli_parse_int("--seed", v, &n)) return 2;
            if (n < 0) return cli_dief("--seed: must be >= 0");
            o.seed = (uint64_t)n;
            continue;
        }
        if (!strcmp(argv[i], "--quiet")) { quiet = 1; continue; }
        if (!strncmp(argv[i], "--", 2)) return cli_dief("report: unknown flag '%s' (see qrobust report --help)", argv[i]);
        if (dir) return cli_dief("report: one results directory at a time (merge several with qrobust merge)");
        dir = argv[i];
    }
    if (!dir && !rates) return cli_dief("report: give a results directory or --pass-rates FILE.csv");
    if (dir && rates) return cli_dief("report: give a results directory or --pass-rates, not both");
    if (rates && !out) return cli_dief("report: --pass-rates needs --out OUTDIR");
    char outbuf[1100];
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "%s/report", dir);
        out = outbuf;
    }
    QrErr e;
    QrCells cells;
    if (rates) {
        if (qr_cells_from_csv(rates, &cells, &e)) return cli_die(&e);
    } else {
        QrStore s;
        if (qr_store_open(&s, dir, 0, &e)) return cli_die(&e);
        if (s.n_torn || s.n_bad)
            fprintf(stderr, "qrobust: %s: ignored %d torn and %d unreadable line(s)\n", dir, s.n_torn, s.n_bad);
        int rc = qr_cells_from_store(&s, &cells, &e);
        qr_store_close(&s);
        if (rc) return cli_die(&e);
    }
    QrReportSummary sum;
    int rc = qr_report_write(&cells, out, &o, &sum, &e), per_task = !cells.from_csv;
    qr_cells_free(&cells);
    if (rc) return cli_die(&e);
    if (!quiet) {
        printf("wrote %s/report.md, report.html, table1.csv, pass_rates.csv and %d SVG figure%s\n", out, sum.n_svg,
               sum.n_svg == 1 ? "" : "s");
        const QrShares *s = &sum.shares;
        if (s->n) {
            printf("Table I: %d cells; quantized more robust %d (%.2f%%), original more robust %d (%.2f%%), equal %d (%.2f%%)",
                   s->n, s->quant, 100.0 * s->quant / s->n, s->orig, 100.0 * s->orig / s->n, s->equal,
                   100.0 * s->equal / s->n);
            if (per_task) printf("; significant: %d (quantized %d, original %d)\n", s->n_sig, s->sig_quant, s->sig_orig);
            else printf("; significance: n/a (no per-task data)\n");
        }
        else
            printf("Table I: no complete (clean, attack) x (original, quantized) quadruple\n");
    }
    return 0;
}
