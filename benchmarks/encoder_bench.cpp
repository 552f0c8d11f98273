// Encoder forward throughput: sentences/s of a no-grad forward (embeddings, 6 post-LN
// layers, mean pooling, normalisation) for a MiniLM-shaped random model (384 hidden, 12
// heads, 1536 intermediate) at batch 64 x 128 tokens, beside the same shapes in PyTorch
// eager (benchmarks/ref_encode.py, run with /usr/bin/python3 unless --reference=0).
// Both benchmarks take --device=cuda and --precision=bf16 (autocast) as the train benchmark.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "bench_model.h"
#include "common/check.h"
#include "common/log.h"
#include "data/beir.h"
#include "dist/dist.h"
#include "embed/embedder.h"
#include "model/sentence_model.h"
#include "model/autocast.h"

namespace {

// The fields both encode benchmarks record.
nlohmann::json encode_record(const char* name, const disttune::InitOptions& init, const disttune::bench::Placement& pl,
                             double seconds, double sentences_per_s) {
  return {{"benchmark", name},
          {"layers", init.num_layers},
          {"hidden", init.hidden_size},
          {"threads", at::get_num_threads()},
          {"device", pl.device.str()},
          {"precision", pl.precision},
          {"seconds", seconds},
          {"sentences_per_s", sentences_per_s}};
}

}  // namespace

DT_BENCHMARK("encode", "encoder forward sentences/s, MiniLM shape (--batch --seq --layers --hidden "
                       "--heads --intermediate --repeats --reference=0|1 --device --precision; threads: "
                       "DISTTUNE_THREADS)") {
  using namespace disttune;
  const bench::Placement pl = bench::placement(args, dist());
  const int64_t batch = args.get_int("batch", 64), seq = args.get_int("seq", 128);
  const int repeats = static_cast<int>(args.get_int("repeats", 3));
  const InitOptions init = bench::model_shape(args);
  SentenceModel model = SentenceModel::init(init);
  if (pl.device.is_cuda()) model.to(pl.device);

  at::manual_seed(0);
  const at::Tensor ids = at::randint(1000, 30000, {batch, seq}, at::kLong);
  const at::Tensor mask = at::ones({batch, seq}, at::kLong);
  at::Tensor out;
  const double t = bench::time_best(
      [&] {
        at::NoGradGuard no_grad;
        AutocastScope ac(pl.precision != "fp32", pl.dtype, pl.device.type());
        out = model.forward(ids, mask);
        bench::sync(out);
      },
      repeats);
  DT_CHECK(out.size(0) == batch && out.size(1) == init.hidden_size, "unexpected output shape");
  const double sps = batch / t;
  nlohmann::json result = encode_record("encode", init, pl, t, sps);
  result["batch"] = batch;
  result["seq"] = seq;
  result["tokens_per_s"] = sps * seq;
  print0("encode  ", batch, "x", seq, " MiniLM-shaped (", init.num_layers, " layers, ", init.hidden_size,
         " hidden), ", at::get_num_threads(), " threads: ", t, " s per batch, ", sps, " sentences/s");
  if (args.get_int("reference", 1) != 0)
    bench::compare_with_pytorch("encode  ", "ref_encode.py",
                                str_cat("--batch ", batch, " --seq ", seq, " --repeats ", repeats,
                                        bench::reference_flags(pl)),
                                init,
                                sps, "sentences_per_s", "sentences/s", result);
  return result;
}

