// Turning a base model's raw output into the program that is judged, as
// EvalPlus's codegen does (evalplus/codegen.py, provider/hf.py, v0.3.1):
//   1. generation stops at the first stop string (qr_stop_strings);
//   2. the output is cut before the earliest stop string it contains, to at
//      most 10000 characters, and tabs become 4 spaces (qr_cut_completion);
//   3. solution = prompt + completion (qr_problem_program, eval/dataset.h);
//   4. the solution is sanitized against the entry point
//      (qr_evaluator_sanitize, eval/evaluate.h).
#pragma once
#include <stddef.h>
#include "eval/dataset.h"

// EvalPlus's EOS list plus its extra stops for direct completion of the
// dataset family (HumanEval: "\ndef ", "\nclass ", "\nimport ", "\nfrom ",
// "\nassert "; MBPP: "\n\"\"\"", "\nassert"). Returns the count; *out points
// to static storage.
size_t qr_stop_strings(QrDatasetKind kind, const char *const **out);

// Step 2 above; malloc'd result. Characters are counted as Python does
// (code points of the UTF-8 text).
char *qr_cut_completion(const char *text, QrDatasetKind kind);
