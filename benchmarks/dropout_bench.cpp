// Dropout forward and backward per element: disttune's CPU dropout (model/dropout.h, a
// Philox mask) against at::dropout, on the shapes of a MiniLM step at one rank's global
// batch 64 share: a hidden state [3072 tokens, 384] and the attention probabilities
// [32 rows x 12 heads, 48, 48]. PyTorch's own dropout is what at::dropout runs here (the same
// libtorch), so the reference needs no script.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "bench.h"
#include "common/log.h"
#include "model/dropout.h"

DT_BENCHMARK("dropout", "dropout forward + backward ns/element, disttune vs at::dropout (--repeats=R)") {
  using namespace disttune;
  const int repeats = static_cast<int>(args.get_int("repeats", 5));
  nlohmann::json out = {
      {"benchmark", "dropout"}, {"threads", at::get_num_threads()}, {"results", nlohmann::json::array()}};
  for (auto [label, shape] :
       {std::pair<const char*, std::vector<int64_t>>{"hidden", {3072, 384}}, {"attention", {32 * 12, 48, 48}}}) {
    const at::Tensor x = at::randn(shape).requires_grad_(true);
    const at::Tensor g = at::randn(shape);
    const double n = static_cast<double>(x.numel());
    auto run = [&](bool ours) {
      return bench::time_best(
          [&] {
            const at::Tensor y = ours ? dropout(x, 0.1) : at::dropout(x, 0.1, /*train=*/true);
            y.backward(g);
            x.mutable_grad().reset();
          },
          repeats, 1);
    };
    const double ours = run(true), aten = run(false);
    print0("dropout  ", label, " ", x.sizes(), " p 0.1, forward + backward: disttune ", ours / n * 1e9,
           " ns/element, at::dropout ", aten / n * 1e9, " ns/element (", aten / ours, "x)");
    out["results"].push_back({{"tensor", label},
                              {"elements", x.numel()},
                              {"disttune_s", ours},
                              {"at_dropout_s", aten},
                              {"speedup", aten / ours}});
  }
  return out;
}
