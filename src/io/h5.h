// HDF5 files for disttune's outputs (embeddings, tokenized stores, checkpoints), over the
// HDF5 C API. RAII handles; every failure becomes a UserError naming the file and the
// dataset; HDF5's own error-stack printing is silenced so that users see one clear line.
//
// Datasets written with `checksum` use HDF5's Fletcher-32 filter (chunked layout): HDF5
// verifies it on every read, so a flipped byte is refused instead of silently loaded.
#pragma once

#include <ATen/core/Tensor.h>
#include <hdf5.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace disttune {

class Env;
struct H5EnvIo;

// An open HDF5 object (file, group, dataset, dataspace, property list, attribute, type).
class H5Handle {
 public:
  H5Handle() = default;
  explicit H5Handle(hid_t id) : id_(id) {}
  ~H5Handle() { reset(); }
  H5Handle(H5Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  H5Handle& operator=(H5Handle&& o) noexcept;
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();
  hid_t release() {
    hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

struct H5WriteOptions {
  bool checksum = false;      // Fletcher-32 per chunk, verified on read
  int64_t chunk_rows = 0;     // 0: choose (~1 MiB chunks) when chunking is needed
  bool extendable = false;    // unlimited dim 0, for appending rows
};

// Files opened for writing (create, open_rw) are written through an Env (Env::Default()
// unless given; io/h5_env_driver.h): a write that fails makes every later write, flush() and
// close() fail with the file and the OS error, so an incomplete file is never taken for a
// complete one. Files opened for reading use HDF5's default driver.
class H5File {
 public:
  // Truncates. `userblock_bytes` (0, or a power of two >= 512) reserves that many bytes at
  // the start of the file that HDF5 (and h5py) skip, for a header of the caller's own.
  static H5File create(const std::string& path, Env* env = nullptr, size_t userblock_bytes = 0);
  static H5File open_read(const std::string& path);
  static H5File open_rw(const std::string& path, Env* env = nullptr);
  H5File(H5File&&) noexcept;
  H5File& operator=(H5File&&) noexcept;
  ~H5File();
  const std::string& path() const { return path_; }
  hid_t id() const { return file_.get(); }
  void flush();
  // Closes the file; throws when it (or any earlier write) failed.
  void close();

  bool exists(const std::string& name) const;   // dataset or group, absolute path like "/model/x"
  std::vector<std::string> list(const std::string& group) const;  // member names, sorted
  void create_group(const std::string& name);   // creates intermediate groups too

  // Tensors: float32, float64, int64, int32, uint8/bool. Shapes of any rank. Reads refuse a
  // dataset whose shape claims more bytes than the whole file holds (a damaged header)
  // before allocating for it.
  void write(const std::string& name, const at::Tensor& t, const H5WriteOptions& opt = {});
  at::Tensor read(const std::string& name) const;
  // Rows [start, start + count) of dim 0 (hyperslab), without reading the rest.
  at::Tensor read_rows(const std::string& name, int64_t start, int64_t count) const;
  // Several row ranges {start, count} of dim 0, concatenated in order, in one read: each
  // storage chunk they touch is read (and checksum-verified) once. The ranges must be sorted
  // by start and must not overlap.
  at::Tensor read_ranges(const std::string& name,
                         const std::vector<std::pair<int64_t, int64_t>>& ranges) const;
  // Appends rows to an extendable dataset created with write(..., {.extendable = true}).
  void append(const std::string& name, const at::Tensor& rows);
  // 1-D datasets of variable-length UTF-8 strings (h5py reads them as str).
  void write_strings(const std::string& name, const std::vector<std::string>& values);
  std::vector<std::string> read_strings(const std::string& name) const;
  std::vector<int64_t> shape(const std::string& name) const;
  at::ScalarType dtype(const std::string& name) const;

  // Attributes on a group or dataset ("/" for the file root).
  void set_attr(const std::string& obj, const std::string& key, const std::string& value);
  void set_attr(const std::string& obj, const std::string& key, int64_t value);
  void set_attr(const std::string& obj, const std::string& key, double value);
  bool has_attr(const std::string& obj, const std::string& key) const;
  std::string attr_string(const std::string& obj, const std::string& key) const;
  int64_t attr_int(const std::string& obj, const std::string& key) const;
  double attr_double(const std::string& obj, const std::string& key) const;

 private:
  H5File(std::string path, hid_t id, std::unique_ptr<H5EnvIo> io);
  // Throws UserError: the driver's OS error when a write failed, else path: what.
  [[noreturn]] void fail(const std::string& what) const;
  bool write_failed() const;
  H5Handle open_dataset(const std::string& name) const;
  H5Handle open_object(const std::string& obj) const;
  H5Handle open_attr(const std::string& obj, const std::string& key) const;
  // Refuses `rows` rows of `dims` (elements of `elem` bytes) when they need more bytes than
  // the file has.
  void check_fits(const std::string& name, const std::vector<int64_t>& dims, int64_t rows,
                  size_t elem) const;

  std::string path_;
  std::unique_ptr<H5EnvIo> io_;  // before file_: outlives the open file
  H5Handle file_;
};

// Whether `path` starts with the HDF5 signature (cheap check before opening).
bool is_hdf5_file(const std::string& path);

}  // namespace disttune
