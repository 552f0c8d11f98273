#include "model/parameter_set.h"

#include <ATen/core/grad_mode.h>

#include <unordered_map>

#include "common/check.h"

namespace disttune {

std::string shape_str(at::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

at::Tensor ParameterSet::add(const std::string& name, at::IntArrayRef shape) {
  for (const auto& p : params_) DT_CHECK(p.name != name, "parameter ", name, " registered twice");
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
  t.set_requires_grad(true);
  params_.push_back({name, t});
  return t;
}

void ParameterSet::add_buffer(const std::string& name, const at::Tensor& value) {
  buffers_.push_back({name, value});
}

void ParameterSet::load(const std::vector<NamedTensor>& tensors, const std::string& source,
                        const std::set<std::string>& ignorable) {
  std::unordered_map<std::string, const at::Tensor*> by_name;
  for (const auto& t : tensors) by_name[t.name] = &t.tensor;
  for (const auto& t : tensors) {
    bool known = ignorable.count(t.name) > 0;
    for (const auto& p : params_) known = known || p.name == t.name;
    for (const auto& b : buffers_) known = known || b.name == t.name;
    DT_REQUIRE(known, source, ": unexpected tensor '", t.name, "' ", shape_str(t.tensor.sizes()),
               ": the model built from config.json has no parameter of that name");
  }
  at::NoGradGuard no_grad;
  for (auto& p : params_) {
    auto it = by_name.find(p.name);
    DT_REQUIRE(it != by_name.end(), source, ": missing tensor '", p.name, "' ",
               shape_str(p.tensor.sizes()), " that config.json implies");
    const at::Tensor& src = *it->second;
    DT_REQUIRE(src.sizes() == p.tensor.sizes(), source, ": tensor '", p.name, "' has shape ",
               shape_str(src.sizes()), " but config.json implies ", shape_str(p.tensor.sizes()));
    DT_REQUIRE(at::isFloatingType(src.scalar_type()), source, ": tensor '", p.name, "' has dtype ",
               c10::toString(src.scalar_type()), "; expected a floating-point type");
    p.tensor.copy_(src);
  }
  for (auto& b : buffers_) {
    auto it = by_name.find(b.name);
    if (it == by_name.end()) continue;
    DT_REQUIRE(it->second->sizes() == b.tensor.sizes(), source, ": tensor '", b.name,
               "' has shape ", shape_str(it->second->sizes()), " but config.json implies ",
               shape_str(b.tensor.sizes()));
    b.tensor.copy_(*it->second);
  }
}

void ParameterSet::to(const at::Device& device) {
  at::NoGradGuard no_grad;
  for (auto& p : params_)
    if (p.tensor.device() != device) p.tensor.set_data(p.tensor.to(device));
  for (auto& b : buffers_)
    if (b.tensor.device() != device) b.tensor.set_data(b.tensor.to(device));
}

}  // namespace disttune
