#include "model/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/atomic_file.h"
#include "common/env.h"
#include "common/json_input.h"

namespace disttune {
namespace {

// The reference implementation refuses headers above 100 MB; so do we, before allocating.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  int rank;  // position in the reference implementation's Dtype enum (its write order)
};

// Names as the format spells them; rank follows the reference enum (BOOL, U8, I8, F8_E5M2,
// F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64).
constexpr DtypeInfo kDtypes[] = {
    {"BOOL", at::kBool, 0},   {"U8", at::kByte, 1},    {"I8", at::kChar, 2},
    {"I16", at::kShort, 5},   {"F16", at::kHalf, 7},   {"BF16", at::kBFloat16, 8},
    {"I32", at::kInt, 9},     {"F32", at::kFloat, 11}, {"F64", at::kDouble, 12},
    {"I64", at::kLong, 13},
};
// Valid in the format but not representable here.
constexpr const char* kUnsupportedDtypes[] = {"F8_E5M2", "F8_E4M3", "U16", "U32", "U64",
                                              "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"};

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo& dtype_info(at::ScalarType t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d;
  DT_CHECK(false, "safetensors cannot hold dtype ", c10::toString(t));
  return kDtypes[0];  // unreachable
}

bool is_little_endian() {
  const uint16_t one = 1;
  unsigned char b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

uint64_t read_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

Status bad(const std::string& file, const std::string& what) {
  return Status::Error(str_cat(file, ": ", what));
}

// Non-negative JSON integer -> uint64, or false.
bool as_u64(const nlohmann::json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer() && j.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(j.get<int64_t>());
    return true;
  }
  return false;
}

Result<SafetensorsEntry> parse_entry(const std::string& name, const nlohmann::json& j,
                                     const std::string& file) {
  const std::string where = str_cat("tensor '", name, "'");
  if (!j.is_object())
    return bad(file, str_cat(where, ": expected an object with dtype, shape and data_offsets"));
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!j.contains(key)) return bad(file, str_cat(where, ": missing \"", key, "\""));
  SafetensorsEntry e;
  e.name = name;
  if (!j["dtype"].is_string()) return bad(file, str_cat(where, ": \"dtype\" must be a string"));
  const std::string dtype = j["dtype"].get<std::string>();
  const DtypeInfo* info = dtype_by_name(dtype);
  if (!info) {
    for (const char* u : kUnsupportedDtypes)
      if (dtype == u)
        return bad(file, str_cat(where, ": dtype ", dtype,
                                 " is not supported (supported: F64 F32 F16 BF16 I64 I32 I16 "
                                 "I8 U8 BOOL)"));
    return bad(file, str_cat(where, ": unknown dtype \"", dtype, "\""));
  }
  e.dtype = info->type;
  const auto& shape = j["shape"];
  if (!shape.is_array()) return bad(file, str_cat(where, ": \"shape\" must be an array"));
  // Element count with an overflow guard: anything above 2^62 bytes cannot be a real file.
  const uint64_t elem = c10::elementSize(e.dtype);
  uint64_t numel = 1;
  for (const auto& d : shape) {
    uint64_t v;
    if (!as_u64(d, &v))
      return bad(file, str_cat(where, ": shape ", json_brief(shape), " must hold non-negative integers"));
    if (v != 0 && numel > (uint64_t{1} << 62) / v / elem)
      return bad(file, str_cat(where, ": shape ", json_brief(shape), " is too large"));
    numel *= v;
    e.shape.push_back(static_cast<int64_t>(v));
  }
  const auto& off = j["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !as_u64(off[0], &e.begin) || !as_u64(off[1], &e.end))
    return bad(file, str_cat(where, ": \"data_offsets\" must be [begin, end] with non-negative "
                                    "integers, got ", json_brief(off)));
  if (e.end < e.begin)
    return bad(file, str_cat(where, ": data_offsets [", e.begin, ", ", e.end, "] end before they begin"));
  if (e.end - e.begin != numel * elem)
    return bad(file, str_cat(where, ": data_offsets [", e.begin, ", ", e.end, "] hold ",
                             e.end - e.begin, " bytes but ", dtype, " shape ", json_brief(shape),
                             " needs ", numel * elem));
  return e;
}

}  // namespace

std::string safetensors_dtype_name(at::ScalarType dtype) { return dtype_info(dtype).name; }

Result<SafetensorsHeader> parse_safetensors_header(const std::string& json_text,
                                                   const std::string& file) {
  if (json_text.empty() || json_text[0] != '{')
    return bad(file, "header does not start with '{': not a safetensors file");
  // nlohmann keeps the last of duplicate keys silently; a duplicated tensor name would make
  // the file ambiguous, so the parser callback catches it.
  std::set<std::string> seen;
  std::string duplicate;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(
        json_text,
        [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
          if (depth >= kMaxJsonDepth && (event == nlohmann::json::parse_event_t::object_start ||
                                         event == nlohmann::json::parse_event_t::array_start))
            throw JsonTooDeep();
          if (depth == 1 && event == nlohmann::json::parse_event_t::key) {
            const std::string key = parsed.get<std::string>();
            if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
          }
          return true;
        });
  } catch (const nlohmann::json::exception& e) {
    return bad(file, str_cat("header is not valid JSON: ", e.what()));
  } catch (const JsonTooDeep& e) {
    return bad(file, str_cat("header ", e.what()));
  }
  if (!header.is_object()) return bad(file, "header must be a JSON object");
  if (!duplicate.empty()) return bad(file, str_cat("tensor '", duplicate, "' appears twice in the header"));

  SafetensorsHeader out;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_null()) continue;
      if (!it->is_object()) return bad(file, "\"__metadata__\" must be an object of strings");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string())
          return bad(file, str_cat("\"__metadata__\" value for \"", m.key(), "\" must be a string"));
        out.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    Result<SafetensorsEntry> e = parse_entry(it.key(), *it, file);
    if (!e.ok()) return e.status();
    out.entries.push_back(std::move(*e));
  }
  // The byte ranges must tile [0, data_size) exactly, as the reference validate() demands.
  std::stable_sort(out.entries.begin(), out.entries.end(),
                   [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
                     return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
                   });
  uint64_t pos = 0;
  for (const auto& e : out.entries) {
    if (e.begin != pos) {
      return bad(file, str_cat("tensor '", e.name, "': data_offsets [", e.begin, ", ", e.end, "] ",
                               e.begin < pos ? "overlap the previous tensor" : "leave a gap after the previous tensor",
                               " (expected it to begin at byte ", pos, ")"));
    }
    pos = e.end;
  }
  out.data_size = pos;
  return out;
}

