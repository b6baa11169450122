// EvalPlus's verdict on one output, in C (evalplus/eval/__init__.py,
// unsafe_execute, v0.3.1): exact equality (Python ==), then the per-task
// special oracles, then the float tolerance rule:
//   if atol == 0 and is_floats(expected): atol = 1e-6   (sticky for the rest of
//                                                         the test set, as in EvalPlus)
//   if not exact and atol != 0: type(out) == type(exp), equal lengths for
//       lists/tuples, numpy.allclose(out, exp, rtol=1e-7, atol=atol)
// Special oracles (keyed, as in EvalPlus, on the dataset family and the entry
// point name):
//   MBPP+  are_equivalent (Mbpp/164): any output passes
//          sum_div (Mbpp/295): also passes when out == 0
//          surface_Area (Mbpp/581): also passes when |out - oracle| <= atol
//          digit_distance_nums (Mbpp/558): also passes when out == oracle
//          similar_elements, find_char_long, common_in_nested_lists,
//          extract_singly, larg_nnum, intersection_array, find_dissimilar,
//          Diff: set(out) == set(exp) replaces ==
//          check_str, text_match_three, text_starta_endb: expected is
//          `canonical output is not None`; a bool output is compared, any
//          other output counts as (out is not None)
//   HumanEval+  find_zero (HumanEval/32): |poly(xs, out)| <= atol, nothing else
#pragma once
#include <stddef.h>
#include "eval/dataset.h"
#include "eval/pyval.h"

typedef enum {
    QR_ORACLE_NONE,
    QR_ORACLE_ANY,            // are_equivalent
    QR_ORACLE_SUM_DIV,        // sum_div
    QR_ORACLE_SURFACE_AREA,   // surface_Area
    QR_ORACLE_DIGIT_DISTANCE, // digit_distance_nums
    QR_ORACLE_SET_EQ,         // set(out) == set(exp)
    QR_ORACLE_NOT_NONE,       // output is not None
    QR_ORACLE_FIND_ZERO,      // |poly(xs, out)| <= atol
} QrOracle;

QrOracle qr_oracle_for(QrDatasetKind kind, const char *entry_point);

// 1 when EvalPlus would accept out for input inp with expected output exp.
// *atol is the test set's running tolerance (start with the task's atol and
// keep passing the same variable). inp is only read by the oracles that need
// it (surface_Area, digit_distance_nums, find_zero) and may be NULL otherwise.
// On 0, why (if non-NULL) receives a one-line reason.
int qr_judge(QrOracle o, const PyVal *inp, const PyVal *out, const PyVal *exp, double *atol, char *why, size_t why_len);

// 1 when qr_judge needs decoded values for this pair even if the marshal
// bytes of out and exp are identical (oracles that look at more than ==, or
// an expected value holding NaN, which is never == itself).
int qr_judge_needs_values(QrOracle o, int exp_has_nan);
// 1 when v holds a float NaN anywhere.
int qr_has_nan(const PyVal *v);
