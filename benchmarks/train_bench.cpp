// Train-step throughput: pairs/s and model FLOP utilisation of one MNRL optimizer step
// (embed anchors and positives, cross-rank in-batch negatives, backward, gradient all-reduce,
// clipping, fused AdamW) for a random BERT of any shape (MiniLM's by default), at one or
// more global batch sizes in one process. Under mpirun each rank holds global_batch / world
// rows, as in training. benchmarks/run puts the PyTorch eager reference (ref_train.py, same
// step, same world size and threads per rank) beside it.
//
// One warm-up step at the largest batch (allocations, first touch of every buffer: the
// smaller batches reuse that heap), then --steps timed steps per batch (the best counts).
// --lengths=FILE (from `disttune_bench lengths`: one "anchor positive" token count per pair)
// replaces the fixed --anchor-seq/--seq: global batch g takes the file's first g pairs, each
// rank its slice, every role padded to its longest row as sentence-transformers pads; MFU
// then counts the real tokens' FLOPs only. --pack=0 turns token packing off
// (model/token_packing.h), to see what it gains.
// --mini-batch > 0 runs the step as cached MNRL (GradCache): the same gradients with the
// activation memory of that many rows, at the price of a second forward pass.
// --checkpointing=1 recomputes each encoder layer in backward (training.gradient_checkpointing):
// the activation memory of the layer inputs and one layer, at the price of a second forward.
// --profile=FILE records one more step at the largest batch (rank 0) as a chrome trace;
// benchmarks/profile_compare.py sets it beside ref_train.py --profile.
// MFU = model FLOPs per step (3 x forward, the recompute of cached MNRL not counted) / step
// time / the machine's measured matmul rate (all ranks measuring at once) in the step's
// compute precision.
// --device=cuda runs the step on the rank's GPU (NCCL between ranks), --precision=bf16 under
// autocast as the trainer's training.precision: bf16 does; the peak is then the GPU's
// measured bf16 matmul rate.
// Memory: the largest rank's peak resident memory over the steps (that of the largest batch,
// the model and AdamW state included), and on a GPU its peak of allocated GPU memory, as
// ref_train.py reports both.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#if __has_include(<torch/csrc/autograd/profiler_legacy.h>)
#include <torch/csrc/autograd/profiler_legacy.h>
#define DT_HAVE_RECORD_PROFILE 1
#endif

#ifdef DISTTUNE_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <fstream>

#include "bench_model.h"
#include "common/check.h"
#include "common/log.h"
#include "dist/dist.h"
#include "model/linear.h"
#include "model/sentence_model.h"
#include "model/autocast.h"
#include "train/grad_cache.h"
#include "train/clip.h"
#include "train/grad_reducer.h"
#include "train/mnrl.h"
#include "train/optimizer.h"

namespace {

using namespace disttune;

// Forward FLOPs of one sequence of length t through the encoder (multiply-adds x 2):
// Q/K/V/output projections, the feed-forward pair, and attention scores and context.
// benchmarks/scaling_model.py counts the same way. With `first_only` (CLS pooling) only the
// FLOPs the pooled state needs: the last layer's K and V for every token, the rest for the
// first token (what disttune runs; the reference computes the whole layer, as Hugging Face
// does, and its MFU counts the same useful FLOPs, as padding is left out of it).
double encoder_flops(int64_t t, int64_t layers, int64_t h, int64_t inter, bool first_only) {
  const double linear = 2.0 * t * (4.0 * h * h + 2.0 * h * inter);
  const double attention = 2.0 * 2.0 * t * t * h;
  if (!first_only || layers == 0) return layers * (linear + attention);
  const double last = 2.0 * t * 2.0 * h * h + 2.0 * (2.0 * h * h + 2.0 * h * inter) + 2.0 * 2.0 * t * h;
  return (layers - 1) * (linear + attention) + last;
}

// Sustained fp32 matmul rate of this rank's threads: the best over square products of 1024,
// 2048 and 4096 (1024^3 alone understates it, by half on the development machine, where the
// step's larger products run faster than that), through at::mm (the BLAS) and through the
// encoder's projections (model/linear.h: oneDNN when built with it), whichever is faster.
// On a GPU: at::mm in `dtype` over 4096 and 8192, ten products per timing (launches and the
// sync amortised).
double matmul_flops_per_s(const at::Device& device, at::ScalarType dtype) {
  double best = 0;
  if (device.is_cuda()) {
    for (int64_t n : {4096, 8192}) {
      const auto opts = at::TensorOptions().device(device).dtype(dtype);
      const at::Tensor a = at::randn({n, n}, opts), b = at::randn({n, n}, opts);
      at::Tensor c;
      const double flops = 10 * 2.0 * static_cast<double>(n * n * n);
      best = std::max(best, flops / bench::time_best([&] {
                              for (int i = 0; i < 10; ++i) c = at::mm(a, b);
                              bench::sync(c);
                            }, 3, 1));
    }
    return best;
  }
  // bf16 on the CPU: ATen's bf16 product (oneDNN's, on AMX where the CPU has it), the one
  // autocast runs the step's products on.
  for (int64_t n : {1024, 2048, 4096}) {
    const at::Tensor a = at::randn({n, n}).to(dtype), b = at::randn({n, n}).to(dtype);
    at::Tensor c;
    const double flops = 2.0 * static_cast<double>(n * n * n);
    // A 4096 product takes 0.6-1.3 s on one or two cores: one after its warm-up is steady,
    // and three were ~10 s of every 2 x 1 entry.
    const int repeats = n >= 4096 ? 1 : 3;
    best = std::max(best, flops / bench::time_best([&] { c = at::mm(a, b); }, repeats, 1));
    if (dtype == at::kFloat)
      best = std::max(best, flops / bench::time_best([&] { c = linear(a, b, at::Tensor()); }, repeats, 1));
  }
  return best;
}

// Minor page faults of this process so far (first touches of fresh memory, which cost more
// than the arithmetic on some buffers: see dist.cpp's tune_malloc) and its CPU seconds (user
// + system, all threads: on a loaded machine a steadier measure than wall time at 1 thread).
struct Usage {
  int64_t faults;
  double cpu_s;
};
Usage usage() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return {u.ru_minflt, secs(u.ru_utime) + secs(u.ru_stime)};
}

