// Saves a model whose block linears are quantized (runtime/qlinear.h) as the
// checkpoint transformers + bitsandbytes write with save_pretrained: the
// quantized layers in bitsandbytes' tensor layout, every other tensor exactly
// as the source checkpoint stores it, config.json with a
// "quantization_config", and the source directory's other files (tokenizer,
// generation config) copied. qrobust (and transformers) load the result as a
// pre-quantized checkpoint.
#pragma once
#include "runtime/model.h"
#include "util/err.h"

// dir is created if missing; existing model files in it are an error unless
// force. The source must be a Hugging Face checkpoint.
int qr_model_save_quantized(const QrModel *m, const char *dir, int force, QrErr *e);
