// Published config.json of the study's checkpoints (see runtime/presets.h).
// Each entry cites where the config was read (the hub page itself, or a copy
// that keeps the original verbatim). n_params is the exact count implied by
// the config; it was cross-checked by instantiating each config with
// transformers on the meta device (sum of parameter numels, tied weights
// counted once) and against the publisher's stated size or file size.
#include "runtime/presets.h"
#include <stddef.h>
#include <strings.h>

const QrPreset qr_presets[] = {
    // config.json as published (copies keep it verbatim, e.g. huggingface.co/l3lab/ntp-mathlib-st-deepseek-
    // coder-1.3b/blob/main/config.json, _name_or_path deepseek-ai/deepseek-coder-1.3b-base)
    {"deepseek-coder-1.3b-base", "deepseek-ai/deepseek-coder-1.3b-base", "1.3B", 1346471936LL,
     "{\"architectures\": [\"LlamaForCausalLM\"], \"bos_token_id\": 32013, \"eos_token_id\": 32014, "
     "\"hidden_act\": \"silu\", \"hidden_size\": 2048, \"initializer_range\": 0.02, "
     "\"intermediate_size\": 5504, \"max_position_embeddings\": 16384, \"model_type\": \"llama\", "
     "\"num_attention_heads\": 16, \"num_hidden_layers\": 24, \"num_key_value_heads\": 16, "
     "\"pretraining_tp\": 1, \"rms_norm_eps\": 1e-06, \"rope_scaling\": {\"factor\": 4.0, \"type\": \"linear\"}, "
     "\"rope_theta\": 100000, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\", "
     "\"use_cache\": true, \"vocab_size\": 32256}"},
    // huggingface.co/AIGym/deepseek-coder-6.7b-chat/blob/main/config.json (_name_or_path deepseek-ai/deepseek-
    // coder-6.7b-base)
    {"deepseek-coder-6.7b-base", "deepseek-ai/deepseek-coder-6.7b-base", "6.7B", 6740512768LL,
     "{\"architectures\": [\"LlamaForCausalLM\"], \"bos_token_id\": 32013, \"eos_token_id\": 32014, "
     "\"hidden_act\": \"silu\", \"hidden_size\": 4096, \"initializer_range\": 0.02, "
     "\"intermediate_size\": 11008, \"max_position_embeddings\": 16384, \"model_type\": \"llama\", "
     "\"num_attention_heads\": 32, \"num_hidden_layers\": 32, \"num_key_value_heads\": 32, "
     "\"pretraining_tp\": 1, \"rms_norm_eps\": 1e-06, \"rope_scaling\": {\"factor\": 4.0, \"type\": \"linear\"}, "
     "\"rope_theta\": 100000, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\", "
     "\"use_cache\": true, \"vocab_size\": 32256}"},
    // huggingface.co/arise-sustech/llm4decompile-33b (and OpenCodeInterpreter-DS-33B) config.json, _name_or_path
    // deepseek-coder-33b-base
    {"deepseek-coder-33b-base", "deepseek-ai/deepseek-coder-33b-base", "33B", 33342991360LL,
     "{\"architectures\": [\"LlamaForCausalLM\"], \"bos_token_id\": 32013, \"eos_token_id\": 32014, "
     "\"hidden_act\": \"silu\", \"hidden_size\": 7168, \"initializer_range\": 0.02, "
     "\"intermediate_size\": 19200, \"max_position_embeddings\": 16384, \"model_type\": \"llama\", "
     "\"num_attention_heads\": 56, \"num_hidden_layers\": 62, \"num_key_value_heads\": 8, "
     "\"pretraining_tp\": 1, \"rms_norm_eps\": 1e-06, \"rope_scaling\": {\"factor\": 4.0, \"type\": \"linear\"}, "
     "\"rope_theta\": 100000, \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\", "
     "\"use_cache\": true, \"vocab_size\": 32256}"},
    // huggingface.co/unsloth/Llama-3.2-1B duplicate (Emm9625/Llama-3.2-1B-chatml/blob/main/config.json)
    {"llama-3.2-1b", "meta-llama/Llama-3.2-1B", "1.23B", 1235814400LL,
     "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false, \"attention_dropout\": 0.0, "
     "\"bos_token_id\": 128000, \"eos_token_id\": 128001, \"head_dim\": 64, \"hidden_act\": \"silu\", "
     "\"hidden_size\": 2048, \"initializer_range\": 0.02, \"intermediate_size\": 8192, "
     "\"max_position_embeddings\": 131072, \"mlp_bias\": false, \"model_type\": \"llama\", "
     "\"num_attention_heads\": 32, \"num_hidden_layers\": 16, \"num_key_value_heads\": 8, "
     "\"pretraining_tp\": 1, \"rms_norm_eps\": 1e-05, \"rope_scaling\": {\"factor\": 32.0, "
     "\"high_freq_factor\": 4.0, \"low_freq_factor\": 1.0, \"original_max_position_embeddings\": 8192, "
     "\"rope_type\": \"llama3\"}, \"rope_theta\": 500000.0, \"tie_word_embeddings\": true, "
     "\"torch_dtype\": \"bfloat16\", \"use_cache\": true, \"vocab_size\": 128256}"},
    // huggingface.co/mlx-community/Llama-3.2-3B-bf16/blob/refs%2Fpr%2F1/config.json
    {"llama-3.2-3b", "meta-llama/Llama-3.2-3B", "3.21B", 3212749824LL,
     "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false, \"attention_dropout\": 0.0, "
     "\"bos_token_id\": 128000, \"eos_token_id\": 128001, \"head_dim\": 128, \"hidden_act\": \"silu\", "
     "\"hidden_size\": 3072, \"initializer_range\": 0.02, \"intermediate_size\": 8192, "
     "\"max_position_embeddings\": 131072, \"mlp_bias\": false, \"model_type\": \"llama\", "
     "\"num_attention_heads\": 24, \"num_hidden_layers\": 28, \"num_key_value_heads\": 8, "
     "\"pretraining_tp\": 1, \"rms_norm_eps\": 1e-05, \"rope_scaling\": {\"factor\": 32.0, "
     "\"high_freq_factor\": 4.0, \"low_freq_factor\": 1.0, \"original_max_position_embeddings\": 8192, "
     "\"rope_type\": \"llama3\"}, \"rope_theta\": 500000.0, \"tie_word_embeddings\": true, "
     "\"torch_dtype\": \"bfloat16\", \"use_cache\": true, \"vocab_size\": 128256}"},
    // huggingface.co/NbAiLab/nb-llama-3.1-8B/blob/main/config.json (_name_or_path meta-llama/Llama-3.1-8B);
    // 8.03B params on the hub
    {"llama-3.1-8b", "meta-llama/Llama-3.1-8B", "8.03B", 8030261248LL,
     "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false, \"attention_dropout\": 0.0, "
     "\"bos_token_id\": 128000, \"eos_token_id\": 128001, \"hidden_act\": \"silu\", \"hidden_size\": 4096, "
     "\"initializer_range\": 0.02, \"intermediate_size\": 14336, \"max_position_embeddings\": 131072, "
     "\"mlp_bias\": false, \"model_type\": \"llama\", \"num_attention_heads\": 32, \"num_hidden_layers\": 32, "
     "\"num_key_value_heads\": 8, \"pretraining_tp\": 1, \"rms_norm_eps\": 1e-05, "
     "\"rope_scaling\": {\"factor\": 8.0, \"high_freq_factor\": 4.0, \"low_freq_factor\": 1.0, "
     "\"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"}, \"rope_theta\": 500000.0, "
     "\"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\", \"use_cache\": true, "
     "\"vocab_size\": 128256}"},
    // fine-tunes copy it verbatim, e.g. huggingface.co/anujsahani01/codegen_finetune/blob/main/config.json
    // (_name_or_path Salesforce/codegen-350M-mono)
    {"codegen-350M-mono", "Salesforce/codegen-350M-mono", "350M", 356712448LL,
     "{\"activation_function\": \"gelu_new\", \"architectures\": [\"CodeGenForCausalLM\"], \"attn_pdrop\": 0.0, "
     "\"bos_token_id\": 1, \"embd_pdrop\": 0.0, \"eos_token_id\": 50256, \"gradient_checkpointing\": false, "
     "\"initializer_range\": 0.02, \"layer_norm_epsilon\": 1e-05, \"model_type\": \"codegen\", \"n_ctx\": 2048, "
     "\"n_embd\": 1024, \"n_head\": 16, \"n_inner\": null, \"n_layer\": 20, \"n_positions\": 2048, "
     "\"resid_pdrop\": 0.0, \"rotary_dim\": 32, \"scale_attn_weights\": true, \"tie_word_embeddings\": false, "
     "\"tokenizer_class\": \"GPT2Tokenizer\", \"torch_dtype\": \"float16\", \"use_cache\": true, "
     "\"vocab_size\": 51200}"},
    // huggingface.co/martino-canavate/2-nlandvariedcodeandpython-model/blob/main/config.json (_name_or_path
    // Salesforce/codegen-2B-mono)
    {"codegen-2B-mono", "Salesforce/codegen-2B-mono", "2.7B", 2779356160LL,
     "{\"activation_function\": \"gelu_new\", \"architectures\": [\"CodeGenForCausalLM\"], \"attn_pdrop\": 0.0, "
     "\"bos_token_id\": 1, \"embd_pdrop\": 0.0, \"eos_token_id\": 50256, \"gradient_checkpointing\": false, "
     "\"initializer_range\": 0.02, \"layer_norm_epsilon\": 1e-05, \"model_type\": \"codegen\", \"n_ctx\": 2048, "
     "\"n_embd\": 2560, \"n_head\": 32, \"n_inner\": null, \"n_layer\": 32, \"n_positions\": 2048, "
     "\"resid_pdrop\": 0.0, \"rotary_dim\": 64, \"scale_attn_weights\": true, \"tie_word_embeddings\": false, "
     "\"tokenizer_class\": \"GPT2Tokenizer\", \"torch_dtype\": \"float16\", \"use_cache\": true, "
     "\"vocab_size\": 51200}"},
    // shape as in huggingface.co/quintic/codegen-diff-6B-gptj config (n_embd 4096, n_layer 33, n_head 16,
    // rotary_dim 64); the CodeGen card says 6.1B, but the hub's fp16 model.safetensors is 14.3 GB, i.e. the
    // 7.06B counted here plus the causal-mask buffers
    {"codegen-6B-mono", "Salesforce/codegen-6B-mono", "6.1B (card); 14.3 GB fp16 safetensors = 7.06B", 7064213504LL,
     "{\"activation_function\": \"gelu_new\", \"architectures\": [\"CodeGenForCausalLM\"], \"attn_pdrop\": 0.0, "
     "\"bos_token_id\": 1, \"embd_pdrop\": 0.0, \"eos_token_id\": 50256, \"gradient_checkpointing\": false, "
     "\"initializer_range\": 0.02, \"layer_norm_epsilon\": 1e-05, \"model_type\": \"codegen\", \"n_ctx\": 2048, "
     "\"n_embd\": 4096, \"n_head\": 16, \"n_inner\": null, \"n_layer\": 33, \"n_positions\": 2048, "
     "\"resid_pdrop\": 0.0, \"rotary_dim\": 64, \"scale_attn_weights\": true, \"tie_word_embeddings\": false, "
     "\"tokenizer_class\": \"GPT2Tokenizer\", \"torch_dtype\": \"float16\", \"use_cache\": true, "
     "\"vocab_size\": 51200}"},
    // huggingface.co/bigcode/starcoder2-3b/blob/main/config.json (rev 733247c); no tie_word_embeddings key: tied
    // (Starcoder2Config default), no lm_head in the checkpoint
    {"starcoder2-3b", "bigcode/starcoder2-3b", "3B (12.1 GB f32 safetensors = 3.03B)", 3030371328LL,
     "{\"architectures\": [\"Starcoder2ForCausalLM\"], \"attention_dropout\": 0.1, \"residual_dropout\": 0.1, "
     "\"embedding_dropout\": 0.1, \"bos_token_id\": 0, \"eos_token_id\": 0, "
     "\"hidden_act\": \"gelu_pytorch_tanh\", \"hidden_size\": 3072, \"initializer_range\": 0.018042, "
     "\"intermediate_size\": 12288, \"max_position_embeddings\": 16384, \"mlp_type\": \"default\", "
     "\"model_type\": \"starcoder2\", \"norm_epsilon\": 1e-05, \"norm_type\": \"layer_norm\", "
     "\"num_attention_heads\": 24, \"num_hidden_layers\": 30, \"num_key_value_heads\": 2, "
     "\"rope_theta\": 999999.4420358813, \"sliding_window\": 4096, \"use_bias\": true, \"use_cache\": true, "
     "\"vocab_size\": 49152}"},
    // huggingface.co/bigcode/starcoder2-7b/blob/refs%2Fpr%2F4/config.json; tied (no tie_word_embeddings key)
    {"starcoder2-7b", "bigcode/starcoder2-7b", "7B (7.17B)", 7173923840LL,
     "{\"activation_function\": \"gelu\", \"architectures\": [\"Starcoder2ForCausalLM\"], "
     "\"attention_dropout\": 0.0, \"attention_softmax_in_fp32\": true, \"bos_token_id\": 0, "
     "\"eos_token_id\": 0, \"hidden_act\": \"gelu_pytorch_tanh\", \"hidden_size\": 4608, "
     "\"initializer_range\": 0.018042, \"intermediate_size\": 18432, \"layer_norm_epsilon\": 1e-05, "
     "\"max_position_embeddings\": 16384, \"mlp_type\": \"default\", \"model_type\": \"starcoder2\", "
     "\"norm_epsilon\": 1e-05, \"norm_type\": \"layer_norm\", \"num_attention_heads\": 36, "
     "\"num_hidden_layers\": 32, \"num_key_value_heads\": 4, \"rope_theta\": 1000000, "
     "\"scale_attention_softmax_in_fp32\": true, \"scale_attn_weights\": true, \"sliding_window\": 4096, "
     "\"torch_dtype\": \"bfloat16\", \"use_bias\": true, \"use_cache\": true, \"vocab_size\": 49152}"},
    // huggingface.co/bigcode/starcoder2-15b/blame/1b425dd4908f4997586767d1495d96ab56bd57d4/config.json
    {"starcoder2-15b", "bigcode/starcoder2-15b", "15B (15.96B)", 15957889024LL,
     "{\"architectures\": [\"Starcoder2ForCausalLM\"], \"attention_dropout\": 0.1, \"residual_dropout\": 0.1, "
     "\"embedding_dropout\": 0.1, \"bos_token_id\": 0, \"eos_token_id\": 0, "
     "\"hidden_act\": \"gelu_pytorch_tanh\", \"hidden_size\": 6144, \"initializer_range\": 0.01275, "
     "\"intermediate_size\": 24576, \"max_position_embeddings\": 16384, \"mlp_type\": \"default\", "
     "\"model_type\": \"starcoder2\", \"norm_epsilon\": 1e-05, \"norm_type\": \"layer_norm\", "
     "\"num_attention_heads\": 48, \"num_hidden_layers\": 40, \"num_key_value_heads\": 4, "
     "\"rope_theta\": 100000, \"sliding_window\": 4096, \"tie_word_embeddings\": false, "
     "\"torch_dtype\": \"float32\", \"use_bias\": true, \"use_cache\": true, \"vocab_size\": 49152}"},
    // huggingface.co/unsloth/Qwen2.5-Coder-0.5B (config.json of Qwen/Qwen2.5-Coder-0.5B); field values also in
    // faisalmumtaz/codecompass-embed (model_name Qwen/Qwen2.5-Coder-0.5B)
    {"qwen2.5-coder-0.5b", "Qwen/Qwen2.5-Coder-0.5B", "0.49B (988 MB bf16 safetensors)", 494032768LL,
     "{\"architectures\": [\"Qwen2ForCausalLM\"], \"attention_dropout\": 0.0, \"bos_token_id\": 151643, "
     "\"eos_token_id\": 151643, \"hidden_act\": \"silu\", \"hidden_size\": 896, \"initializer_range\": 0.02, "
     "\"intermediate_size\": 4864, \"max_position_embeddings\": 32768, \"max_window_layers\": 24, "
     "\"model_type\": \"qwen2\", \"num_attention_heads\": 14, \"num_hidden_layers\": 24, "
     "\"num_key_value_heads\": 2, \"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0, "
     "\"sliding_window\": 32768, \"tie_word_embeddings\": true, \"torch_dtype\": \"bfloat16\", "
     "\"use_cache\": true, \"use_sliding_window\": false, \"vocab_size\": 151936}"},
};
const int qr_n_presets = (int)(sizeof qr_presets / sizeof qr_presets[0]);

const QrPreset *qr_preset_find(const char *name) {
    for (int i = 0; i < qr_n_presets; i++)
        if (!strcasecmp(name, qr_presets[i].name) || !strcasecmp(name, qr_presets[i].repo)) return &qr_presets[i];
    return NULL;
}
