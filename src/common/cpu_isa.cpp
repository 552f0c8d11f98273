#include "common/cpu_isa.h"

#include <algorithm>

#include "common/check.h"

namespace disttune {

std::vector<CpuIsa> cpu_isas_available() {
  std::vector<CpuIsa> isas = {CpuIsa::Generic};
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isas.push_back(CpuIsa::Avx2);
  if (__builtin_cpu_supports("avx512f")) isas.push_back(CpuIsa::Avx512);
#endif
  return isas;
}

bool cpu_has_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
  return __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
#else
  return false;
#endif
}

CpuIsa cpu_isa_best() {
  static const CpuIsa best = cpu_isas_available().back();
  return best;
}

std::string cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Generic:
      return "generic";
    case CpuIsa::Avx2:
      return "avx2";
    case CpuIsa::Avx512:
      return "avx512";
  }
  return "?";
}

void require_cpu_isa(CpuIsa isa, const char* what) {
  const auto avail = cpu_isas_available();
  DT_CHECK(std::find(avail.begin(), avail.end(), isa) != avail.end(), what, ": kernel ", cpu_isa_name(isa),
           " is not supported by this CPU");
}

}  // namespace disttune
