// Train-step throughput: pairs/s and model FLOP utilisation of one MNRL optimizer step
// (embed anchors and positives, cross-rank in-batch negatives, backward, gradient all-reduce,
// clipping, fused AdamW) for a random MiniLM-shaped model (or any --layers/--hidden/...),
// beside the same step in PyTorch eager (benchmarks/ref_train.py, same threads) at world
// size 1. Under mpirun each rank holds global_batch / world rows, as in training.
// MFU = model FLOPs per step / step time / the machine's measured fp32 matmul rate.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "bench_model.h"
#include "common/check.h"
#include "common/log.h"
#include "dist/dist.h"
#include "model/sentence_model.h"
#include "train/clip.h"
#include "train/grad_reducer.h"
#include "train/mnrl.h"
#include "train/optimizer.h"

namespace {

using namespace disttune;

// Forward FLOPs of one sequence of length t through the encoder (multiply-adds x 2):
// Q/K/V/output projections, the feed-forward pair, and attention scores and context.
double encoder_flops(int64_t t, int64_t layers, int64_t h, int64_t inter) {
  const double linear = 2.0 * t * (4.0 * h * h + 2.0 * h * inter);
  const double attention = 2.0 * 2.0 * t * t * h;
  return layers * (linear + attention);
}

// Sustained fp32 matmul rate of this rank's threads (the best of a few 1024^3 products).
double matmul_flops_per_s() {
  const at::Tensor a = at::randn({1024, 1024}), b = at::randn({1024, 1024});
  at::Tensor c;
  const double t = bench::time_best([&] { c = at::mm(a, b); }, 5, 2);
  return 2.0 * 1024 * 1024 * 1024 / t;
}

}  // namespace

DT_BENCHMARK("train", "MNRL optimizer step pairs/s and MFU, MiniLM shape (--batch (global) "
                      "--anchor-seq --seq --layers --hidden --heads --intermediate --steps "
                      "--reference=0|1)") {
  Dist& d = dist();
  const int64_t global = args.get_int("batch", 64);
  const int64_t ta = args.get_int("anchor-seq", 32), tp = args.get_int("seq", 128);
  const int steps = static_cast<int>(args.get_int("steps", 3));
  DT_REQUIRE(global % d.world_size == 0, "--batch ", global, " must divide by the world size ", d.world_size);
  const int64_t local = global / d.world_size;

  const InitOptions init = bench::model_shape(args);
  SentenceModel model = SentenceModel::init(init);
  model.set_training(false);  // dropout off, as in the reference

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

  at::manual_seed(1000 + d.rank);
  const at::Tensor a_ids = at::randint(1000, 30000, {local, ta}, at::kLong);
  const at::Tensor p_ids = at::randint(1000, 30000, {local, tp}, at::kLong);
  const at::Tensor a_mask = at::ones({local, ta}, at::kLong), p_mask = at::ones({local, tp}, at::kLong);
  double last_loss = 0;
  auto step = [&] {
    reducer.zero_grad();
    LossBatch b;
    b.columns = {model.forward(a_ids, a_mask), model.forward(p_ids, p_mask)};
    at::Tensor l = loss.forward(d, b);
    l.backward();
    reducer.all_reduce();
    clip_grad_norm(params, 1.0);
    opt.step(2e-5);
    last_loss = d.comm->all_reduce_scalar(l.item<double>(), ReduceOp::Sum);
  };
  step();  // warm-up: allocations, first-touch
  d.comm->barrier();
  const double t = bench::time_best([&] { step(); d.comm->barrier(); }, steps, 0);
  DT_CHECK(std::isfinite(last_loss), "non-finite loss in the benchmark");

  const double flops = 3.0 * global *
                       (encoder_flops(ta, init.num_layers, init.hidden_size, init.intermediate_size) +
                        encoder_flops(tp, init.num_layers, init.hidden_size, init.intermediate_size));
  const double peak = matmul_flops_per_s() * d.world_size;
  const double pps = global / t, mfu = flops / t / peak;
  nlohmann::json result = {{"benchmark", "train"},
                           {"global_batch", global},
                           {"world_size", d.world_size},
                           {"threads_per_rank", at::get_num_threads()},
                           {"anchor_seq", ta},
                           {"seq", tp},
                           {"layers", init.num_layers},
                           {"hidden", init.hidden_size},
                           {"seconds_per_step", t},
                           {"pairs_per_s", pps},
                           {"model_gflop_per_step", flops / 1e9},
                           {"matmul_peak_gflops", peak / 1e9},
                           {"mfu", mfu}};
  print0("train   global batch ", global, " (", ta, "+", tp, " tokens) on ", d.world_size, " rank(s) x ",
         at::get_num_threads(), " threads, ", init.num_layers, "x", init.hidden_size, ": ", t,
         " s/step, ", pps, " pairs/s, MFU ", mfu, " (matmul peak ", peak / 1e9, " GFLOP/s)");
  if (args.get_int("reference", 1) != 0 && d.world_size == 1)
    bench::compare_with_pytorch("train   ", "ref_train.py",
                                str_cat("--batch ", global, " --anchor-seq ", ta, " --seq ", tp, " --steps ", steps),
                                init, pps, "pairs_per_s", "pairs/s", result);
  return result;
}
