// qrobust report: tables from hand-made pass rates (RRS values and arrows),
// reports identical whatever the order of the result lines, SVG figures that
// parse as XML, and an HTML page that headless Chromium renders non-blank.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "eval/report.h"
#include "tests/run_util.h"
#include "util/fileio.h"

static char bin[1024], tmp[256];

static int setup(void **st) {
    (void)st;
    rt_bin(bin, sizeof bin);
    if (rt_mkdtemp(tmp, sizeof tmp, "report")) return -1;
    // A small study on the fake backend, once in one go and once as 2 shards
    // written into one directory (other line order).
    const char *study = "--backend fake --model fake:coder-350M --model fake:coder-2B --precisions fp32,int8,nf4 "
                        "--attacks clean,char,word,gaussian,uniform --noise-levels 1e-3,1e-2 "
                        "--noise-targets all,unquantized-only --limit 6 --quiet";
    if (rt_sh("'%s' run %s --out %s/a", bin, study, tmp)) return -1;
    if (rt_sh("'%s' run %s --shard 1/2 --out %s/b && '%s' run %s --shard 0/2 --out %s/b", bin, study, tmp, bin, study, tmp)) return -1;
    return 0;
}

static int teardown(void **st) {
    (void)st;
    return rt_sh("rm -rf '%s'", tmp);
}

// Hand-computed Table I from published-style pass rates (percent).
static void test_pass_rates_table(void **st) {
    (void)st;
    char csv[512], out[512], t1[600];
    snprintf(csv, sizeof csv, "%s/rates.csv", tmp);
    snprintf(out, sizeof out, "%s/rates", tmp);
    rt_write_text(csv, "Model,Precision,Dataset,Condition,pass@1,notes\n"
                    "m-1B,fp32,HumanEval,clean,50,\n"
                    "m-1B,fp32,HumanEval,char,40,x\n"
                    "m-1B,int8,HumanEval,clean,50,\n"
                    "m-1B,int8,HumanEval,char,45,\n"       // d_o .10, d_q .05: RRS 2, ↑
                    "m-1B,nf4,HumanEval,clean,50,\n"
                    "m-1B,nf4,HumanEval,char,50%,\n"       // d_q 0: ↑ without a number
                    "m-1B,fp32,mbpp+,clean,30,\n"
                    "m-1B,fp32,mbpp+,char,35,\n"
                    "m-1B,int8,mbpp+,clean,30,\n"
                    "m-1B,int8,mbpp+,char,20,\n"            // orig improves, quant degrades: ↓
                    "m-1B,nf4,mbpp+,clean,30,\n"
                    "m-1B,nf4,mbpp+,char,35,\n");           // equal drops (-.05): =
    assert_int_equal(rt_sh("'%s' report --pass-rates %s --out %s --quiet", bin, csv, out), 0);
    snprintf(t1, sizeof t1, "%s/table1.csv", out);
    char *t = rt_slurp(t1);
    assert_non_null(t);
    assert_non_null(strstr(t, "\nm-1B,int8,humaneval,\"char(p=0.5,cap=5)\",0,0.5,0.4,0.5,0.45,0.1,0.05,2,quant,↑,,,,,,,\n"));
    assert_non_null(strstr(t, "\nm-1B,nf4,humaneval,\"char(p=0.5,cap=5)\",0,0.5,0.4,0.5,0.5,0.1,0,,quant,↑,,,,,,,\n"));
    assert_non_null(strstr(t, "\nm-1B,int8,mbpp+,\"char(p=0.5,cap=5)\",0,0.3,0.35,0.3,0.2,-0.05,0.1,-0.5,orig,↓,,,,,,,\n"));
    assert_non_null(strstr(t, "\nm-1B,nf4,mbpp+,\"char(p=0.5,cap=5)\",0,0.3,0.35,0.3,0.35,-0.05,-0.05,1,equal,=,,,,,,,\n"));
    free(t);
    snprintf(t1, sizeof t1, "%s/report.md", out);
    t = rt_slurp(t1);
    assert_non_null(strstr(t, "| m-1B | int8 | 2.00↑ | ↓ |"));
    assert_non_null(strstr(t, "| m-1B | nf4 | ↑ | = |"));
    assert_non_null(strstr(t, "All 4 cells: quantized more robust in 2 (50.00%), original more robust in 1 (25.00%), equal in 1 (25.00%)."));
    free(t);
    // Bad tables: a clear error naming file and line, exit 2.
    const char *bad[] = {
        "model,precision,dataset,pass@1\nm,fp32,humaneval,0.5\n",                          // no condition column
        "model,precision,dataset,condition,pass@1\nm,fp64,humaneval,clean,0.5\n",         // precision
        "model,precision,dataset,condition,pass@1\nm,fp32,apps,clean,0.5\n",              // dataset
        "model,precision,dataset,condition,pass@1\nm,fp32,mbpp,clean,abc\n",              // number
        "model,precision,dataset,condition,pass@1\nm,fp32,mbpp,gaussian,0.5\n",           // noise without level
        "model,precision,dataset,condition,pass@1\nm,fp32,mbpp,clean,0.5\nm,fp32,mbpp,clean,0.4\n", // duplicate
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rt_write_text(csv, bad[i]);
        QrCells c;
        QrErr e;
        assert_int_equal(qr_cells_from_csv(csv, &c, &e), -1);
        assert_non_null(strstr(e.msg, "rates.csv"));
        assert_int_equal(rt_sh("'%s' report --pass-rates %s --out %s/bad --quiet 2>/dev/null", bin, csv, tmp), 2);
    }
    assert_int_equal(rt_sh("'%s' report %s/nonexistent 2>/dev/null", bin, tmp), 2);
    assert_int_equal(rt_sh("'%s' report %s/a --bootstrap 5 2>/dev/null", bin, tmp), 2);
}

