// Tokenized HDF5 store: build speed (tokenize + write) and memory on financial-rag and on a
// synthetic 1M-row file, reuse cost (open + verify every checksum), random 512-row batch
// reads. Under mpirun the build is shared by the ranks (rank 0 prints).
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "bench.h"
#include "common/log.h"
#include "data/random.h"
#include "data/text_dataset.h"
#include "data/token_store.h"
#include "dist/dist.h"
#include "synthetic_pairs.h"
#include "text/tokenizer.h"

namespace {

using namespace disttune;

using bench::now_s;


// Random 512-row batches of every role: rows/s (a row = all its roles).
double batch_rows_per_s(const TokenStore& s, int batches) {
  SplitMix64 rng(11);
  const double t0 = now_s();
  for (int b = 0; b < batches; ++b) {
    std::vector<int64_t> rows(512);
    for (auto& r : rows) r = static_cast<int64_t>(rng.below(static_cast<uint64_t>(s.num_rows())));
    for (const auto& role : s.roles()) s.rows(role, rows);
  }
  return 512.0 * batches / (now_s() - t0);
}

struct Figures {
  double build_s = 0, rows_per_s = 0, tokens_per_s = 0, store_mib = 0, reuse_s = 0, read_rows_per_s = 0,
         rss_before_mib = 0, peak_build_mib = 0;
  int64_t tokens = 0;
};

Figures measure(Dist& d, const TextDataset& data, const Tokenizer& tok, const std::string& cache, int max_length) {
  TokenStoreSpec spec;
  spec.cache_dir = cache;
  spec.max_length = max_length;
  spec.columns = {{"anchor", "anchor"}, {"positive", "positive"}};
  spec.on_bad_row = BadRowPolicy::Skip;
  if (d.is_root()) std::filesystem::remove(token_store_path(cache, data.source));
  Figures f;
  f.rss_before_mib = bench::rss_mib();
  bench::reset_peak_rss();
  TokenStoreBuild b;
  const double t0 = now_s();
  { open_or_build_token_store(d, data, tok, spec, &b); }
  f.build_s = now_s() - t0;
  f.peak_build_mib = bench::peak_rss_mib();
  f.tokens = b.tokens;
  f.rows_per_s = static_cast<double>(data.size()) / f.build_s;
  f.tokens_per_s = static_cast<double>(b.tokens) / f.build_s;
  f.store_mib = static_cast<double>(std::filesystem::file_size(token_store_path(cache, data.source))) / (1 << 20);
  const double t1 = now_s();
  TokenStore s = open_or_build_token_store(d, data, tok, spec, &b);
  f.reuse_s = now_s() - t1;
  DT_CHECK(!b.built, "the store was rebuilt");
  f.read_rows_per_s = batch_rows_per_s(s, 200);
  return f;
}

nlohmann::json to_json(const Figures& f) {
  return {{"build_s", f.build_s},          {"rows_per_s", f.rows_per_s},
          {"tokens", f.tokens},            {"tokens_per_s", f.tokens_per_s},
          {"store_mib", f.store_mib},      {"reuse_verify_s", f.reuse_s},
          {"batch512_read_rows_per_s", f.read_rows_per_s},
          {"rss_before_build_mib", f.rss_before_mib}, {"peak_rss_during_build_mib", f.peak_build_mib}};
}

void report(const std::string& what, int64_t rows, const Figures& f) {
  print0("store  ", what, ": ", rows, " rows, ", f.tokens, " tokens: build ", f.build_s, " s = ",
         f.rows_per_s, " rows/s (", f.tokens_per_s / 1e6, " M tokens/s), store ", f.store_mib,
         " MiB; RSS ", f.rss_before_mib, " MiB before, peak ", f.peak_build_mib,
         " MiB during the build; reuse (open + verify) ", f.reuse_s, " s; random 512-row batches ",
         f.read_rows_per_s, " rows/s");
}

}  // namespace

DT_BENCHMARK("store", "tokenized HDF5 store: build rows/s and peak memory on financial-rag and a "
                      "synthetic 1M-row file, reuse, random 512-row batch reads "
                      "(--rows=N --data=DIR --tmp=DIR --max-length=N)") {
  Dist& d = dist();
  const int64_t rows = args.get_int("rows", 1'000'000);
  const int max_length = static_cast<int>(args.get_int("max-length", 256));
  const std::string data_dir = bench::data_dir(args);
  const std::string tmp = args.get("tmp", "/tmp");
  const std::string cache = tmp + "/disttune_store_bench_cache";
  const Tokenizer tok =
      Tokenizer::from_vocab_file(std::string(DISTTUNE_SOURCE_DIR) + "/datasets/vocab/bert-base-uncased.txt");
  const std::map<std::string, std::string> cols = {{"anchor", "anchor"}, {"positive", "positive"}};
  nlohmann::json out = {{"benchmark", "store"}, {"world_size", d.world_size}, {"threads", d.threads},
                        {"max_length", max_length}};

  const std::string pairs = data_dir + "/financial-rag/pairs.jsonl";
  if (std::filesystem::exists(pairs)) {
    const TextDataset data = read_text_dataset(pairs, cols, BadRowPolicy::Skip);
    const Figures f = measure(d, data, tok, cache, max_length);
    out["pairs"] = to_json(f);
    report("financial-rag/pairs.jsonl", data.size(), f);
  }

  const std::string jsonl = tmp + "/disttune_bench_" + std::to_string(rows) + ".jsonl";
  if (d.is_root() && !std::filesystem::exists(jsonl)) bench::write_synthetic(jsonl, rows, false);
  d.comm->barrier();
  const double rss0 = bench::rss_mib();
  const TextDataset big = read_text_dataset(jsonl, cols, BadRowPolicy::Error);
  out["synthetic_rss_before_read_mib"] = rss0;
  const Figures f = measure(d, big, tok, cache, max_length);
  out["synthetic"] = to_json(f);
  report("synthetic " + std::to_string(rows) + "-row JSONL", big.size(), f);
  print0("store  (RSS before reading the synthetic file: ", rss0,
         " MiB; the dataset itself is held by the caller)");
  d.comm->barrier();
  if (d.is_root()) std::filesystem::remove_all(cache);
  return out;
}
