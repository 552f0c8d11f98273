// The data of a training run: the training rows, the validation and test rows, and the
// retrieval sets built from them as the sentence-transformers recipes build them (queries:
// the held-out anchors; corpus: the positives of every split, or with eval.corpus: split
// those of the evaluated split only; each query relevant to its own positive). Held-out
// scored pairs are kept as pairs with their scores, for the similarity evaluator; held-out
// triplets are also kept as triplets, for the triplet evaluator; held-out labeled texts
// become triplets (an anchor, another text of its class, a text of another class) for it.
//
// Without data.val / data.test, data.train is split by data.split (deterministic, the same
// at every world size). With either file given, data.train is used whole for training and
// each held-out split comes from its own file (or is empty).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/ir_set.h"
#include "data/row_sets.h"
#include "data/text_dataset.h"
#include "eval/normalize.h"

namespace disttune {

struct Dist;
class Config;

struct RunData {
  TextDataset train;                 // the data.train file, every row
  std::vector<int64_t> train_rows;   // rows of `train` used for training
  IrSet val_set, test_set;           // empty when there is no such split
  ScoredSet val_scored, test_scored; // scored pairs: the held-out rows instead
  TripletSet val_triplets, test_triplets;  // triplets: the held-out rows as triplets too
  int64_t val_rows = 0, test_rows = 0;
  bool retrieval_eval = false;       // the format has anchor/positive columns to evaluate on
  bool similarity_eval = false;      // scored pairs: evaluated by score correlation
  bool binary_labels = false;        // scored pairs, every score of every file 0 or 1: also
                                     // evaluated as binary classification
  bool triplet_eval = false;         // labeled texts: evaluated on triplets built from the
                                     // held-out texts (triplet_set_from_labeled)
  DataFormat eval_format = DataFormat::Pairs;  // of the evaluated data (plan_evaluation)
  std::vector<std::string> eval_roles;         // its text roles
  bool evaluated() const { return retrieval_eval || similarity_eval || triplet_eval; }
  bool has_val() const {
    return retrieval_eval ? !val_set.queries.empty() : triplet_eval ? !val_triplets.empty() : !val_scored.empty();
  }
  bool has_test() const {
    return retrieval_eval ? !test_set.queries.empty() : triplet_eval ? !test_triplets.empty() : !test_scored.empty();
  }
  std::string describe() const;      // one line for the console and the log
};

// data.train as `cfg` maps it (the run's, or a datasets: entry's Config::dataset_config),
// reported on the console; a UserError naming the key when no row is usable.
TextDataset read_train_file(const Config& cfg);

// Every rank reads the same files (so every rank holds the texts the sampler needs).
// Throws UserError naming file:line for bad rows under data.on_bad_row: error.
RunData load_run_data(Dist& d, const Config& cfg);

// What a run evaluates: the data of the held-out files where data.val / data.test are
// given (data.val_columns / data.test_columns may map them otherwise than data.train, e.g.
// pairs beside training on plain texts), else data.train's split.
struct EvalPlan {
  DataFormat format = DataFormat::Pairs;  // of the evaluated data
  std::vector<std::string> roles;         // its text roles
  bool retrieval = false;                 // anchor/positive columns (pairs, triplets)
  bool similarity = false;                // scored pairs
  bool triplets = false;                  // labeled texts, as triplets
  bool binary_labels = false;             // scored pairs whose every score, in every file, is 0 or 1
  bool any() const { return retrieval || similarity || triplets; }
};
// `held`: (key, dataset) of data.val / data.test as read, empty when data.train is split.
// The held-out files must share a format and roles: UserError naming <key>_columns otherwise.
EvalPlan plan_evaluation(const Config& cfg, const TextDataset& train,
                         const std::vector<std::pair<std::string, const TextDataset*>>& held);

// Whether a dataset has the anchor and positive roles that retrieval evaluation needs.
bool has_pairs(const TextDataset& d);

// The metrics a run with this config computes on data of `format`: retrieval metrics
// (eval.k) for pairs, those and the triplet accuracy for triplets, the triplet accuracy alone
// for labeled texts (Texts), correlations for scored pairs and with `binary_labels` the
// binary classification metrics too; all over
// loss.matryoshka_dims too.
std::vector<std::string> run_metric_names(const Config& cfg, DataFormat format, bool binary_labels,
                                          ScoreFunction score);
// The metric that selects the best model: eval.metric where given; otherwise <similarity>_ndcg@10
// for retrieval, the similarity evaluator's primary metric (spearman_<similarity>) for
// scored pairs, and <similarity>_accuracy for labeled texts.
std::string run_eval_metric(const Config& cfg, DataFormat format, ScoreFunction score);
// A check that that metric is among run_metric_names and is a score (not a threshold), so
// that a typo fails before any work.
void check_eval_metric(const Config& cfg, DataFormat format, bool binary_labels, ScoreFunction score);

// The similarity evaluation scores with and names its metrics after: eval.similarity, or for
// auto the model's similarity_fn_name (model.path's config_sentence_transformers.json; cosine
// where it names none, and for model.init), as sentence-transformers' evaluators take it.
ScoreFunction run_score_function(const Config& cfg);

class Loss;
// A check that the loss takes the columns data.columns maps (and scores where it reads
// labels), made by train and by validate before any work.
void check_loss_takes_data(const Config& cfg, const Loss& loss, const TextDataset& train);

}  // namespace disttune
