// AdamW step time for MiniLM-size (22.7M) and bge-base-size (109.5M) parameter sets, for
// each implementation (fused single pass, _foreach, per-tensor ops as torch's default CPU
// path). benchmarks/ref_adamw.py times torch.optim.AdamW on the same shapes and threads.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "bench.h"
#include "bert_shapes.h"
#include "common/log.h"
#include "dist/dist.h"
#include "train/optimizer.h"

DT_BENCHMARK("adamw", "AdamW step time, 22M and 110M parameters (--repeats=R --sizes=small,base)") {
  using namespace disttune;
  const int repeats = static_cast<int>(args.get_int("repeats", 5));
  const std::string sizes = args.get("sizes", "small,base");
  nlohmann::json out = {{"benchmark", "adamw"}, {"threads", at::get_num_threads()}, {"results", nlohmann::json::array()}};
  for (auto [label, hidden, layers] : {std::tuple<const char*, int64_t, int64_t>{"small", 384, 6},
                                       {"base", 768, 12}}) {
    if (sizes.find(label) == std::string::npos) continue;
    NamedParameters params;
    int64_t n = 0;
    for (auto& [name, shape] : bench::bert_shapes(hidden, layers)) {
      at::Tensor p = at::randn(shape).requires_grad_(true);
      p.mutable_grad() = at::randn(shape) * 1e-3;
      n += p.numel();
      params.emplace_back(name, p);
    }
    for (auto [impl, iname] : {std::pair{AdamW::Impl::Fused, "fused"}, {AdamW::Impl::Foreach, "foreach"},
                               {AdamW::Impl::PerTensor, "per_tensor"}}) {
      AdamWOptions o;
      o.weight_decay = 0.01;
      AdamW opt(params, o, impl);
      const double t = bench::time_best([&] { opt.step(2e-5); }, repeats, 1);
      print0("adamw  ", label, " ", n / 1e6, "M params (", params.size(), " tensors)  ", iname, ": ",
             t * 1e3, " ms/step");
      out["results"].push_back({{"size", label}, {"params", n}, {"tensors", params.size()},
                                {"impl", iname}, {"step_s", t}});
    }
  }
  return out;
}