// Everything regenerates from the JSONL alone, independent of line order.
static void test_report_deterministic(void **st) {
    (void)st;
    assert_int_equal(rt_sh("'%s' report %s/a --quiet && '%s' report %s/b --quiet", bin, tmp, bin, tmp), 0);
    const char *files[] = {"table1.csv", "pass_rates.csv", "report.md", "report.html", "fig3_noise_humaneval.svg",
                           "noise_targets_mbppp.svg", "fig5_precision_mbpp.svg"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        assert_int_equal(rt_sh("cmp -s %s/a/report/%s %s/b/report/%s", tmp, files[i], tmp, files[i]), 0);
    char p[600];
    snprintf(p, sizeof p, "%s/a/report/report.md", tmp);
    char *t = rt_slurp(p);
    // Models in family/size order, not line order; per-task statistics present.
    char *a = strstr(t, "| coder-350M | int8 |"), *b = strstr(t, "| coder-2B | int8 |");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a < b);
    assert_non_null(strstr(t, "Restricted to the"));
    free(t);
    snprintf(p, sizeof p, "%s/a/report/pass_rates.csv", tmp);
    t = rt_slurp(p);
    // coder-350M fp32 clean humaneval: the fake's 6 tasks; interval present.
    assert_non_null(strstr(t, "\ncoder-350M,fp32,clean,humaneval,6,"));
    free(t);
}

static void test_svg_parse_as_xml(void **st) {
    (void)st;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/a/report", tmp);
    // 4 datasets x (noise curves, noise targets, precision bars)
    assert_int_equal(rt_sh("test $(ls %s/*.svg | wc -l) -eq 12", dir), 0);
    if (rt_sh("command -v python3 >/dev/null")) skip();
    assert_int_equal(rt_sh("python3 -c \"import sys, glob, xml.etree.ElementTree as E\n"
                        "fs = glob.glob(sys.argv[1] + '/*.svg')\n"
                        "for f in fs:\n"
                        "    r = E.parse(f).getroot()\n"
                        "    assert r.tag == '{http://www.w3.org/2000/svg}svg', (f, r.tag)\n"
                        "    assert len(r.findall('.//{http://www.w3.org/2000/svg}polyline')) + "
                        "len(r.findall('.//{http://www.w3.org/2000/svg}rect')) > 4, f\n"
                        "\" %s",
                        dir),
                     0);
    // A broken file is caught by the same check (the check can fail).
    assert_int_equal(rt_sh("printf '<svg><g></svg>' > %s/broken.svg.x && python3 -c \"import xml.etree.ElementTree as E; "
                        "E.parse('%s/broken.svg.x')\" 2>/dev/null",
                        tmp, tmp),
                     1);
}

