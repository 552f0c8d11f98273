#include "eval/topk.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "common/check.h"

namespace disttune {
namespace {

// Candidates rank 0 holds at once while merging (entries of 12 bytes, ~48 MB): the merge
// goes a block of queries at a time, so its memory does not grow with world size x Q.
constexpr int64_t kMergeBudgetEntries = 4 << 20;

// A chunk is scored and selected from in blocks of about this many scores (4 MB), so that
// the selection reads scores still in cache.
constexpr int64_t kScoreBlockFloats = 1 << 20;

at::Tensor cpu_indices(const at::Tensor& idx) { return idx.to(at::kCPU, at::kLong).contiguous(); }

// One pass over the raw floats (at::isfinite builds several full-size temporaries and costs
// more than a tenth of the scoring).
bool all_finite(const at::Tensor& x) {
  const float* p = x.data_ptr<float>();
  std::atomic<bool> ok{true};
  at::parallel_for(0, x.numel(), 1 << 16, [&](int64_t b, int64_t e) {
    bool good = true;
    for (int64_t i = b; i < e; ++i) good &= std::isfinite(p[i]);
    if (!good) ok = false;
  });
  return ok;
}

}  // namespace

TopKAccumulator::TopKAccumulator(const at::Tensor& queries, int64_t k, int64_t chunk_rows,
                                 CpuIsa isa)
    : scorer_(queries, isa), q_(queries.size(0)), k_(k), chunk_rows_(chunk_rows), state_(q_) {
  DT_REQUIRE(k >= 1, "top-k retrieval: k must be >= 1, got ", k);
  DT_REQUIRE(chunk_rows >= 1, "top-k retrieval: chunk_rows must be >= 1, got ", chunk_rows);
  DT_REQUIRE(all_finite(queries.to(at::kCPU, at::kFloat).contiguous()),
             "top-k retrieval: the query embeddings contain NaN or infinite values");
  for (auto& s : state_) s.cand.reserve(static_cast<size_t>(std::min<int64_t>(2 * k, 1 << 16)));
}

void TopKAccumulator::add(const at::Tensor& docs, const at::Tensor& doc_indices) {
  DT_REQUIRE(docs.dim() == 2 && docs.size(1) == scorer_.dim(), "top-k retrieval: documents must be [n, ",
             scorer_.dim(), "] like the queries, got ", docs.sizes());
  DT_REQUIRE(doc_indices.dim() == 1 && doc_indices.size(0) == docs.size(0),
             "top-k retrieval: expected ", docs.size(0), " document indices, got shape ",
             doc_indices.sizes());
  DT_REQUIRE(!at::isFloatingType(doc_indices.scalar_type()),
             "top-k retrieval: document indices must be integers, got ", doc_indices.scalar_type());
  const int64_t n = docs.size(0);
  for (int64_t s = 0; s < n; s += chunk_rows_) {
    const int64_t rows = std::min(chunk_rows_, n - s);
    const at::Tensor chunk = docs.narrow(0, s, rows).to(at::kCPU, at::kFloat).contiguous();
    const at::Tensor idx = cpu_indices(doc_indices.narrow(0, s, rows));
    DT_REQUIRE(all_finite(chunk), "top-k retrieval: document embeddings ",
               s, "..", s + rows - 1, " contain NaN or infinite values");
    DT_REQUIRE(rows == 0 || idx.min().item<int64_t>() >= 0,
               "top-k retrieval: document indices must be >= 0");
    add_chunk(chunk, idx.data_ptr<int64_t>());
  }
}

void TopKAccumulator::add_chunk(const at::Tensor& docs, const int64_t* idx) {
  const int64_t n = docs.size(0);
  DT_CHECK(n <= chunk_rows_, "chunk of ", n, " rows exceeds chunk_rows ", chunk_rows_);
  const int64_t block = std::min(n, std::max<int64_t>(256, kScoreBlockFloats / std::max<int64_t>(q_, 1) / 32 * 32));
  if (static_cast<int64_t>(scores_.size()) < q_ * block) scores_.resize(static_cast<size_t>(q_ * block));
  peak_score_floats_ = std::max<int64_t>(peak_score_floats_, static_cast<int64_t>(scores_.size()));
  for (int64_t b0 = 0; b0 < n; b0 += block) {
    const int64_t nb = std::min(block, n - b0);
    scorer_.score(docs.narrow(0, b0, nb), scores_.data());
    select(nb, idx + b0);
  }
  docs_added_ += n;
}

// Folds a block of scores ([Q, nb] in scores_) into every query's candidates.
void TopKAccumulator::select(int64_t nb, const int64_t* idx) {
  at::parallel_for(0, q_, 16, [&](int64_t q0, int64_t q1) {
    for (int64_t i = q0; i < q1; ++i) {
      QueryState& st = state_[i];
      const float* row = scores_.data() + i * nb;
      // Below the k-th best score nothing can enter: the common case is one compare.
      float floor = st.full ? st.worst.score : -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < nb; ++j) {
        if (row[j] < floor) continue;
        const Entry e{row[j], idx[j]};
        if (st.full && !better(e, st.worst)) continue;
        st.cand.push_back(e);
        if (static_cast<int64_t>(st.cand.size()) >= 2 * k_) {
          compact(st);
          floor = st.worst.score;
        }
      }
    }
  });
}

