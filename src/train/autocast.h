// Mixed precision on CUDA: while an AutocastScope is alive, CUDA operators that autocast
// covers (matrix products, attention) run in the given dtype; the rest stays float32. The
// trainer and the train benchmark wrap the encoder's forward in one; losses upcast.
#pragma once

#include <c10/core/ScalarType.h>

namespace disttune {

class AutocastScope {
 public:
  // on = false: a no-op scope (fp32 runs, CPU runs).
  AutocastScope(bool on, at::ScalarType dtype);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool on_;
};

}  // namespace disttune