// ---- minimal PNG reader (8-bit RGB/RGBA, non-interlaced: what Chromium writes) ----
static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static unsigned char *png_pixels(const char *path, int *w, int *h, int *ch) {
    char *buf;
    size_t n;
    QrErr e;
    if (qr_read_file(path, &buf, &n, &e) || n < 33 || memcmp(buf, "\x89PNG\r\n\x1a\n", 8)) return NULL;
    const unsigned char *p = (unsigned char *)buf;
    *w = (int)be32(p + 16), *h = (int)be32(p + 20);
    int depth = p[24], ctype = p[25], inter = p[28];
    if (depth != 8 || (ctype != 2 && ctype != 6) || inter) { free(buf); return NULL; }
    *ch = ctype == 6 ? 4 : 3;
    size_t zcap = n, zn = 0;
    unsigned char *z = malloc(zcap);
    for (size_t off = 8; off + 12 <= n;) {
        uint32_t len = be32(p + off);
        if (off + 12 + len > n) break;
        if (!memcmp(p + off + 4, "IDAT", 4)) memcpy(z + zn, p + off + 8, len), zn += len;
        off += 12 + len;
    }
    size_t stride = (size_t)*w * *ch, rawn = (stride + 1) * (size_t)*h;
    unsigned char *raw = malloc(rawn), *img = malloc(stride * (size_t)*h);
    uLongf got = rawn;
    int ok = uncompress(raw, &got, z, zn) == Z_OK && got == rawn;
    for (int y = 0; ok && y < *h; y++) {
        unsigned char f = raw[y * (stride + 1)], *r = raw + y * (stride + 1) + 1, *o = img + y * stride;
        const unsigned char *up = y ? img + (y - 1) * stride : NULL;
        for (size_t x = 0; x < stride; x++) {
            int a = x >= (size_t)*ch ? o[x - *ch] : 0, b = up ? up[x] : 0, c = up && x >= (size_t)*ch ? up[x - *ch] : 0;
            int v = r[x];
            if (f == 1) v += a;
            else if (f == 2) v += b;
            else if (f == 3) v += (a + b) / 2;
            else if (f == 4) {
                int pp = a + b - c, pa = abs(pp - a), pb = abs(pp - b), pc = abs(pp - c);
                v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
            } else if (f != 0) ok = 0;
            o[x] = (unsigned char)v;
        }
    }
    free(buf);
    free(z);
    free(raw);
    if (!ok) { free(img); return NULL; }
    return img;
}

static void test_html_renders_in_chromium(void **st) {
    (void)st;
    const char *chromium = NULL;
    if (!rt_sh("command -v chromium >/dev/null")) chromium = "chromium";
    else if (!rt_sh("command -v chromium-browser >/dev/null")) chromium = "chromium-browser";
    if (!chromium) {
        fprintf(stderr, "SKIPPED: headless Chromium not installed (apt-get install chromium; .ci/run installs it)\n");
        skip();
    }
    char html[600], png[600];
    snprintf(html, sizeof html, "%s/a/report/report.html", tmp);
    snprintf(png, sizeof png, "%s/shot.png", tmp);
    // Self-contained: no external resources to fetch.
    char *t = rt_slurp(html);
    assert_null(strstr(t, "src=\"http"));
    assert_null(strstr(t, "<link"));
    assert_null(strstr(t, "<img"));
    assert_non_null(strstr(t, "<svg"));
    free(t);
    assert_int_equal(rt_sh("HOME=%s timeout 120 %s --headless --no-sandbox --disable-gpu --hide-scrollbars "
                        "--user-data-dir=%s/chromium --window-size=1200,1600 --screenshot=%s file://%s >/dev/null 2>&1",
                        tmp, chromium, tmp, png, html),
                     0);
    int w = 0, h = 0, ch = 3;
    unsigned char *img = png_pixels(png, &w, &h, &ch);
    assert_non_null(img);
    assert_int_equal(w, 1200);
    assert_int_equal(h, 1600);
    // Not blank: enough non-white pixels, several colours (text, lines, the
    // palette), and ink in the top band (title and Table I).
    long ink = 0, top = 0;
    int colors[64] = {0}, ncolors = 0;
    for (long i = 0; i < (long)w * h; i++) {
        const unsigned char *px = img + i * ch;
        if (px[0] < 200 || px[1] < 200 || px[2] < 200) {
            ink++;
            if (i / w < 300) top++;
        }
        int q = (px[0] >> 6) << 4 | (px[1] >> 6) << 2 | (px[2] >> 6);
        if (!colors[q]) colors[q] = 1, ncolors++;
    }
    free(img);
    assert_true(ink > (long)w * h / 100);
    assert_true(top > 2000);
    assert_true(ncolors >= 6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_rates_table),
        cmocka_unit_test(test_report_deterministic),
        cmocka_unit_test(test_svg_parse_as_xml),
        cmocka_unit_test(test_html_renders_in_chromium),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
