// Turning a base model's raw output into the program that is judged, as
// EvalPlus v0.3.1 does for a base model (direct completion: a tokenizer
// without a chat template, or --force-base-prompt; evalplus/provider/hf.py:47-48
// and vllm.py:39-40). Facts from EvalPlus's source, by file:line:
//   0. the model receives task["prompt"].strip() + "\n" (codegen.py:80) and
//      nothing else: no instruction prefix for HumanEval or MBPP (the prefix
//      is only used through a chat template, hf.py:58-64) (qr_model_prompt);
//   1. generation stops at the first stop string (qr_stop_strings):
//      provider/utility.py:3-18 via hf.py:38-39 / vllm.py:33-34;
//   2. the output is cut before the earliest stop string it contains, to at
//      most 10000 characters, and tabs become 4 spaces (hf.py:97-104; vLLM
//      stops itself and replaces tabs, vllm.py:68) (qr_cut_completion);
//   3. solution = prompt as received + completion (codegen.py:88);
//   4. the solution is sanitized against the task's entry point
//      (codegen.py:89-91, sanitize.py:168-172) and only the sanitized text
//      is written to the samples file (codegen.py:92-100; the raw one goes to
//      *.raw.jsonl); evaluate judges a sample's "solution" as is
//      (evaluate.py:207-211), and `evalplus.evaluate --model ...` judges
//      the sanitized file codegen returns (evaluate.py:141-150) (steps 3-4:
//      qr_evalplus_solutions).
// `qrobust run --postprocess evalplus` (the default) does 0-4; `raw` does
// 1-2 only: the dataset prompt as is, judged as dataset prompt + completion.
#pragma once
#include <stddef.h>
#include "eval/dataset.h"
#include "eval/evaluate.h"
#include "util/err.h"

// EvalPlus's EOS list plus its extra stops for direct completion of the
// dataset family (HumanEval: "\ndef ", "\nclass ", "\nimport ", "\nfrom ",
// "\nassert "; MBPP: "\n\"\"\"", "\nassert"). Returns the count; *out points
// to static storage.
size_t qr_stop_strings(QrDatasetKind kind, const char *const **out);

// Step 2 above; malloc'd result. Characters are counted as Python does
// (code points of the UTF-8 text).
char *qr_cut_completion(const char *text, QrDatasetKind kind);

// The post-processing modes of `qrobust run`: "evalplus" (steps 0-4) and
// "raw" (steps 1-2). 1 if name is one of them.
int qr_postprocess_valid(const char *name);

// Step 0: the text the model receives for a (possibly attacked) dataset
// prompt: mode "evalplus": Python's prompt.strip() + "\n" (str.isspace
// characters, i.e. Unicode White_Space and U+001C..U+001F); "raw": the
// prompt as is. malloc'd.
char *qr_model_prompt(const char *mode, const char *prompt);

// Steps 3-4 for n samples of dataset ds (judged by ev): out[i] (malloc'd) =
// EvalPlus's sanitize(prompts[i] + completions[i], entry point of
// task_ids[i]), where prompts[i] is the text the model received.
int qr_evalplus_solutions(QrEvaluator *ev, const QrDataset *ds, size_t n, const char *const *task_ids,
                          const char *const *prompts, const char *const *completions, char **out, QrErr *e);
