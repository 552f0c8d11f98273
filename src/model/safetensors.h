// safetensors: the weights format of Hugging Face model directories, read and written by
// disttune itself. Layout: 8-byte little-endian header length N, N bytes of JSON header
// ({"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}}),
// then the raw little-endian tensor bytes; offsets are relative to the end of the header.
//
// Reading validates everything before trusting it: the header length against the file size
// (and a 100 MB cap, as the reference implementation), well-formed JSON without duplicate
// names, known dtypes, shape x element size == byte range, and byte ranges that tile the
// data section exactly (no gaps, overlaps or trailing bytes). Every error names the file and
// the tensor. Writing follows the reference implementation byte for byte (tensors sorted by
// dtype then name, header padded with spaces to 8 bytes) and is atomic through Env.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/named_tensor.h"

namespace disttune {

class Env;

struct SafetensorsEntry {
  std::string name;
  at::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte range within the data section
  uint64_t end = 0;
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;        // ordered by begin offset
  std::map<std::string, std::string> metadata;  // "__metadata__"
  uint64_t data_size = 0;                       // bytes the entries cover
};

struct SafetensorsFile {
  std::vector<NamedTensor> tensors;  // stored dtype, CPU, in file (offset) order
  std::map<std::string, std::string> metadata;
};

// Parses and validates a header's JSON text. `file` names the source in error messages.
Result<SafetensorsHeader> parse_safetensors_header(const std::string& json_text,
                                                   const std::string& file);

// Reads and validates a whole file; tensors keep their stored dtype.
Result<SafetensorsFile> read_safetensors(const std::string& path);

// The bytes of a safetensors file holding `tensors` (any device, dtype among F64, F32, F16,
// BF16, I64, I32, I16, I8, U8, BOOL), laid out as the reference implementation does.
std::string encode_safetensors(const std::vector<NamedTensor>& tensors,
                               const std::map<std::string, std::string>& metadata);

// Writes `tensors` to `path` atomically (temporary file, fsync, rename) through `env`
// (Env::Default() when null). Metadata defaults to {"format": "pt"} as torch writers do.
Status write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                         const std::map<std::string, std::string>& metadata = {{"format", "pt"}},
                         Env* env = nullptr);

// "F32", "BF16", ... for a dtype safetensors can hold; throws InternalError otherwise.
std::string safetensors_dtype_name(at::ScalarType dtype);

}  // namespace disttune
