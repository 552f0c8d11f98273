#include "model/cpu_gemm.h"

#include <cstdlib>
#include <cstring>

#include "common/check.h"

#if DISTTUNE_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

namespace disttune {
#if DISTTUNE_HAVE_DNNL
namespace {

// Read once: every product of a run takes the same path.
bool switched_off() {
  static const bool off = [] {
    const char* v = std::getenv("DISTTUNE_ONEDNN");
    return v && std::strcmp(v, "0") == 0;
  }();
  return off;
}

}  // namespace
#endif

bool cpu_gemm_enabled() {
#if DISTTUNE_HAVE_DNNL
  return !switched_off();
#else
  return false;
#endif
}

const char* cpu_gemm_name() {
#if DISTTUNE_HAVE_DNNL
  return switched_off() ? "ATen (DISTTUNE_ONEDNN=0)" : "oneDNN sgemm";
#else
  return "ATen";
#endif
}

void cpu_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
               int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
#if DISTTUNE_HAVE_DNNL
  const dnnl_status_t s = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B,
                                     ldb, beta, C, ldc);
  DT_CHECK(s == dnnl_success, "dnnl_sgemm(", M, " x ", N, " x ", K, ") failed with status ",
           static_cast<int>(s));
#else
  DT_CHECK(false, "cpu_sgemm: disttune was built without oneDNN");
#endif
}

}  // namespace disttune
