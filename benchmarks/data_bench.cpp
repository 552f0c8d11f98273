// Data pipeline: reading speed and memory (real pairs.jsonl and a synthetic 1M-row file in
// JSONL and CSV), the no-duplicates sampler at 1M rows, BM25 on SciFact.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <thread>

#include "bench.h"
#include "synthetic_pairs.h"
#include "common/log.h"
#include "data/beir.h"
#include "data/bm25.h"
#include "data/random.h"
#include "data/sampler.h"
#include "data/text_dataset.h"

namespace {

using namespace disttune;

double seconds_of(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

double file_mib(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 ? static_cast<double>(st.st_size) / (1 << 20) : 0;
}

}  // namespace

DT_BENCHMARK("data", "readers (rows/s, peak memory), no-duplicates sampler at 1M rows, BM25 on SciFact "
                     "(--rows=N --data=DIR --tmp=DIR)") {
  using namespace disttune;
  const int64_t rows = args.get_int("rows", 1'000'000);
  const std::string data = bench::data_dir(args);
  const std::string tmp = args.get("tmp", "/tmp");
  const std::map<std::string, std::string> cols = {{"anchor", "anchor"}, {"positive", "positive"}, {"id", "id"}};
  nlohmann::json out = {{"benchmark", "data"}, {"rows", rows}};

  // Synthetic 1M rows, JSONL then CSV; memory measured around the JSONL read.
  const std::string jsonl = tmp + "/disttune_bench_" + std::to_string(rows) + ".jsonl";
  const std::string csv = tmp + "/disttune_bench_" + std::to_string(rows) + ".csv";
  if (!exists(jsonl)) bench::write_synthetic(jsonl, rows, false);
  if (!exists(csv)) bench::write_synthetic(csv, rows, true);
  const double rss0 = bench::rss_mib();
  TextDataset big;
  const double t_jsonl = seconds_of([&] { big = read_text_dataset(jsonl, cols, BadRowPolicy::Error); });
  const double peak = bench::peak_rss_mib();
  size_t text_bytes = 0;
  for (const auto& c : big.columns)
    for (const auto& s : c) text_bytes += s.size();
  out["synthetic_jsonl_mib"] = file_mib(jsonl);
  out["synthetic_jsonl_s"] = t_jsonl;
  out["synthetic_jsonl_rows_per_s"] = rows / t_jsonl;
  out["synthetic_text_mib"] = static_cast<double>(text_bytes) / (1 << 20);
  out["rss_before_mib"] = rss0;
  out["rss_after_read_mib"] = bench::rss_mib();
  out["peak_rss_mib"] = peak;
  print0("data  read ", rows, " rows JSONL (", file_mib(jsonl), " MiB): ", t_jsonl, " s = ",
         rows / t_jsonl, " rows/s; RSS ", rss0, " -> ", bench::rss_mib(), " MiB (peak ", peak,
         " MiB; texts ", static_cast<double>(text_bytes) / (1 << 20), " MiB)");
  {
    TextDataset c;
    const double t_csv = seconds_of([&] { c = read_text_dataset(csv, cols, BadRowPolicy::Error); });
    out["synthetic_csv_s"] = t_csv;
    out["synthetic_csv_rows_per_s"] = rows / t_csv;
    print0("data  read ", rows, " rows CSV (", file_mib(csv), " MiB): ", t_csv, " s = ", rows / t_csv, " rows/s");
  }

  // Sampler at 1M rows, global batch 512.
  {
    std::vector<int64_t> all(static_cast<size_t>(big.size()));
    for (int64_t i = 0; i < big.size(); ++i) all[static_cast<size_t>(i)] = i;
    std::unique_ptr<GlobalBatchSampler> s;
    const double t_build = seconds_of([&] {
      s = std::make_unique<GlobalBatchSampler>(big, all, 512, 42, BatchSamplerKind::NoDuplicates);
    });
    EpochPlan plan;
    const double t_epoch = bench::time_best([&] { plan = s->plan_epoch(1); }, 3, 0);
    out["sampler_build_s"] = t_build;
    out["sampler_epoch_s"] = t_epoch;
    out["sampler_batches"] = plan.num_batches();
    out["sampler_batches_per_s"] = plan.num_batches() / t_epoch;
    print0("data  no_duplicates sampler, ", big.size(), " rows, global batch 512: intern ", t_build,
           " s, one epoch (", plan.num_batches(), " batches) ", t_epoch, " s = ",
           plan.num_batches() / t_epoch, " batches/s");
  }
  big = TextDataset();

  // The real pairs file.
  const std::string pairs = data + "/financial-rag/pairs.jsonl";
  if (exists(pairs)) {
    TextDataset d;
    const double t = bench::time_best([&] { d = read_text_dataset(pairs, cols, BadRowPolicy::Skip); }, 3, 1);
    out["pairs_s"] = t;
    out["pairs_rows_per_s"] = d.report.rows_read / t;
    out["pairs_mib_per_s"] = file_mib(pairs) / t;
    GlobalBatchSampler s(d, [&] {
      std::vector<int64_t> all(static_cast<size_t>(d.size()));
      for (int64_t i = 0; i < d.size(); ++i) all[static_cast<size_t>(i)] = i;
      return all;
    }(), 512, 42, BatchSamplerKind::NoDuplicates);
    std::vector<int64_t> per_epoch;
    for (int64_t e = 0; e < 6; ++e) per_epoch.push_back(s.plan_epoch(e).num_batches());
    out["pairs_no_duplicates_batches_per_epoch"] = per_epoch;
    print0("data  read financial-rag/pairs.jsonl (", d.report.rows_read, " rows): ", t * 1e3, " ms = ",
           d.report.rows_read / t, " rows/s, ", file_mib(pairs) / t, " MiB/s; no_duplicates batches per epoch at 512: ", nlohmann::json(per_epoch).dump());
  }

  // BM25 on SciFact: index the corpus, top-100 for the 300 test queries.
  const std::string scifact = data + "/scifact";
  if (exists(scifact + "/qrels/test.tsv")) {
    const IrSet ir = read_beir(scifact, "test");
    std::unique_ptr<Bm25Index> idx;
    const double t_build = bench::time_best([&] { idx = std::make_unique<Bm25Index>(ir.corpus); }, 3, 0);
    const double t_q1 = bench::time_best([&] { idx->search_many(ir.queries, 100, 1); }, 3, 1);
    const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const double t_qn = bench::time_best([&] { idx->search_many(ir.queries, 100, threads); }, 3, 1);
    const double nq = static_cast<double>(ir.queries.size());
    // Sanity of the ranking: nDCG@10 with binary relevance (the BEIR paper reports 0.665
    // for Elasticsearch BM25 with stemming on SciFact test).
    double ndcg = 0;
    const auto top = idx->search_many(ir.queries, 10, 1);
    for (size_t q = 0; q < top.size(); ++q) {
      const auto& rel = ir.relevant[q];
      double dcg = 0, ideal = 0;
      for (size_t i = 0; i < top[q].size(); ++i)
        if (std::binary_search(rel.begin(), rel.end(), top[q][i].doc)) dcg += 1 / std::log2(i + 2.0);
      for (size_t i = 0; i < std::min<size_t>(10, rel.size()); ++i) ideal += 1 / std::log2(i + 2.0);
      ndcg += ideal > 0 ? dcg / ideal : 0;
    }
    out["bm25_ndcg_at_10"] = ndcg / nq;
    out["bm25_docs"] = idx->num_docs();
    out["bm25_postings"] = idx->num_postings();
    out["bm25_build_s"] = t_build;
    out["bm25_queries_per_s_1thread"] = nq / t_q1;
    out["bm25_queries_per_s"] = nq / t_qn;
    out["bm25_threads"] = threads;
    print0("data  BM25 SciFact: index ", idx->num_docs(), " docs (", idx->num_terms(), " terms, ",
           idx->num_postings(), " postings) in ", t_build * 1e3, " ms; top-100 for ", ir.queries.size(),
           " queries: ", nq / t_q1, " q/s (1 thread), ", nq / t_qn, " q/s (", threads,
           " threads); nDCG@10 ", ndcg / nq);
  }
  return out;
}
