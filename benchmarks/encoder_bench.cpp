// Encoder forward throughput: sentences/s of a no-grad forward (embeddings, 6 post-LN
// layers, mean pooling, normalisation) for a MiniLM-shaped random model (384 hidden, 12
// heads, 1536 intermediate) at batch 64 x 128 tokens, beside the same shapes in PyTorch
// eager (benchmarks/ref_encode.py, run with /usr/bin/python3 unless --reference=0).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>

#include "bench_model.h"
#include "common/check.h"
#include "common/log.h"
#include "dist/dist.h"
#include "model/sentence_model.h"


DT_BENCHMARK("encode", "encoder forward sentences/s, MiniLM shape (--batch --seq --layers --hidden "
                       "--heads --intermediate --repeats --reference=0|1; threads: DISTTUNE_THREADS)") {
  using namespace disttune;
  const int64_t batch = args.get_int("batch", 64), seq = args.get_int("seq", 128);
  const int repeats = static_cast<int>(args.get_int("repeats", 3));
  const InitOptions init = bench::model_shape(args);
  SentenceModel model = SentenceModel::init(init);

  at::manual_seed(0);
  const at::Tensor ids = at::randint(1000, 30000, {batch, seq}, at::kLong);
  const at::Tensor mask = at::ones({batch, seq}, at::kLong);
  at::Tensor out;
  const double t = bench::time_best(
      [&] {
        at::NoGradGuard no_grad;
        out = model.forward(ids, mask);
      },
      repeats);
  DT_CHECK(out.size(0) == batch && out.size(1) == init.hidden_size, "unexpected output shape");
  const double sps = batch / t;
  nlohmann::json result = {{"benchmark", "encode"},
                           {"batch", batch},
                           {"seq", seq},
                           {"layers", init.num_layers},
                           {"hidden", init.hidden_size},
                           {"threads", at::get_num_threads()},
                           {"seconds", t},
                           {"sentences_per_s", sps},
                           {"tokens_per_s", sps * seq}};
  print0("encode  ", batch, "x", seq, " MiniLM-shaped (", init.num_layers, " layers, ", init.hidden_size,
         " hidden), ", at::get_num_threads(), " threads: ", t, " s per batch, ", sps, " sentences/s");
  if (args.get_int("reference", 1) != 0)
    bench::compare_with_pytorch("encode  ", "ref_encode.py",
                                str_cat("--batch ", batch, " --seq ", seq, " --repeats ", repeats), init,
                                sps, "sentences_per_s", "sentences/s", result);
  return result;
}
