// The vector instruction sets disttune's hand-written CPU kernels come in (eval/dot_kernel,
// model/dropout, model/softmax_rows), as this CPU supports them: each kernel has a generic
// form and, on x86-64, AVX2 + FMA and AVX-512F forms compiled with target attributes and
// picked at run time. Tests run every form the CPU has.
#pragma once

#include <string>
#include <vector>

// For kernels written as plain loops that GCC vectorises (model/dropout, model/add_layer_norm):
// the function compiled for AVX-512F, AVX2 and baseline x86-64, the form picked when the
// program loads (GCC's target_clones); elsewhere the one baseline form.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define DT_CLONES_AVX512_AVX2 __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DT_CLONES_AVX512_AVX2
#endif

namespace disttune {

enum class CpuIsa { Generic, Avx2, Avx512 };  // Avx2: AVX2 and FMA; Avx512: AVX-512F

// The forms this CPU runs (Generic always first), and the fastest of them (the last).
std::vector<CpuIsa> cpu_isas_available();
CpuIsa cpu_isa_best();
std::string cpu_isa_name(CpuIsa isa);  // "generic", "avx2", "avx512"
// Throws naming `what` when this CPU cannot run `isa`.
void require_cpu_isa(CpuIsa isa, const char* what);

// Whether this CPU has bf16 arithmetic (AVX512-BF16 or AMX-BF16), which oneDNN's bf16
// products run on (training.precision bf16 on the CPU); without it oneDNN emulates them,
// slower than float32 ones.
bool cpu_has_bf16();

}  // namespace disttune
