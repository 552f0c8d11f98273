// safetensors: the bytes are a model.safetensors file; read_safetensors validates the header
// length, the header JSON, dtypes, shapes and offsets. A file it accepts must survive a
// round trip through the writer unchanged (names, dtypes, shapes, bytes, metadata).
#include <cstring>

#include "fuzz.h"
#include "model/safetensors.h"

namespace disttune::fuzz {
namespace {

bool same_tensors(const SafetensorsFile& a, const SafetensorsFile& b) {
  if (a.tensors.size() != b.tensors.size() || a.metadata != b.metadata) return false;
  for (const NamedTensor& x : a.tensors) {
    const NamedTensor* y = find_tensor(b.tensors, x.name);
    if (!y || y->tensor.scalar_type() != x.tensor.scalar_type() ||
        y->tensor.sizes() != x.tensor.sizes())
      return false;
    const size_t n = static_cast<size_t>(x.tensor.numel() * x.tensor.element_size());
    if (n && std::memcmp(x.tensor.data_ptr(), y->tensor.data_ptr(), n) != 0) return false;
  }
  return true;
}

void fuzz_safetensors(std::string_view input) {
  const std::string path = write_scratch("model.safetensors", input);
  Result<SafetensorsFile> f = read_safetensors(path);
  f.status().throw_if_error();
  const std::string again = write_scratch("again.safetensors", encode_safetensors(f->tensors, f->metadata));
  Result<SafetensorsFile> g = read_safetensors(again);
  if (!g.ok()) bug("safetensors", "a file the reader accepted, written back, is refused: " + g.status().message());
  if (!same_tensors(*f, *g)) bug("safetensors", "a file the reader accepted does not survive a write and read");
}

// A file with a hand-written header (for shapes the writer never produces).
std::string raw_file(const std::string& header, const std::string& data) {
  std::string len(8, '\0');
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return len + header + data;
}

std::vector<std::string> safetensors_seeds() {
  std::vector<std::string> s;
  s.push_back(encode_safetensors({{"weight", at::arange(6, at::kFloat).reshape({2, 3})}}, {{"format", "pt"}}));
  s.push_back(encode_safetensors(
      {{"embeddings.word_embeddings.weight", at::ones({4, 2}, at::kHalf)},
       {"b16", at::full({2, 2}, 0.5, at::kBFloat16)},
       {"ids", at::arange(3, at::kLong)},
       {"scalar", at::tensor(7, at::kInt)},
       {"empty", at::empty({0, 3}, at::kByte)},
       {"mask", at::tensor({1, 0}, at::kByte).to(at::kBool)},
       {"i8", at::tensor({-1, 2}, at::kChar)},
       {"i16", at::tensor({300}, at::kShort)},
       {"f64", at::tensor({1.5}, at::kDouble)}},
      {}));
  s.push_back(encode_safetensors({}, {{"format", "pt"}, {"note", "no tensors"}}));
  s.push_back(raw_file(R"({"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", "xy"));
  s.push_back(raw_file(R"({"__metadata__":null,"x":{"dtype":"U8","shape":[1,1,1],"data_offsets":[0,1]}})", "z"));
  return s;
}

}  // namespace

DT_FUZZ_TARGET(safetensors, "safetensors", "model.safetensors reader (header JSON, dtypes, offsets, shapes)",
               fuzz_safetensors, safetensors_seeds, 4096,
               "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"F32\"", "\"F16\"",
               "\"BF16\"", "\"I64\"", "\"BOOL\"", "\"F8_E5M2\"", "\"U64\"", "[", "]", "{", "}", ",",
               ":", "null", "[0,0]", "[]", "\"\\u0000\"", "\"\\ud800\"", "18446744073709551615",
               "[[[[[[[[", "1e400");

}  // namespace disttune::fuzz