void TopKAccumulator::compact(QueryState& s) const {
  std::nth_element(s.cand.begin(), s.cand.begin() + (k_ - 1), s.cand.end(), better);
  s.worst = s.cand[k_ - 1];
  s.cand.resize(k_);
  s.full = true;
}

TopK TopKAccumulator::result() const {
  const int64_t kk = std::min(k_, docs_added_);
  TopK out{at::empty({q_, kk}, at::kFloat), at::empty({q_, kk}, at::kLong)};
  float* sp = out.scores.data_ptr<float>();
  int64_t* ip = out.indices.data_ptr<int64_t>();
  at::parallel_for(0, q_, 16, [&](int64_t q0, int64_t q1) {
    std::vector<Entry> c;
    for (int64_t i = q0; i < q1; ++i) {
      c = state_[i].cand;
      DT_CHECK(static_cast<int64_t>(c.size()) >= kk, "query ", i, " has ", c.size(),
               " candidates, fewer than ", kk);
      std::partial_sort(c.begin(), c.begin() + kk, c.end(), better);
      for (int64_t j = 0; j < kk; ++j) {
        sp[i * kk + j] = c[j].score;
        ip[i * kk + j] = c[j].index;
      }
    }
  });
  return out;
}

TopK local_topk(const at::Tensor& queries, const at::Tensor& docs, const at::Tensor& doc_indices,
                int64_t k, int64_t chunk_rows) {
  TopKAccumulator acc(queries, k, chunk_rows);
  acc.add(docs, doc_indices);
  return acc.result();
}

TopK merge_topk(Communicator& comm, const TopK& local, int64_t k) {
  DT_REQUIRE(k >= 1, "top-k merge: k must be >= 1, got ", k);
  DT_CHECK(local.scores.dim() == 2 && local.indices.sizes() == local.scores.sizes(),
           "top-k merge: scores ", local.scores.sizes(), " and indices ", local.indices.sizes(),
           " must both be [Q, k]");
  const at::Tensor ls = local.scores.to(at::kCPU, at::kFloat).contiguous();
  const at::Tensor li = cpu_indices(local.indices);
  const int64_t q = ls.size(0), kl = ls.size(1);
  // Every check below sees the same values on every rank, so all ranks fail together.
  const int64_t kl_max = comm.all_reduce_int(kl, ReduceOp::Max);
  DT_CHECK(kl_max <= k, "top-k merge: a local list of ", kl_max, " exceeds k = ", k);
  const int64_t q_min = comm.all_reduce_int(q, ReduceOp::Min);
  const int64_t q_max = comm.all_reduce_int(q, ReduceOp::Max);
  DT_REQUIRE(q_min == q_max, "top-k merge: ranks hold different numbers of queries (", q_min,
             " to ", q_max, "); every rank must score all queries");
  const int64_t kf = std::min(k, comm.all_reduce_int(kl, ReduceOp::Sum));

  TopK out{at::empty({q, kf}, at::kFloat), at::empty({q, kf}, at::kLong)};
  const int world = comm.world_size();
  const bool root = comm.rank() == 0;
  const int64_t block = std::max<int64_t>(1, kMergeBudgetEntries / (world * k));
  struct Entry {
    float score;
    int64_t index;
  };
  const auto better = [](const Entry& a, const Entry& b) {
    return a.score > b.score || (a.score == b.score && a.index < b.index);
  };
  std::vector<Entry> cand;
  for (int64_t q0 = 0; q0 < q; q0 += block) {
    const int64_t nb = std::min(block, q - q0);
    std::vector<at::Tensor> gs = comm.gather(ls.narrow(0, q0, nb).reshape({-1}), 0);
    std::vector<at::Tensor> gi = comm.gather(li.narrow(0, q0, nb).reshape({-1}), 0);
    if (!root) continue;
    DT_CHECK(static_cast<int>(gs.size()) == world && gi.size() == gs.size(), "gather returned ",
             gs.size(), " parts for ", world, " ranks");
    float* osp = out.scores.data_ptr<float>();
    int64_t* oip = out.indices.data_ptr<int64_t>();
    for (int64_t b = 0; b < nb; ++b) {
      cand.clear();
      for (int r = 0; r < world; ++r) {
        const int64_t kr = gs[r].numel() / nb;
        const float* s = gs[r].data_ptr<float>() + b * kr;
        const int64_t* ix = gi[r].data_ptr<int64_t>() + b * kr;
        for (int64_t j = 0; j < kr; ++j) cand.push_back({s[j], ix[j]});
      }
      DT_CHECK(static_cast<int64_t>(cand.size()) >= kf, "merge: ", cand.size(),
               " candidates for ", kf, " places");
      std::partial_sort(cand.begin(), cand.begin() + kf, cand.end(), better);
      for (int64_t j = 0; j < kf; ++j) {
        osp[(q0 + b) * kf + j] = cand[j].score;
        oip[(q0 + b) * kf + j] = cand[j].index;
      }
    }
  }
  if (q * kf > 0) {
    comm.broadcast(out.scores, 0);
    comm.broadcast(out.indices, 0);
  }
  return out;
}

}  // namespace disttune
