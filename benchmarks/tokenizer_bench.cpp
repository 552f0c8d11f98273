// Tokenizer: WordPiece tokens per second on one thread, on real text (financial-rag
// questions and contexts, SciFact documents), untruncated and at max_length 256.
#include <nlohmann/json.hpp>

#include <climits>
#include <cstdlib>
#include <fstream>

#include "bench.h"
#include "common/check.h"
#include "common/log.h"
#include "data/random.h"
#include "text/tokenizer.h"

namespace {

std::vector<std::string> read_texts(const std::string& path, const std::vector<std::string>& fields,
                                    bool beir_doc) {
  std::ifstream in(path);
  DT_REQUIRE(in, path, ": cannot open (pass --data=DIR, the shared data directory)");
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    if (beir_doc) {
      const std::string title = j.value("title", "");
      texts.push_back(title.empty() ? j.value("text", "") : title + " " + j.value("text", ""));
    } else {
      for (const auto& f : fields) texts.push_back(j.value(f, ""));
    }
  }
  return texts;
}

}  // namespace

DT_BENCHMARK("tokenizer",
             "WordPiece tokens/s on one thread, financial-rag and SciFact (--data=DIR --repeats=R)") {
  using namespace disttune;
  const std::string data = bench::data_dir(args);
  const int repeats = static_cast<int>(args.get_int("repeats", 3));
  const Tokenizer tok = Tokenizer::load(data + "/all-MiniLM-L6-v2");

  struct Set {
    std::string name;
    std::vector<std::string> texts;
  };
  const std::vector<Set> sets = {
      {"financial-rag", read_texts(data + "/financial-rag/pairs.jsonl", {"anchor", "positive"}, false)},
      {"scifact", read_texts(data + "/scifact/corpus.jsonl", {}, true)}};

  nlohmann::json out = {{"benchmark", "tokenizer"}, {"threads", 1}};
  for (const Set& s : sets) {
    int64_t pieces = 0, bytes = 0;
    for (const auto& t : s.texts) {
      pieces += static_cast<int64_t>(tok.encode(t, INT_MAX).size()) - tok.num_special_tokens();
      bytes += static_cast<int64_t>(t.size());
    }
    size_t sink = 0;
    const double t_full = bench::time_best([&] {
      for (const auto& t : s.texts) sink += tok.encode(t, INT_MAX).size();
    }, repeats);
    const double t_256 = bench::time_best([&] {
      for (const auto& t : s.texts) sink += tok.encode(t, 256).size();
    }, repeats);
    DT_CHECK(sink > 0);
    const double tps = pieces / t_full;
    out[s.name] = {{"texts", s.texts.size()},
                   {"tokens", pieces},
                   {"bytes", bytes},
                   {"seconds", t_full},
                   {"tokens_per_s", tps},
                   {"MB_per_s", bytes / t_full / 1e6},
                   {"texts_per_s_max256", s.texts.size() / t_256}};
    print0("tokenizer  ", s.name, ": ", s.texts.size(), " texts, ", pieces, " tokens in ", t_full,
           " s: ", tps / 1e6, " M tokens/s, ", bytes / t_full / 1e6, " MB/s; max_length 256: ",
           s.texts.size() / t_256, " texts/s");
  }
  return out;
}

// Not a measurement: the token lengths the train benchmark's real-length points use
// (--lengths=FILE there and in ref_train.py), so that both sides pad the same batches.
DT_BENCHMARK("lengths", "writes the MiniLM-tokenized lengths of the financial-rag pairs, one "
                        "'anchor positive' line per pair in a seeded shuffle (--data=DIR "
                        "--out=FILE --max-length=256 --seed=1)") {
  using namespace disttune;
  const std::string data = bench::data_dir(args);
  const std::string out_path = args.get("out", "");
  DT_REQUIRE(!out_path.empty(), "lengths: --out=FILE is required");
  const int max_length = static_cast<int>(args.get_int("max-length", 256));
  const Tokenizer tok = Tokenizer::load(data + "/all-MiniLM-L6-v2");
  const std::vector<std::string> texts =
      read_texts(data + "/financial-rag/pairs.jsonl", {"anchor", "positive"}, false);
  std::vector<std::pair<size_t, size_t>> rows;
  for (size_t i = 0; i + 1 < texts.size(); i += 2)
    rows.emplace_back(tok.encode(texts[i], max_length).size(), tok.encode(texts[i + 1], max_length).size());
  SplitMix64 rng(static_cast<uint64_t>(args.get_int("seed", 1)));
  for (size_t i = rows.size(); i > 1; --i) std::swap(rows[i - 1], rows[rng.below(i)]);
  std::ofstream out(out_path);
  for (const auto& [a, p] : rows) out << a << ' ' << p << '\n';
  DT_REQUIRE(out.flush(), out_path, ": cannot write");
  double sa = 0, sp = 0;
  for (const auto& [a, p] : rows) sa += a, sp += p;
  print0("lengths    ", rows.size(), " financial-rag pairs, mean ", sa / rows.size(), " + ", sp / rows.size(),
         " tokens (max_length ", max_length, "): ", out_path);
  return nlohmann::json{{"benchmark", "lengths"}, {"pairs", rows.size()}, {"file", out_path},
                        {"mean_anchor", sa / rows.size()}, {"mean_positive", sp / rows.size()}};
}