// "anchor positive" token counts, one pair per line.
std::vector<std::array<int64_t, 2>> read_lengths(const std::string& path) {
  std::ifstream in(path);
  DT_REQUIRE(in, path, ": cannot open (write it with `disttune_bench lengths --out=", path, "`)");
  std::vector<std::array<int64_t, 2>> rows;
  int64_t a = 0, p = 0;
  while (in >> a >> p) {
    DT_REQUIRE(a > 0 && p > 0, path, " line ", rows.size() + 1, ": token counts must be positive");
    rows.push_back({a, p});
  }
  DT_REQUIRE(in.eof() && !rows.empty(), path, " line ", rows.size() + 1, ": expected two token counts");
  return rows;
}

// Rows [begin, end) of one role as a padded batch: random ids for the real tokens, 0 (the
// padding id) after them, the batch as long as its longest row.
std::array<at::Tensor, 2> padded_batch(const std::vector<std::array<int64_t, 2>>& lengths, int role,
                                       int64_t begin, int64_t end) {
  int64_t T = 0;
  for (int64_t i = begin; i < end; ++i) T = std::max(T, lengths[i][role]);
  at::Tensor len = at::empty({end - begin, 1}, at::kLong);
  for (int64_t i = begin; i < end; ++i) len[i - begin][0] = lengths[i][role];
  const at::Tensor mask = (at::arange(T, at::kLong).unsqueeze(0) < len).to(at::kLong);
  const at::Tensor ids = at::randint(1000, 30000, {end - begin, T}, at::kLong).mul_(mask);
  return {ids, mask};
}

}  // namespace