Result<SafetensorsFile> read_safetensors(const std::string& path) {
  DT_CHECK(is_little_endian(), "safetensors I/O assumes a little-endian host");
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) return bad(path, str_cat("cannot read: ", ec.message()));
  std::ifstream in(path, std::ios::binary);
  if (!in) return bad(path, str_cat("cannot open: ", std::strerror(errno)));
  if (file_size < 8)
    return bad(path, str_cat("file is ", file_size, " bytes, too short for a safetensors header"));
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  if (!in) return bad(path, "cannot read the header length");
  const uint64_t n = read_le64(len_bytes);
  if (n > kMaxHeaderBytes)
    return bad(path, str_cat("header length ", n, " exceeds the 100 MB limit: not a safetensors file"));
  if (n > file_size - 8)
    return bad(path, str_cat("header length ", n, " runs past the end of the ", file_size,
                             "-byte file (truncated?)"));
  std::string json_text(n, '\0');
  in.read(json_text.data(), static_cast<std::streamsize>(n));
  if (!in) return bad(path, "cannot read the header");
  Result<SafetensorsHeader> header = parse_safetensors_header(json_text, path);
  if (!header.ok()) return header.status();

  const uint64_t data_avail = file_size - 8 - n;
  for (const auto& e : header->entries)
    if (e.end > data_avail)
      return bad(path, str_cat("tensor '", e.name, "': data_offsets [", e.begin, ", ", e.end,
                               "] run past the end of the data (", data_avail,
                               " bytes): the file is truncated or the header is wrong"));
  if (header->data_size != data_avail)
    return bad(path, str_cat(data_avail - header->data_size,
                             " bytes after the last tensor are not described by the header"));

  SafetensorsFile out;
  out.metadata = header->metadata;
  for (const auto& e : header->entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype));
    const uint64_t nbytes = e.end - e.begin;
    if (nbytes > 0) {
      in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(nbytes));
      if (!in) return bad(path, str_cat("tensor '", e.name, "': read failed"));
    }
    out.tensors.push_back({e.name, t});
  }
  return out;
}

namespace {

struct Prepared {
  std::string header;  // length prefix + padded JSON
  std::vector<const NamedTensor*> order;
  std::vector<at::Tensor> cpu;  // contiguous CPU copies, in `order`
};

Prepared prepare(const std::vector<NamedTensor>& tensors,
                 const std::map<std::string, std::string>& metadata) {
  Prepared p;
  for (const auto& t : tensors) p.order.push_back(&t);
  std::sort(p.order.begin(), p.order.end(), [](const NamedTensor* a, const NamedTensor* b) {
    const int ra = dtype_info(a->tensor.scalar_type()).rank;
    const int rb = dtype_info(b->tensor.scalar_type()).rank;
    return ra != rb ? ra > rb : a->name < b->name;
  });
  for (size_t i = 1; i < p.order.size(); ++i)
    DT_CHECK(p.order[i]->name != p.order[i - 1]->name, "tensor '", p.order[i]->name,
             "' given twice to the safetensors writer");
  // Field order and compact separators as the reference (serde_json) writes them.
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    j["__metadata__"] = m;
  }
  uint64_t offset = 0;
  for (const NamedTensor* t : p.order) {
    at::Tensor c = t->tensor.detach().to(at::kCPU).contiguous();
    const uint64_t nbytes = c.numel() * c.element_size();
    nlohmann::ordered_json e = nlohmann::ordered_json::object();
    e["dtype"] = dtype_info(c.scalar_type()).name;
    e["shape"] = c.sizes().vec();
    e["data_offsets"] = {offset, offset + nbytes};
    j[t->name] = e;
    offset += nbytes;
    p.cpu.push_back(std::move(c));
  }
  std::string text = j.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  p.header = le64(text.size()) + text;
  return p;
}

}  // namespace

std::string encode_safetensors(const std::vector<NamedTensor>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  Prepared p = prepare(tensors, metadata);
  std::string out = p.header;
  for (const auto& c : p.cpu)
    out.append(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
  return out;
}

Status write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                         const std::map<std::string, std::string>& metadata, Env* env) {
  DT_CHECK(is_little_endian(), "safetensors I/O assumes a little-endian host");
  if (!env) env = Env::Default();
  Prepared p = prepare(tensors, metadata);
  // Streamed to the temporary file tensor by tensor (no second copy of a large model in
  // memory), then published atomically.
  AtomicFile f(path, env);
  f.append(p.header);
  for (const auto& c : p.cpu)
    f.append(std::string_view(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size()));
  return f.commit();
}

}  // namespace disttune
