#include "config/options.h"

#include <algorithm>
#include <limits>
#include <sstream>

namespace disttune {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNoRange = 0;  // with hi < lo below

OptionSpec opt_bool(const char* k, const char* def, const char* help) {
  return {k, OptType::Bool, def, 1, 0, "", help};
}
OptionSpec opt_int(const char* k, const char* def, double lo, double hi, const char* help) {
  return {k, OptType::Int, def, lo, hi, "", help};
}
OptionSpec opt_float(const char* k, const char* def, double lo, double hi, const char* help) {
  return {k, OptType::Float, def, lo, hi, "", help};
}
OptionSpec opt_str(const char* k, const char* def, const char* help) {
  return {k, OptType::String, def, 1, kNoRange, "", help};
}
OptionSpec opt_choice(const char* k, const char* def, const char* choices, const char* help) {
  return {k, OptType::Choice, def, 1, 0, choices, help};
}
OptionSpec opt_ints(const char* k, const char* def, double lo, double hi, const char* help) {
  return {k, OptType::IntList, def, lo, hi, "", help};
}
OptionSpec opt_floats(const char* k, const char* def, double lo, double hi, const char* help) {
  return {k, OptType::FloatList, def, lo, hi, "", help};
}
OptionSpec opt_choices(const char* k, const char* def, const char* choices, const char* help) {
  return {k, OptType::ChoiceList, def, 1, 0, choices, help};
}
OptionSpec opt_map(const char* k, const char* def, const char* help) {
  return {k, OptType::StringMap, def, 1, 0, "", help};
}

std::vector<OptionSpec> build_registry() {
  const double kBig = 1e15;
  return {
      // ---- model ----
      opt_str("model.path", "\"\"",
              "sentence-transformers model directory to fine-tune (or set model.init.vocab)"),
      opt_str("model.init.vocab", "\"\"",
              "WordPiece vocab.txt for a randomly initialised BERT (instead of model.path)"),
      opt_int("model.init.hidden_size", "128", 8, 16384, "hidden size of the initialised BERT"),
      opt_int("model.init.num_layers", "2", 1, 128, "transformer layers of the initialised BERT"),
      opt_int("model.init.num_heads", "2", 1, 256,
              "attention heads of the initialised BERT (must divide hidden_size)"),
      opt_int("model.init.intermediate_size", "512", 1, 65536,
              "feed-forward size of the initialised BERT"),
      opt_int("model.init.max_position", "512", 8, 65536,
              "position embeddings of the initialised BERT"),
      opt_int("model.init.seed", "0", 0, kBig, "seed of the random initialisation"),
      opt_int("model.max_seq_length", "0", 0, 65536,
              "truncate inputs to this many tokens; 0 = sentence_bert_config.json (else 256)"),
      opt_choice("model.pooling", "auto", "auto|mean|cls|max|lasttoken",
                 "pooling; auto = 1_Pooling/config.json (mean for model.init)"),
      opt_choice("model.normalize", "auto", "auto|true|false",
                 "L2-normalise embeddings; auto = as modules.json lists Normalize (true for model.init)"),
      opt_float("model.dropout", "-1", -1, 0.99,
                "dropout for hidden states and attention; -1 = config.json, 0 = off"),
      opt_int("model.num_layers", "-1", -1, 65536,
              "keep the model's first N transformer layers (a model trained with loss.adaptive_layer, cut "
              "as sentence-transformers cuts encoder.layer[:N]; 0 = the embeddings alone); -1 = all"),
      opt_str("model.query_prompt", "\"\"",
              "text prepended to retrieval queries; empty = the model's 'query' prompt, else its default prompt"),
      // ---- data ----
      opt_str("data.train", "\"\"", "training file (.jsonl, .json, .csv, .tsv)"),
      opt_str("data.val", "\"\"", "separate validation file; empty = split data.train"),
      opt_str("data.test", "\"\"", "separate test file; empty = split data.train"),
      opt_map("data.columns", "{anchor: anchor, positive: positive}",
              "role -> column name: anchor, positive, negative[_N] | sentence1, sentence2, score"),
      opt_map("data.val_columns", "{}",
              "the mapping of data.val when it differs from data.columns (e.g. pairs to evaluate a run on "
              "texts, triplets with scores or labeled texts by retrieval); {} = data.columns"),
      opt_map("data.test_columns", "{}", "the mapping of data.test, as data.val_columns; {} = data.columns"),
      opt_float("data.split.train", "0.81", 0, 1, "fraction of data.train used for training"),
      opt_float("data.split.val", "0.09", 0, 1, "fraction held out for validation"),
      opt_float("data.split.test", "0.10", 0, 1, "fraction held out for the final test"),
      opt_int("data.split.seed", "42", 0, kBig, "seed of the split permutation"),
      opt_choice("data.on_bad_row", "error", "error|skip",
                 "bad rows (invalid UTF-8, missing column, empty text): stop or count and skip"),
      // ---- training ----
      opt_int("training.epochs", "6", 1, 1e6, "passes over the training split"),
      opt_int("training.max_steps", "-1", -1, kBig,
              "> 0: stop after this many optimizer steps (overrides epochs)"),
      opt_int("training.global_batch_size", "32", 1, 1 << 24,
              "anchors per optimizer step over all ranks (must divide by world size)"),
      opt_int("training.mini_batch_size", "0", 0, 1 << 24,
              "cached_mnrl/cached_gist: rows per rank embedded at once (0 = whole local batch)"),
      opt_int("training.gradient_accumulation_steps", "1", 1, 65536,
              "micro-batches per optimizer step"),
      opt_float("training.learning_rate", "2.0e-5", 0, 10, "peak learning rate"),
      opt_choice("training.scheduler", "cosine",
                 "linear|cosine|cosine_with_restarts|polynomial|constant|constant_with_warmup|inverse_sqrt|"
                 "cosine_with_min_lr|warmup_stable_decay|reduce_lr_on_plateau",
                 "learning-rate schedule (Hugging Face's lr_scheduler_type); all but constant and "
                 "reduce_lr_on_plateau start with the warmup; reduce_lr_on_plateau changes the rate at "
                 "validation evaluations by eval.metric"),
      opt_map("training.scheduler_kwargs", "{}",
              "arguments of the schedule (Hugging Face's lr_scheduler_kwargs): num_cycles; lr_end, power; "
              "min_lr or min_lr_rate; num_decay_steps, num_stable_steps, warmup_type, decay_type, "
              "min_lr_ratio; reduce_lr_on_plateau: mode (max), factor, patience, threshold, threshold_mode, "
              "cooldown, min_lr, eps"),
      opt_float("training.warmup_ratio", "0.1", 0, 1, "fraction of steps with linear warmup"),
      opt_int("training.warmup_steps", "0", 0, kBig, "> 0: warmup steps (overrides warmup_ratio)"),
      opt_float("training.weight_decay", "0.01", 0, 10,
                "AdamW decoupled weight decay (not on biases and LayerNorm weights)"),
      opt_float("training.adam_beta1", "0.9", 0, 0.999999, "AdamW beta1"),
      opt_float("training.adam_beta2", "0.999", 0, 0.999999999, "AdamW beta2"),
      opt_float("training.adam_epsilon", "1.0e-8", 0, 1, "AdamW epsilon"),
      opt_float("training.max_grad_norm", "1.0", 0, kInf,
                "clip the global gradient norm to this; 0 = no clipping"),
      opt_choice("training.precision", "fp32", "fp32|bf16|fp16",
                 "compute precision (bf16 on GPU or CPU, fp16 on GPU; fp32 master weights and loss)"),
      opt_int("training.seed", "42", 0, kBig, "seed of sampling, dropout and initialisation"),
      opt_choice("training.batch_sampler", "no_duplicates", "batch_sampler|no_duplicates|group_by_label",
                 "no_duplicates: no text twice in one global batch; group_by_label (labeled texts, for the batch "
                 "triplet losses): whole classes of an even number of texts per batch"),
      opt_bool("training.drop_last", "false",
               "leave out the global batches short of global_batch_size (Hugging Face's dataloader_drop_last; "
               "no_duplicates can leave several per epoch)"),
      opt_choice("training.multi_dataset_batch_sampler", "proportional", "proportional|round_robin",
                 "with a datasets: section, how the datasets' batches are interleaved (each global batch from one "
                 "dataset, trained with its loss): proportional = every batch of every dataset once per epoch in a "
                 "random order; round_robin = one batch of each in turn until one runs out"),
      opt_bool("training.gradient_checkpointing", "false",
               "recompute each encoder layer in backward instead of keeping its activations (Hugging Face's "
               "gradient_checkpointing): less memory, about one more forward per step; the same gradients"),
      opt_int("training.logging_steps", "10", 1, kBig, "log training loss every N steps"),
      opt_map("training.prompts", "{}",
              "text prepended to the texts of a role, e.g. {anchor: 'query: '} (sentence-transformers' "
              "prompts); evaluation prepends the same"),
      opt_choice("training.on_nan", "stop", "stop|skip",
                 "a NaN/inf loss or gradient: stop the job, or skip that step"),
      opt_choice("training.device", "auto", "auto|cpu|cuda",
                 "where to train; auto = CUDA when available"),
      // ---- loss ----
      opt_choice("loss.name", "mnrl", "mnrl|cached_mnrl|gist|cached_gist|triplet|cosent|angle|cosine_similarity|contrastive|"
                 "online_contrastive|margin_mse|distill_kl_div|mse|batch_hard_triplet|batch_hard_soft_margin_triplet|"
                 "batch_semi_hard_triplet|batch_all_triplet",
                 "loss (sentence-transformers names; gist = GISTEmbedLoss, angle = AnglELoss, "
                 "cosine_similarity = CosineSimilarityLoss, margin_mse = MarginMSELoss, distill_kl_div = "
                 "DistillKLDivLoss, mse = MSELoss, batch_*_triplet = Batch*TripletLoss on labeled texts); "
                 "matryoshka_dims wraps it"),
      opt_float("loss.scale", "20.0", 0, 1e6, "similarity scale of mnrl/cached_mnrl/cosent/angle"),
      opt_bool("loss.symmetric", "false", "mnrl: add the positive->anchor direction"),
      opt_choices("loss.directions", "[query_to_doc]", "query_to_doc|query_to_query|doc_to_query|doc_to_doc",
                  "mnrl, cached_mnrl: the interaction terms (sentence-transformers' directions; query_to_doc always): "
                  "[query_to_doc, query_to_query, doc_to_query, doc_to_doc] with joint is GTE's improved contrastive "
                  "loss"),
      opt_choice("loss.partition_mode", "joint", "joint|per_direction",
                 "mnrl, cached_mnrl: one softmax over all directions (joint) or one per direction, averaged "
                 "(per_direction; query_to_doc and doc_to_query only)"),
      opt_choice("loss.hardness_mode", "none", "none|in_batch_negatives|hard_negatives|all_negatives",
                 "mnrl, cached_mnrl: add hardness_strength x the (detached) similarity to these negatives' logits "
                 "(Lan et al. 2025: in_batch_negatives, 9; EmbeddingGemma: hard_negatives, 5)"),
      opt_float("loss.hardness_strength", "0.0", 0, 1e6, "mnrl, cached_mnrl: the strength of loss.hardness_mode"),
      opt_choice("loss.similarity", "auto", "auto|cosine|dot",
                 "mnrl/cached_mnrl/margin_mse/distill_kl_div: the scores (sentence-transformers' "
                 "similarity_fct); auto = cosine for mnrl (cos_sim), dot for the distillation losses "
                 "(pairwise_dot_score); mnrl's dot usually with loss.scale: 1"),
      opt_ints("loss.matryoshka_dims", "[]", 1, 65536,
               "non-empty: MatryoshkaLoss over these embedding sizes"),
      opt_floats("loss.matryoshka_weights", "[]", 0, 1e6,
                 "weight per matryoshka dim (default all 1)"),
      opt_int("loss.matryoshka_n_dims_per_step", "-1", -1, 65536,
              "MatryoshkaLoss's n_dims_per_step: that many of the dims, drawn each step (the same on every "
              "rank); -1 = all"),
      opt_bool("loss.adaptive_layer", "false",
               "wrap the loss (and its Matryoshka) in AdaptiveLayerLoss: also train the embeddings of earlier "
               "layers (with loss.matryoshka_n_dims_per_step 1 it is Matryoshka2dLoss)"),
      opt_int("loss.adaptive_n_layers_per_step", "1", -1, 65536,
              "AdaptiveLayerLoss: prior layers drawn each step (the same on every rank; the embeddings' "
              "output counts as layer 0); -1 = all"),
      opt_float("loss.adaptive_last_layer_weight", "1.0", 0, 1e6, "AdaptiveLayerLoss: weight of the last layer's loss"),
      opt_float("loss.adaptive_prior_layers_weight", "1.0", 0, 1e6,
                "AdaptiveLayerLoss: weight of the prior layers' mean loss"),
      opt_float("loss.adaptive_kl_div_weight", "1.0", 0, 1e6,
                "AdaptiveLayerLoss: weight of the KL divergence to the last layer"),
      opt_float("loss.adaptive_kl_temperature", "0.3", 0, 1e6,
                "AdaptiveLayerLoss: temperature of the KL divergence; 0 = no KL term"),
      opt_choice("loss.adaptive_layer_weighting", "uniform", "uniform|log|linear",
                 "AdaptiveLayerLoss: weight of prior layer i's loss: 1, 1/(1+ln(1+i)) or 1/(1+i)"),
      opt_float("loss.margin", "-1", -1, 1e6,
                "triplet/(online_)contrastive/gist/batch_*_triplet margin; -1 = the sentence-transformers "
                "default (5 / 0.5 / 0 / 5)"),
      opt_choice("loss.distance", "auto", "auto|euclidean|cosine|manhattan",
                 "triplet/(online_)contrastive/batch_*_triplet distance (the batch losses: euclidean or cosine); "
                 "auto = euclidean (triplet, batch_*_triplet), cosine (contrastive)"),
      opt_str("loss.guide", "\"\"",
              "gist: the guide model directory (sentence-transformers layout)"),
      opt_str("loss.teacher", "\"\"",
              "mse: the teacher model directory (sentence-transformers layout); its embedding of each "
              "row's first text is the target of every text of the row (MSELoss's labels, computed "
              "as training goes)"),
      opt_float("loss.temperature", "-1", -1, 1e6,
                "gist/distill_kl_div: the similarities are divided by it; -1 = the sentence-transformers "
                "default (0.01 / 1)"),
      opt_choice("loss.margin_strategy", "absolute", "absolute|relative",
                 "gist: drop a candidate the guide scores above the positive's score - margin "
                 "(absolute) or x (1 - margin) (relative)"),
      opt_bool("loss.contrast_anchors", "true", "gist: anchors are candidates for the other anchors"),
      opt_bool("loss.contrast_positives", "true", "gist: positives are candidates for the other positives"),
      // ---- eval ----
      opt_choice("eval.strategy", "epoch", "epoch|steps|no", "when to evaluate the validation split"),
      opt_int("eval.steps", "0", 0, kBig, "eval.strategy steps: every N optimizer steps"),
      opt_str("eval.metric", "cosine_ndcg@10",
              "metric that selects the best checkpoint; unset: <similarity>_ndcg@10, with scored pairs "
              "spearman_<similarity> (0/1 labels may use cosine_ap); <similarity> is eval.similarity's"),
      opt_ints("eval.k", "[1, 3, 5, 10, 100]", 1, 1e6,
               "cut-offs: map@largest, mrr/ndcg@second largest, accuracy/precision/recall@the "
               "others (the default = sentence-transformers' metrics; docs/evaluation.md)"),
      opt_int("eval.chunk_rows", "16384", 1, kBig,
              "documents scored at once per rank (memory: chunk_rows x queries floats)"),
      opt_bool("eval.load_best_model_at_end", "true", "export the best model instead of the last"),
      opt_choice("eval.similarity", "auto", "auto|cosine|dot",
                 "similarity evaluation scores with and names metrics after (cosine_ndcg@10, dot_ndcg@10); "
                 "auto = the model's similarity_fn_name, as sentence-transformers' evaluators"),
      opt_bool("eval.on_start", "false",
               "evaluate the base model on the validation split before the first step, as step 0 "
               "(Hugging Face's eval_on_start)"),
      opt_int("eval.early_stopping_patience", "0", 0, kBig,
              "> 0: stop training after this many evaluations in a row without improving eval.metric "
              "(Hugging Face's EarlyStoppingCallback)"),
      opt_float("eval.early_stopping_threshold", "0", 0, 1e6,
                "an evaluation improves only when eval.metric beats the best by more than this"),
      opt_int("eval.batch_size", "64", 1, 1 << 20, "texts per encoder forward pass when evaluating"),
      opt_bool("eval.test", "true",
               "evaluate the base and the fine-tuned model on the test split and print the table"),
      opt_bool("eval.bm25_baseline", "false", "add a BM25 column to the final test table"),
      opt_choice("eval.corpus", "all", "all|split",
                 "split-based IR sets: corpus = the positives of all splits (the "
                 "sentence-transformers recipes) or of the evaluated split only"),
      // ---- checkpoint ----
      opt_choice("checkpoint.save_strategy", "epoch", "epoch|steps|no", "when to checkpoint"),
      opt_int("checkpoint.save_steps", "0", 0, kBig, "save_strategy steps: every N optimizer steps"),
      opt_int("checkpoint.keep_last", "2", 0, 1e6, "newest checkpoints kept besides the best"),
      opt_str("checkpoint.resume", "auto",
              "auto (newest complete checkpoint), never, or a checkpoint path"),
      // ---- output ----
      opt_str("output.dir", "runs/disttune",
              "run directory: checkpoints/, final/, metrics.jsonl, logs/"),
      // ---- mining (disttune mine-negatives) ----
      opt_choice("mining.method", "bm25", "bm25|model",
                 "candidate scores: bm25 (lexical), model (cosine of the model section's embeddings)"),
      opt_str("mining.output", "\"\"", "JSON-lines file the mined rows are written to (required)"),
      opt_str("mining.corpus", "\"\"",
              "extra candidate documents (JSON lines with text[, title]); positives always count"),
      opt_int("mining.num_negatives", "3", 1, 10000, "negatives wanted per row"),
      opt_int("mining.range_min", "0", 0, 1e7, "skip this many of the best candidates"),
      opt_int("mining.range_max", "0", 0, 1e7,
              "consider only this many best candidates; 0 = range_min + num_negatives (x10 with a "
              "margin or max_score) + most positives of one anchor"),
      opt_str("mining.margin", "none",
              "absolute margin: drop candidates scoring above positive score - margin (number or none)"),
      opt_str("mining.relative_margin", "none",
              "drop candidates scoring above positive score * (1 - this), in [0, 1) (number or none)"),
      opt_str("mining.max_score", "none", "drop candidates scoring above this (number or none)"),
      opt_str("mining.min_score", "none", "drop candidates scoring below this (number or none)"),
      opt_choice("mining.sampling", "top", "top|random",
                 "top: the best remaining candidates; random: a seeded draw among them"),
      opt_choice("mining.format", "triplet", "triplet|n-tuple|n-tuple-scores|labeled-pair",
                 "one row per negative; one row with negative, negative_2, ... per anchor; the same with "
                 "score: [the positive's, each negative's] (margin_mse's and distill_kl_div's labels); or "
                 "scored pairs (sentence1, sentence2, score 1 / 0)"),
      opt_int("mining.seed", "42", 0, kBig, "seed of random sampling"),
      opt_int("mining.batch_size", "64", 1, 1 << 20, "method model: texts per encoder forward pass"),
      // ---- distributed ----
      opt_choice("distributed.backend", "auto", "auto|nccl|mpi",
                 "collectives for tensors: auto = NCCL for CUDA tensors, MPI for CPU"),
      opt_float("distributed.timeout_s", "900", 1, 1e7,
                "a collective not done within this many seconds ends the job"),
      opt_float("distributed.bucket_mb", "25", 0.001, 4096,
                "size of the flat buckets the gradient all-reduce moves (MB)"),
  };
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string last_component(const std::string& k) {
  auto p = k.rfind('.');
  return p == std::string::npos ? k : k.substr(p + 1);
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string fmt_num(double v) {
  std::ostringstream os;
  if (v == kInf) return "inf";
  if (v >= 1e15) return "1e15";
  os << v;
  return os.str();
}

}  // namespace

const std::vector<OptionSpec>& option_registry() {
  static const std::vector<OptionSpec> reg = build_registry();
  return reg;
}

const OptionSpec* find_option(const std::string& key) {
  for (const auto& o : option_registry())
    if (o.key == key) return &o;
  return nullptr;
}

bool is_option_section(const std::string& path) {
  const std::string prefix = path + ".";
  for (const auto& o : option_registry())
    if (o.key.compare(0, prefix.size(), prefix) == 0) return true;
  return false;
}

std::string nearest_option(const std::string& key) {
  // Candidates: every key and every section. A key in the wrong section (same last
  // component) is the likeliest mistake, so it wins over spelling distance.
  std::vector<std::string> cands;
  for (const auto& o : option_registry()) {
    cands.push_back(o.key);
    for (size_t p = o.key.find('.'); p != std::string::npos; p = o.key.find('.', p + 1))
      cands.push_back(o.key.substr(0, p));
  }
  std::string best;
  size_t best_d = SIZE_MAX;
  const std::string last = last_component(key);
  for (const auto& c : cands) {
    size_t d = edit_distance(key, c);
    if (last_component(c) == last && c != key) d = std::min<size_t>(d, 1);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string type_name(const OptionSpec& s) {
  switch (s.type) {
    case OptType::Bool: return "bool";
    case OptType::Int: return "int";
    case OptType::Float: return "float";
    case OptType::String: return "string";
    case OptType::Choice: return "one of " + s.choices;
    case OptType::IntList: return "list of int";
    case OptType::FloatList: return "list of float";
    case OptType::StringMap: return "map of string";
    case OptType::ChoiceList: return "list of " + s.choices;
  }
  return "?";
}

std::string options_markdown() {
  std::ostringstream os;
  os << "# Configuration reference\n\n"
        "Generated by `disttune help config` from the option registry "
        "(`src/config/options.cpp`); CI checks that this file is current.\n\n"
        "Every key can be set in the YAML file (nested sections) or on the command line "
        "with `--set section.key=value` (the value is parsed as YAML; a section takes a mapping, "
        "`--set data.split={train: 0.9, val: 0, test: 0.1}`, each key as if set alone). Unknown "
        "keys, wrong types and out-of-range values are errors.\n";
  std::string section;
  for (const auto& o : option_registry()) {
    std::string sec = o.key.substr(0, o.key.find('.'));
    if (sec != section) {
      section = sec;
      os << "\n## " << section << "\n\n| key | type | default | range | description |\n"
         << "| --- | --- | --- | --- | --- |\n";
    }
    std::string range = "";
    if ((o.type == OptType::Int || o.type == OptType::Float || o.type == OptType::IntList ||
         o.type == OptType::FloatList) && o.lo <= o.hi)
      range = "[" + fmt_num(o.lo) + ", " + fmt_num(o.hi) + "]";
    std::string tn = type_name(o);
    std::replace(tn.begin(), tn.end(), '|', ',');
    os << "| `" << o.key << "` | " << tn << " | `" << o.def << "` | " << range << " | "
       << md_escape(o.help) << " |\n";
  }
  os << "\n## datasets\n\n"
        "Training datasets beside `data.train`, each with its own file, columns and loss "
        "(sentence-transformers' dict of train datasets and dict of losses). Each global batch "
        "comes from one dataset (`training.multi_dataset_batch_sampler`); evaluation stays on "
        "`data`. Set in the file only:\n\n"
        "```yaml\ndatasets:\n  nli:\n    train: nli.jsonl                  # required; used whole\n"
        "    columns: {anchor: premise, positive: hypothesis}   # default: data.columns\n"
        "    on_bad_row: skip                  # default: data.on_bad_row\n"
        "    prompts: {anchor: 'query: '}      # default: training.prompts\n"
        "    loss: {name: mnrl, scale: 20}     # default: the run's loss section\n```\n\n"
        "| key | description |\n| --- | --- |\n"
        "| `train` | the dataset's training file, used whole (.jsonl, .json, .csv, .tsv) |\n"
        "| `columns` | role -> column, as data.columns; default: data.columns |\n"
        "| `on_bad_row` | error or skip, as data.on_bad_row; default: data.on_bad_row |\n"
        "| `prompts` | role -> prompt, as training.prompts, for this dataset alone; default: training.prompts |\n"
        "| `loss` | loss.* keys of this dataset's loss, the others at their defaults; "
        "default: the run's loss section |\n";
  return os.str();
}

}  // namespace disttune