DT_BENCHMARK("train", "MNRL optimizer step pairs/s and MFU (--batches=64,128 (global) --anchor-seq "
                      "--seq --lengths=FILE --pack=1 --layers --hidden --heads --intermediate --steps "
                      "--warmup --mini-batch --profile=FILE --device=cpu|cuda --precision=fp32|bf16 --dropout=P --pooling=mean|cls)") {
  Dist& d = dist();
  const bench::Placement pl = bench::placement(args, d);
  const bool autocast = pl.precision != "fp32";
  const std::vector<int64_t> batches =
      args.get_int_list("batches", std::to_string(args.get_int("batch", 64)));
  const int64_t ta = args.get_int("anchor-seq", 32), tp = args.get_int("seq", 128);
  const int steps = static_cast<int>(args.get_int("steps", 1));
  const int warmup = static_cast<int>(args.get_int("warmup", 1));
  const int64_t mini = args.get_int("mini-batch", 0);
  const std::string lengths_file = args.get("lengths", "");
  const std::vector<std::array<int64_t, 2>> lengths =
      lengths_file.empty() ? std::vector<std::array<int64_t, 2>>{} : read_lengths(lengths_file);
  for (int64_t g : batches) {
    DT_REQUIRE(g > 0 && g % d.world_size == 0, "--batches: ", g, " must divide by the world size ", d.world_size);
    DT_REQUIRE(lengths.empty() || g <= static_cast<int64_t>(lengths.size()), "--batches: ", g, " exceeds the ",
               lengths.size(), " pairs of ", lengths_file);
  }

  // Measured first, with every rank's threads busy at once, as during the steps.
  const double peak = matmul_flops_per_s(pl.device, pl.dtype) * d.world_size;
  // Its 4096^2 operands are no part of the step's memory, but the heap keeps ~400 MiB of them
  // resident: given back, and the peak RSS reported below counted from here.
#ifdef __GLIBC__
  malloc_trim(0);
#endif
  const bool peak_reset = bench::reset_peak_rss();
#ifdef DISTTUNE_TORCH_CUDA
  if (pl.device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(pl.device.index());
#endif

  const InitOptions init = bench::model_shape(args);
  // --dropout: BERT's hidden and attention dropout on, as a fine-tuning step runs them; off by
  // default so that both sides compute the same arithmetic.
  const double dropout = args.get_float("dropout", 0.0);
  ModelOptions mopts;
  mopts.dropout = dropout;
  // --pooling=cls: as bge models pool (the last layer then runs for the first tokens only).
  mopts.pooling = args.get("pooling", "mean");
  DT_REQUIRE(mopts.pooling == "mean" || mopts.pooling == "cls", "--pooling: '", mopts.pooling,
             "' (expected mean or cls)");
  const bool first_only = mopts.pooling == "cls";
  SentenceModel model = SentenceModel::init(init, mopts);
  if (pl.device.is_cuda()) {
    model.to(pl.device);
    if (d.world_size > 1) dist_enable_nccl(d, pl.device.index());
  }
  model.set_training(dropout > 0);
  const bool pack = args.get_int("pack", 1) != 0;
  model.set_token_packing(pack);
  const bool checkpointing = args.get_int("checkpointing", 0) != 0;
  model.set_gradient_checkpointing(checkpointing);

  NamedParameters named;
  std::vector<at::Tensor> params;
  std::vector<bool> decays;
  for (auto& p : model.parameters()) {
    if (p.name.rfind("pooler.", 0) == 0) {
      p.tensor.requires_grad_(false);
      continue;
    }
    named.emplace_back(p.name, p.tensor);
    params.push_back(p.tensor);
    decays.push_back(hf_weight_decay(p.name));
  }
  AdamWOptions o;
  o.weight_decay = 0.01;
  AdamW opt(named, decays, o);
  GradReducer reducer(d, params);
  Mnrl loss(20.0);
  GradCache cached(std::make_unique<Mnrl>(20.0), mini);

  double last_loss = 0;
  int64_t padded_tokens = 0;  // this rank's, in the last step
  auto step = [&](int64_t global) {
    const int64_t local = global / d.world_size;
    at::manual_seed(1000 + d.rank);
    at::Tensor ids[2], masks[2];
    for (int role = 0; role < 2; ++role) {
      if (lengths.empty()) {
        ids[role] = at::randint(1000, 30000, {local, role == 0 ? ta : tp}, at::kLong);
        masks[role] = at::ones_like(ids[role]);
      } else {
        const auto b = padded_batch(lengths, role, d.rank * local, (d.rank + 1) * local);
        ids[role] = b[0];
        masks[role] = b[1];
      }
    }
    padded_tokens = ids[0].numel() + ids[1].numel();
    reducer.zero_grad();
    double share = 0;
    at::Tensor loss_value;  // read after the step: reading it earlier would stall a GPU's queue
    if (mini > 0) {
      EmbedFn fn = [&](int role, int64_t b, int64_t e) {
        AutocastScope ac(autocast, pl.dtype, pl.device.type());
        return model.forward(ids[role].narrow(0, b, e - b), masks[role].narrow(0, b, e - b));
      };
      share = cached.step(d, fn, 2, local);
    } else {
      LossBatch b;
      {
        AutocastScope ac(autocast, pl.dtype, pl.device.type());
        b.columns = {model.forward(ids[0], masks[0]), model.forward(ids[1], masks[1])};
      }
      at::Tensor l = loss.forward(d, b);
      l.backward();
      loss_value = l.detach();
    }
    reducer.all_reduce();
    opt.step(2e-5, clip_coefficient(params, 1.0).coef);
    bench::sync(params.back());
    if (loss_value.defined()) share = loss_value.item<double>();
    last_loss = d.comm->all_reduce_scalar(share, ReduceOp::Sum);
  };

  const int64_t largest = *std::max_element(batches.begin(), batches.end());
  for (int i = 0; i < warmup; ++i) step(largest);
  d.comm->barrier();
  nlohmann::json points = nlohmann::json::array();
  for (int64_t global : batches) {
    const Usage u0 = usage();
    const double t = bench::time_best([&] { step(global); d.comm->barrier(); }, steps, 0);
    const Usage u1 = usage();
    const double faults = static_cast<double>(u1.faults - u0.faults) / steps;
    DT_CHECK(std::isfinite(last_loss), "non-finite loss in the benchmark");
    auto flops_of = [&](int64_t t) {
      return encoder_flops(t, init.num_layers, init.hidden_size, init.intermediate_size, first_only);
    };
    double flops = 0, real_tokens = 0;
    for (int64_t i = 0; i < global; ++i) {
      const int64_t a = lengths.empty() ? ta : lengths[i][0], p = lengths.empty() ? tp : lengths[i][1];
      flops += 3.0 * (flops_of(a) + flops_of(p));
      real_tokens += static_cast<double>(a + p);
    }
    const double padded = d.comm->all_reduce_scalar(static_cast<double>(padded_tokens), ReduceOp::Sum);
    const double pps = global / t, mfu = flops / t / peak;
    points.push_back({{"global_batch", global},
                      {"seconds_per_step", t},
                      {"pairs_per_s", pps},
                      {"model_gflop_per_step", flops / 1e9},
                      {"mfu", mfu},
                      {"real_token_fraction", real_tokens / padded},
                      {"page_faults_per_step", faults},
                      {"cpu_seconds_per_step", (u1.cpu_s - u0.cpu_s) / steps},
                      {"loss", last_loss}});
    const std::string tokens = lengths.empty() ? str_cat(ta, "+", tp, " tokens")
                                               : str_cat("financial-rag lengths, ", real_tokens / padded,
                                                         " of the padded tokens real", pack ? ", packed" : "");
    const std::string where = pl.device.is_cuda() ? str_cat(" GPU(s), ", pl.precision)
                                                  : str_cat(" rank(s) x ", at::get_num_threads(), " threads");
    print0("train   ", init.num_layers, "x", init.hidden_size, " global batch ", global, " (", tokens,
           mini > 0 ? str_cat(", cached MNRL mini-batch ", mini) : std::string(), ") on ",
           d.world_size, where, ": ", t, " s/step, ", pps,
           " pairs/s, MFU ", mfu, " (matmul peak ", peak / 1e9, " GFLOP/s)");
  }
  // The resident high-water mark since the matmul measurement, the largest rank's: what the
  // entry's largest batch needed (its warm-up comes first; smaller batches reuse that heap),
  // the model and optimizer state included. Read before the profiled step, whose recorder
  // allocates.
  const double peak_rss = d.comm->all_reduce_scalar(bench::peak_rss_mib(), ReduceOp::Max);
  print0("train   peak resident memory ", peak_rss, " MiB per rank");
  // On a GPU, the caching allocator's peak of allocated bytes (torch.cuda.max_memory_allocated
  // on the references' side), from the same point.
  double peak_gpu = -1;
#ifdef DISTTUNE_TORCH_CUDA
  if (pl.device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(pl.device.index());
    peak_gpu = d.comm->all_reduce_scalar(static_cast<double>(stats.allocated_bytes[0].peak) / (1 << 20),
                                         ReduceOp::Max);  // [0]: all pools
    print0("train   peak GPU memory allocated ", peak_gpu, " MiB per rank");
  }
#endif
  const std::string profile = args.get("profile", "");
  if (!profile.empty()) {
#ifdef DT_HAVE_RECORD_PROFILE
    std::unique_ptr<torch::autograd::profiler::RecordProfile> guard;
    if (d.is_root()) guard = std::make_unique<torch::autograd::profiler::RecordProfile>(profile);
    step(largest);
    guard.reset();
    print0("train   profile of one step at global batch ", largest, ": ", profile);
#else
    DT_FAIL("--profile: this libtorch has no legacy profiler (torch/csrc/autograd/profiler_legacy.h)");
#endif
  }
  nlohmann::json out{{"benchmark", "train"},
                     {"world_size", d.world_size},
                     {"threads_per_rank", at::get_num_threads()},
                     {"device", pl.device.is_cuda() ? "cuda" : "cpu"},
                     {"precision", pl.precision},
                     {"anchor_seq", ta},
                     {"seq", tp},
                     {"lengths", lengths_file},
                     {"token_packing", pack},
                     {"gradient_checkpointing", checkpointing},
                     {"layers", init.num_layers},
                     {"hidden", init.hidden_size},
                     {"heads", init.num_heads},
                     {"intermediate", init.intermediate_size},
                     {"mini_batch", mini},
                     {"dropout", dropout},
                     {"pooling", mopts.pooling},
                     {"warmup_steps", warmup},
                     {"timed_steps", steps},
                     {"matmul_peak_gflops", peak / 1e9},
                     {"blas_core", bench::blas_core()},
                     {"projections", pl.device.is_cuda() ? std::string("at::linear (CUDA)") : linear_backend()},
                     {"peak_rss_mib", peak_rss},
                     {"peak_rss_since", peak_reset ? "matmul peak measured" : "process start"},
                     {"points", points}};
  if (peak_gpu >= 0) out["peak_gpu_allocated_mib"] = peak_gpu;
  return out;
}
