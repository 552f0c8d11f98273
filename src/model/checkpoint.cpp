#include "model/checkpoint.h"

#include <ATen/core/grad_mode.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include "common/check.h"
#include "model/autocast.h"
#include "model/rng_state.h"

namespace disttune {
namespace {

// What backward needs to run f again as the forward ran it. Held in the autograd context as
// a capsule: f and the captured tensors are not IValues.
struct Replay : torch::CustomClassHolder {
  CheckpointFn f;
  std::vector<at::Tensor> captured;
  at::Tensor x;
  RngState rng;
  AutocastState cpu, cuda;
};

struct CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            at::TensorList /*captured: inputs for their gradient edges*/,
                            const c10::intrusive_ptr<Replay>& replay) {
    replay->x = x.detach();
    replay->rng = capture_rng();
    replay->cpu = autocast_state(at::kCPU);
    replay->cuda = autocast_state(at::kCUDA);
    ctx->saved_data["replay"] = at::IValue::make_capsule(replay);
    return replay->f(x, replay->captured);  // grad mode is off here: no activations are kept
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto replay = c10::static_intrusive_pointer_cast<Replay>(ctx->saved_data["replay"].toCapsule());
    const size_t n = replay->captured.size();
    torch::autograd::variable_list out(n + 2);  // x, each captured tensor, the replay
    if (!grads[0].defined()) return out;
    const at::Tensor x = replay->x.detach().requires_grad_(true);
    std::vector<at::Tensor> use(n), wrt{x};
    std::vector<size_t> slot{0};
    for (size_t i = 0; i < n; ++i) {
      const at::Tensor& t = replay->captured[i];
      use[i] = t.is_leaf() ? t : t.detach().requires_grad_(t.requires_grad());
      if (use[i].requires_grad()) {
        wrt.push_back(use[i]);
        slot.push_back(i + 1);
      }
    }
    // Draw again what the forward drew, then leave the generators as backward found them.
    const RngState now = capture_rng();
    restore_rng(replay->rng);
    at::Tensor y;
    {
      at::AutoGradMode grad_mode(true);
      AutocastScope cpu(replay->cpu.on, replay->cpu.dtype, at::kCPU);
      AutocastScope cuda(replay->cuda.on, replay->cuda.dtype, at::kCUDA);
      y = replay->f(x, use);
    }
    restore_rng(now);
    const torch::autograd::variable_list g =
        torch::autograd::grad({y}, wrt, {grads[0]}, /*retain_graph=*/false, /*create_graph=*/false,
                              /*allow_unused=*/true);
    for (size_t k = 0; k < g.size(); ++k) out[slot[k]] = g[k];
    return out;
  }
};

}  // namespace

at::Tensor checkpointed(const CheckpointFn& f, const at::Tensor& x, const std::vector<at::Tensor>& captured) {
  auto replay = c10::make_intrusive<Replay>();
  replay->f = f;
  replay->captured = captured;
  return CheckpointFunction::apply(x, at::TensorList(captured), replay);
}

}  // namespace disttune
