// Tokenizer: WordPiece tokens per second on one thread, on real text (financial-rag
// questions and contexts, SciFact documents), untruncated and at max_length 256.
#include <nlohmann/json.hpp>

#include <climits>
#include <cstdlib>
#include <fstream>

#include "bench.h"
#include "common/check.h"
#include "common/log.h"
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
  const char* env = std::getenv("DISTTUNE_DATA");
  const std::string data = args.get("data", env ? env : std::string(DISTTUNE_SOURCE_DIR) + "/../shared/data");
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
