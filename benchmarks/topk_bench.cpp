// Exact top-k retrieval: the sharded scorer (TopKAccumulator + merge_topk) against FAISS
// IndexFlatIP on the same random unit vectors, results cross-checked; and the memory of a
// 1M-document corpus streamed in chunks (peak grows with the chunk, not queries x corpus).
//   disttune_bench topk [--queries=1000 --docs=200000 --dim=384 --k=100 --chunk=16384
//                        --engine=both|disttune|faiss]
//   disttune_bench topk --mode=memory [--docs=1000000 --queries=1000 --chunks=1024,4096,16384,65536]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <fstream>

#include "bench.h"
#include "common/log.h"
#include "dist/dist.h"
#include "eval/dot_kernel.h"
#include "eval/normalize.h"
#include "eval/topk.h"

#ifdef DISTTUNE_HAVE_FAISS
#include <faiss/IndexFlat.h>
#include <omp.h>
#endif

namespace {

using namespace disttune;

using bench::now_s;

at::Tensor unit_rows(int64_t rows, int64_t dim, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return truncate_normalize(at::randn({rows, dim}, gen));
}

struct Run {
  TopK top;
  double seconds = 0, peak_extra_mib = 0;
};

// The sharded scorer: rank r takes documents [r*n/W, (r+1)*n/W), then the merge.
Run run_disttune(Dist& d, const at::Tensor& q, const at::Tensor& docs, int64_t k, int64_t chunk) {
  const int64_t n = docs.size(0);
  const int64_t lo = n * d.rank / d.world_size, hi = n * (d.rank + 1) / d.world_size;
  const at::Tensor mine = docs.narrow(0, lo, hi - lo);
  const at::Tensor idx = at::arange(lo, hi, at::kLong);
  d.comm->barrier();
  bench::reset_peak_rss();
  const double base = bench::rss_mib();
  const double t0 = now_s();
  Run r;
  r.top = merge_topk(*d.comm, local_topk(q, mine, idx, k, chunk), k);
  r.seconds = now_s() - t0;
  r.peak_extra_mib = bench::peak_rss_mib() - base;
  return r;
}

// FAISS's products and the at::mm comparison are OpenBLAS's: its pool gets the rank's threads
// for them (dist_init leaves it one thread when the encoder's products are on oneDNN).
struct BlasThreadsScope {
  int saved = openblas_threads();
  BlasThreadsScope() { openblas_set_threads(at::get_num_threads()); }
  ~BlasThreadsScope() {
    if (saved > 0) openblas_set_threads(saved);
  }
};

#ifdef DISTTUNE_HAVE_FAISS
Run run_faiss(const at::Tensor& q, const at::Tensor& docs, int64_t k) {
  faiss::IndexFlatIP index(docs.size(1));
  index.add(docs.size(0), docs.data_ptr<float>());  // a copy of the corpus, as FAISS keeps it
  Run r;
  r.top = {at::empty({q.size(0), k}, at::kFloat), at::empty({q.size(0), k}, at::kLong)};
  bench::reset_peak_rss();
  const double base = bench::rss_mib();
  const double t0 = now_s();
  index.search(q.size(0), q.data_ptr<float>(), k, r.top.scores.data_ptr<float>(),
               r.top.indices.data_ptr<int64_t>());
  r.seconds = now_s() - t0;
  r.peak_extra_mib = bench::peak_rss_mib() - base;
  return r;
}

// Agreement of two top-k results computed with different summation orders: identical
// positions, and where the documents differ, scores within `tol` (a near-tie reordered).
nlohmann::json compare(const TopK& a, const TopK& b, double tol) {
  const float* sa = a.scores.data_ptr<float>();
  const float* sb = b.scores.data_ptr<float>();
  const int64_t* ia = a.indices.data_ptr<int64_t>();
  const int64_t* ib = b.indices.data_ptr<int64_t>();
  int64_t same = 0, near_tie = 0, wrong = 0;
  double max_diff = 0;
  for (int64_t i = 0; i < a.scores.numel(); ++i) {
    max_diff = std::max(max_diff, std::fabs(double(sa[i]) - sb[i]));
    if (ia[i] == ib[i])
      ++same;
    else if (std::fabs(double(sa[i]) - sb[i]) <= tol)
      ++near_tie;
    else
      ++wrong;
  }
  return {{"same_index", same}, {"near_tie_swaps", near_tie}, {"mismatches", wrong},
          {"max_score_diff", max_diff}};
}
#endif

nlohmann::json throughput(const bench::BenchArgs& args) {
  Dist& d = dist();
  const int64_t nq = args.get_int("queries", 1000), n = args.get_int("docs", 200000);
  const int64_t dim = args.get_int("dim", 384), k = args.get_int("k", 100);
  const int64_t chunk = args.get_int("chunk", 16384);
  const std::string engine = args.get("engine", "both");
  const at::Tensor q = unit_rows(nq, dim, 1), docs = unit_rows(n, dim, 2);
  const double pairs = double(nq) * double(n);
  nlohmann::json out = {{"benchmark", "topk"}, {"world_size", d.world_size},
                        {"threads", at::get_num_threads()}, {"queries", nq}, {"docs", n},
                        {"dim", dim}, {"k", k}, {"chunk_rows", chunk},
                        {"kernel", cpu_isa_name(cpu_isa_best())}, {"blas_core", bench::blas_core()},
                        {"data_mib", (nq + n) * dim * 4.0 / (1 << 20)},
                        {"full_matrix_mib", pairs * 4 / (1 << 20)}};
  std::optional<Run> ours;
  if (engine != "faiss") {
    local_topk(q.narrow(0, 0, std::min<int64_t>(nq, 8)), docs.narrow(0, 0, 1000),
               at::arange(1000, at::kLong), k, chunk);  // warm-up
    ours = run_disttune(d, q, docs, k, chunk);
    out["disttune_s"] = ours->seconds;
    out["disttune_pairs_per_s"] = pairs / ours->seconds;
    out["disttune_gflops"] = 2 * pairs * dim / ours->seconds / 1e9;
    out["disttune_peak_extra_mib"] = ours->peak_extra_mib;
    print0("topk disttune  world=", d.world_size, " threads=", at::get_num_threads(), "  ", nq, " x ", n,
           " x ", dim, " k=", k, ": ", ours->seconds, " s  ", pairs / ours->seconds / 1e9,
           " G pairs/s  ", 2 * pairs * dim / ours->seconds / 1e9, " GFLOP/s  peak +",
           ours->peak_extra_mib, " MiB");
  }
#ifdef DISTTUNE_HAVE_FAISS
  if (engine != "disttune" && d.world_size == 1) {
    omp_set_num_threads(at::get_num_threads());
    const Run f = [&] {
      BlasThreadsScope blas;
      return run_faiss(q, docs, k);
    }();
    out["faiss"] = "IndexFlatIP (faiss 1.x, BLAS " + bench::blas_core() + ")";
    out["faiss_s"] = f.seconds;
    out["faiss_pairs_per_s"] = pairs / f.seconds;
    out["faiss_peak_extra_mib"] = f.peak_extra_mib;
    print0("topk faiss     IndexFlatIP: ", f.seconds, " s  ", pairs / f.seconds / 1e9,
           " G pairs/s  peak +", f.peak_extra_mib, " MiB");
    if (ours) {
      out["speedup_vs_faiss"] = f.seconds / ours->seconds;
      out["check_vs_faiss"] = compare(ours->top, f.top, 1e-5);
      print0("topk check vs faiss: ", out["check_vs_faiss"].dump());
      DT_CHECK(out["check_vs_faiss"]["mismatches"] == 0, "top-k differs from FAISS beyond near-ties");
    }
  }
#else
  out["faiss"] = "unavailable (built without libfaiss-dev)";
  print0("topk faiss     unavailable (install libfaiss-dev and re-run cmake)");
#endif
  {
    // The scoring kernel alone on one chunk, and a BLAS GEMM (at::mm) of the same shape.
    const at::Tensor c = docs.narrow(0, 0, std::min(chunk, n));
    const DotScorer scorer(q);
    at::Tensor s = at::empty({nq, c.size(0)});
    const double flops = 2.0 * nq * c.size(0) * dim;
    const double t_kernel = bench::time_best([&] { scorer.score(c, s.data_ptr<float>()); }, 3);
    const double t_mm = [&] {
      BlasThreadsScope blas;
      return bench::time_best([&] { at::mm_out(s, q, c.t()); }, 3);
    }();
    out["kernel_gflops"] = flops / t_kernel / 1e9;
    out["blas_mm_gflops"] = flops / t_mm / 1e9;
    print0("topk kernel ", cpu_isa_name(scorer.isa()), ": ", flops / t_kernel / 1e9,
           " GFLOP/s   at::mm (BLAS ", bench::blas_core(), "): ", flops / t_mm / 1e9, " GFLOP/s");
  }
  return out;
}

// Rows [s, e) of a synthetic corpus of unit vectors, made of 1024-row blocks with their own
// seeds, so that the corpus is the same whatever chunk size reads it.
at::Tensor corpus_rows(int64_t s, int64_t e, int64_t dim) {
  constexpr int64_t kBlock = 1024;
  std::vector<at::Tensor> parts;
  for (int64_t b = s / kBlock; b * kBlock < e; ++b) parts.push_back(unit_rows(kBlock, dim, 1000 + b));
  return at::cat(parts).narrow(0, s - s / kBlock * kBlock, e - s).contiguous();
}

// A corpus of `docs` unit vectors generated and scored `chunk` rows at a time: the
// process never holds more than a chunk of documents and a chunk of scores.
nlohmann::json memory(const bench::BenchArgs& args) {
  Dist& d = dist();
  DT_REQUIRE(d.world_size == 1, "topk --mode=memory runs as one process");
  const int64_t nq = args.get_int("queries", 1000), n = args.get_int("docs", 1000000);
  const int64_t dim = args.get_int("dim", 384), k = args.get_int("k", 100);
  const at::Tensor q = unit_rows(nq, dim, 1);
  {
    // Untimed warm-up, so that one-time costs (thread pools, allocator arenas) do not land
    // in the first measurement.
    TopKAccumulator warm(q, k, 4096);
    warm.add(corpus_rows(0, 8192, dim), at::arange(0, 8192, at::kLong));
  }
  nlohmann::json rows = nlohmann::json::array();
  std::optional<TopK> first;
  for (int64_t chunk : args.get_int_list("chunks", "1024,4096,16384,65536")) {
    const bool reset = bench::reset_peak_rss();
    const double base = bench::rss_mib();
    const double t0 = now_s();
    TopKAccumulator acc(q, k, chunk);
    for (int64_t s = 0; s < n; s += chunk) {
      const int64_t e = std::min(n, s + chunk);
      acc.add(corpus_rows(s, e, dim), at::arange(s, e, at::kLong));
    }
    const TopK top = acc.result();
    const double secs = now_s() - t0;
    const double peak = bench::peak_rss_mib() - base;
    if (!first) first = top;
    const bool same = at::equal(top.indices, first->indices) &&
                      at::equal(top.scores.view(at::kInt), first->scores.view(at::kInt));
    DT_CHECK(same, "the top-k depends on the chunk size");
    rows.push_back({{"chunk_rows", chunk}, {"peak_extra_mib", peak}, {"seconds", secs},
                    {"score_buffer_mib", acc.peak_score_floats() * 4.0 / (1 << 20)},
                    {"chunk_docs_mib", chunk * dim * 4.0 / (1 << 20)}, {"peak_reset", reset},
                    {"same_result_as_first", same}});
    print0("topk memory  ", n, " docs x ", nq, " queries, chunk ", chunk, ": peak +", peak,
           " MiB (score buffer ", acc.peak_score_floats() * 4.0 / (1 << 20), " MiB), ", secs,
           " s, result identical: ", same ? "yes" : "no");
  }
  return {{"benchmark", "topk_memory"}, {"docs", n}, {"queries", nq}, {"dim", dim}, {"k", k},
          {"threads", at::get_num_threads()},
          {"full_matrix_mib", double(nq) * n * 4 / (1 << 20)}, {"runs", rows}};
}

}  // namespace

DT_BENCHMARK("topk", "exact top-k vs FAISS IndexFlatIP (--queries --docs --dim --k --chunk "
                     "--engine); --mode=memory: 1M streamed documents, peak RSS per chunk size") {
  return args.get("mode", "throughput") == "memory" ? memory(args) : throughput(args);
}