// Corpus encoding as users run it: real documents (the first --docs of SciFact's corpus, title
// + text) through Embedder::encode, which tokenizes, truncates at --max-length, sorts by
// length and pads each batch of --batch to its longest text, as sentence-transformers'
// encode() does. The reference (ref_encode.py --lengths) runs the same batches: it gets
// each text's sort key and token count, sorts and batches them the same way and embeds
// random ids of those lengths (the ids do not change the cost).
DT_BENCHMARK("encode_corpus", "length-sorted encoding of real documents, sentences/s (--data=DIR --docs=512 "
                              "--batch=32 --max-length=256 --layers --hidden --heads --intermediate "
                              "--repeats --reference=0|1 --device --precision)") {
  using namespace disttune;
  const bench::Placement pl = bench::placement(args, dist());
  const std::string corpus = bench::data_dir(args) + "/scifact/corpus.jsonl";
  const int64_t docs = args.get_int("docs", 512), batch = args.get_int("batch", 32);
  const int max_length = static_cast<int>(args.get_int("max-length", 256));
  const int repeats = static_cast<int>(args.get_int("repeats", 1));
  std::vector<std::string> texts = read_corpus_texts(corpus);
  if (static_cast<int64_t>(texts.size()) > docs) texts.resize(static_cast<size_t>(docs));
  const InitOptions init = bench::model_shape(args);
  SentenceModel model = SentenceModel::init(init);
  if (pl.device.is_cuda()) model.to(pl.device);
  Embedder embedder(model, Embedder::tokenizer_for(model));
  EncodeOptions opt;
  opt.batch_size = batch;
  opt.max_length = max_length;

  // The batches the embedder will form, for the padding figures and the reference.
  std::vector<int64_t> tokens(texts.size());
  int64_t real = 0, padded = 0;
  for (size_t i = 0; i < texts.size(); ++i)
    real += tokens[i] = static_cast<int64_t>(embedder.tokenizer().encode(texts[i], max_length).size());
  const BatchGrid grid = make_batch_grid(texts, batch, 1);
  for (int64_t b = 0; b < grid.num_batches(); ++b) {
    int64_t longest = 0;
    for (int64_t i = grid.batch_begin[b]; i < grid.batch_begin[b + 1]; ++i)
      longest = std::max(longest, tokens[grid.order[i]]);
    padded += longest * (grid.batch_begin[b + 1] - grid.batch_begin[b]);
  }

  // Warm-up on the longest batch (the heap of every later one).
  const std::vector<std::string> longest_batch(texts.begin(), texts.begin() + std::min<int64_t>(batch, docs));
  // (Embedder::encode returns CPU tensors: every timing ends with the device's work done.)
  AutocastScope ac(pl.precision != "fp32", pl.dtype, pl.device.type());
  at::Tensor out = embedder.encode(longest_batch, opt);
  const double t = bench::time_best([&] { out = embedder.encode(texts, opt); }, repeats, 0);
  const int64_t n = static_cast<int64_t>(texts.size());
  DT_CHECK(out.size(0) == n && out.size(1) == init.hidden_size, "unexpected output shape");
  const double sps = static_cast<double>(n) / t;
  nlohmann::json result = encode_record("encode_corpus", init, pl, t, sps);
  result["corpus"] = corpus;
  result["docs"] = n;
  result["batch"] = batch;
  result["max_length"] = max_length;
  result["tokens_per_s"] = static_cast<double>(real) / t;
  result["mean_tokens"] = static_cast<double>(real) / static_cast<double>(n);
  result["real_token_fraction"] = static_cast<double>(real) / static_cast<double>(padded);
  print0("encode  ", n, " SciFact documents, batch ", batch, ", max_length ", max_length, " (",
         static_cast<double>(real) / n, " tokens per text, ", static_cast<double>(real) / padded,
         " of the padded tokens real), ", at::get_num_threads(), " threads: ", t, " s, ", sps, " sentences/s");
  if (args.get_int("reference", 1) != 0) {
    // "sort-key tokens" per text, input order; the key is what make_batch_grid sorts by.
    char path[] = "/tmp/disttune_encode_lengths_XXXXXX";
    const int fd = ::mkstemp(path);
    DT_REQUIRE(fd >= 0, path, ": cannot create a temporary file");
    ::close(fd);
    {
      std::ofstream f(path);
      for (size_t i = 0; i < texts.size(); ++i) f << texts[i].size() << ' ' << tokens[i] << '\n';
      DT_REQUIRE(f.flush(), path, ": cannot write");
    }
    bench::compare_with_pytorch("encode  ", "ref_encode.py",
                                str_cat("--lengths ", path, " --batch ", batch, " --repeats ", repeats,
                                        bench::reference_flags(pl)),
                                init,
                                sps, "sentences_per_s", "sentences/s", result);
    std::remove(path);
  }
  return result;
}
