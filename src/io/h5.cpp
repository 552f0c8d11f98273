#include "io/h5.h"

#include <ATen/ATen.h>

#include <cstring>
#include <fstream>

#include "common/check.h"
#include "common/env.h"
#include "io/h5_env_driver.h"

namespace disttune {
namespace {

// HDF5 prints its error stack to stderr by default; we report errors ourselves.
void silence_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

hid_t mem_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return H5T_NATIVE_FLOAT;
    case at::kDouble: return H5T_NATIVE_DOUBLE;
    case at::kLong: return H5T_NATIVE_INT64;
    case at::kInt: return H5T_NATIVE_INT32;
    case at::kByte:
    case at::kBool: return H5T_NATIVE_UINT8;
    default: return H5I_INVALID_HID;
  }
}

std::string parent_of(const std::string& name) {
  auto p = name.rfind('/');
  return p == std::string::npos || p == 0 ? "/" : name.substr(0, p);
}

}  // namespace

H5Handle& H5Handle::operator=(H5Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void H5Handle::reset() {
  if (id_ >= 0) {
    switch (H5Iget_type(id_)) {
      case H5I_FILE: H5Fclose(id_); break;
      case H5I_GROUP: H5Gclose(id_); break;
      case H5I_DATASET: H5Dclose(id_); break;
      case H5I_DATASPACE: H5Sclose(id_); break;
      case H5I_ATTR: H5Aclose(id_); break;
      case H5I_DATATYPE: H5Tclose(id_); break;
      case H5I_GENPROP_LST: H5Pclose(id_); break;
      default: H5Oclose(id_); break;
    }
  }
  id_ = H5I_INVALID_HID;
}

H5File::H5File(std::string path, hid_t id, std::unique_ptr<H5EnvIo> io)
    : path_(std::move(path)), io_(std::move(io)), file_(id) {}
H5File::H5File(H5File&&) noexcept = default;
H5File& H5File::operator=(H5File&& o) noexcept {
  if (this != &o) {
    file_.reset();  // closed while its H5EnvIo is still alive
    path_ = std::move(o.path_);
    io_ = std::move(o.io_);
    file_ = std::move(o.file_);
  }
  return *this;
}
H5File::~H5File() = default;  // file_ (declared after io_) is closed first

bool H5File::write_failed() const { return io_ && !io_->error.empty(); }

void H5File::fail(const std::string& what) const {
  if (write_failed()) DT_FAIL(io_->error, " (", what, ")");
  DT_FAIL(path_, ": ", what);
}

namespace {

// Opens `path` through the Env driver (H5Fcreate or H5Fopen as `open` does it).
template <typename OpenFn>
std::pair<hid_t, std::unique_ptr<H5EnvIo>> h5_open_through_env(Env* env, OpenFn open) {
  silence_hdf5();
  auto io = std::make_unique<H5EnvIo>();
  io->env = env ? env : Env::Default();
  H5Handle fapl(h5_env_fapl(io.get()));
  const hid_t id = open(fapl.get());
  return {id, std::move(io)};
}

}  // namespace

H5File H5File::create(const std::string& path, Env* env, size_t userblock_bytes) {
  H5Handle fcpl(H5Pcreate(H5P_FILE_CREATE));
  if (userblock_bytes > 0 && H5Pset_userblock(fcpl.get(), userblock_bytes) < 0)
    DT_CHECK(false, "bad HDF5 user block size ", userblock_bytes);
  auto [id, io] = h5_open_through_env(env, [&](hid_t fapl) {
    return H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl);
  });
  if (id < 0) {
    if (!io->open_error.empty()) DT_FAIL(io->open_error);
    if (!io->error.empty()) DT_FAIL(io->error);
    DT_FAIL(path, ": cannot create HDF5 file");
  }
  return H5File(path, id, std::move(io));
}

H5File H5File::open_read(const std::string& path) {
  silence_hdf5();
  if (!std::ifstream(path)) DT_FAIL(path, ": cannot open: ", std::strerror(errno ? errno : ENOENT));
  if (!is_hdf5_file(path)) DT_FAIL(path, ": not an HDF5 file");
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) DT_FAIL(path, ": damaged HDF5 file (truncated or corrupt): cannot open");
  return H5File(path, id, nullptr);
}

H5File H5File::open_rw(const std::string& path, Env* env) {
  auto [id, io] = h5_open_through_env(env, [&](hid_t fapl) {
    return H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
  });
  if (id < 0) DT_FAIL(io->open_error.empty() ? str_cat(path, ": cannot open HDF5 file for writing") : io->open_error);
  return H5File(path, id, std::move(io));
}

void H5File::flush() {
  if (H5Fflush(file_.get(), H5F_SCOPE_GLOBAL) < 0 || write_failed()) fail("flush failed");
}

void H5File::close() {
  if (!file_.valid()) return;
  // Released first so that a failed close is not retried by the destructor. A failed write,
  // here or earlier, shows in write_failed() (HDF5 is not told; see h5_env_driver.h).
  const hid_t id = file_.release();
  const bool closed = H5Fclose(id) >= 0;
  if (!closed || write_failed()) fail("cannot finish writing the file");
}

bool H5File::exists(const std::string& name) const {
  if (name == "/") return true;
  // Every intermediate link must exist before asking about the next one.
  size_t pos = 1;
  while (true) {
    size_t next = name.find('/', pos);
    std::string prefix = name.substr(0, next);
    if (H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (next == std::string::npos) return true;
    pos = next + 1;
  }
}

std::vector<std::string> H5File::list(const std::string& group) const {
  H5Handle g(H5Gopen2(file_.get(), group.c_str(), H5P_DEFAULT));
  if (!g.valid()) fail("no group '" + group + "'");
  H5G_info_t info;
  if (H5Gget_info(g.get(), &info) < 0) fail("cannot list group '" + group + "'");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t n = H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0,
                                   H5P_DEFAULT);
    if (n < 0) fail("cannot list group '" + group + "'");
    std::string s(static_cast<size_t>(n), '\0');
    H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, s.data(), s.size() + 1,
                       H5P_DEFAULT);
    names.push_back(s);
  }
  return names;
}

void H5File::create_group(const std::string& name) {
  if (exists(name)) return;
  H5Handle lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  H5Handle g(H5Gcreate2(file_.get(), name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!g.valid()) fail("cannot create group '" + name + "'");
}

void H5File::write(const std::string& name, const at::Tensor& tensor, const H5WriteOptions& opt) {
  at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
  if (t.scalar_type() == at::kBool) t = t.to(at::kByte);
  const hid_t mt = mem_type(t.scalar_type());
  if (mt < 0) fail(str_cat("dataset '", name, "': unsupported dtype ", t.scalar_type()));
  create_group(parent_of(name));
  if (exists(name) && H5Ldelete(file_.get(), name.c_str(), H5P_DEFAULT) < 0)
    fail("cannot replace dataset '" + name + "'");

  std::vector<hsize_t> dims(t.sizes().begin(), t.sizes().end()), maxdims = dims;
  H5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  const bool chunked = opt.checksum || opt.extendable;
  if (chunked) {
    DT_CHECK(!dims.empty(), "chunked dataset needs at least one dimension: ", name);
    if (opt.extendable) maxdims[0] = H5S_UNLIMITED;
    std::vector<hsize_t> chunk = dims;
    hsize_t row_bytes = t.element_size();
    for (size_t i = 1; i < dims.size(); ++i) {
      chunk[i] = std::max<hsize_t>(1, dims[i]);
      row_bytes *= chunk[i];
    }
    hsize_t rows = opt.chunk_rows > 0 ? static_cast<hsize_t>(opt.chunk_rows)
                                      : std::max<hsize_t>(1, (1u << 20) / row_bytes);
    if (!opt.extendable) rows = std::min<hsize_t>(rows, std::max<hsize_t>(1, dims[0]));
    chunk[0] = rows;
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    if (opt.checksum) H5Pset_fletcher32(dcpl.get());
  }
  H5Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                              : H5Screate_simple(static_cast<int>(dims.size()), dims.data(),
                                                 maxdims.data()));
  H5Handle ds(H5Dcreate2(file_.get(), name.c_str(), mt, space.get(), H5P_DEFAULT, dcpl.get(),
                         H5P_DEFAULT));
  if (!ds.valid()) fail("cannot create dataset '" + name + "'");
  // Flushed here rather than when the handle closes, so that a failure writing the chunks
  // HDF5 caches is reported for this dataset.
  const bool written =
      (t.numel() == 0 || H5Dwrite(ds.get(), mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr()) >= 0) &&
      (!io_ || H5Dflush(ds.get()) >= 0);
  if (!written || write_failed()) fail("cannot write dataset '" + name + "'");
}

void H5File::write_strings(const std::string& name, const std::vector<std::string>& values) {
  create_group(parent_of(name));
  if (exists(name) && H5Ldelete(file_.get(), name.c_str(), H5P_DEFAULT) < 0)
    fail("cannot replace dataset '" + name + "'");
  H5Handle type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  hsize_t n = values.size();
  H5Handle space(H5Screate_simple(1, &n, nullptr));
  H5Handle ds(H5Dcreate2(file_.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT,
                         H5P_DEFAULT, H5P_DEFAULT));
  if (!ds.valid()) fail("cannot create dataset '" + name + "'");
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values) ptrs.push_back(v.c_str());
  const bool written =
      (n == 0 || H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) >= 0) &&
      (!io_ || H5Dflush(ds.get()) >= 0);
  if (!written || write_failed()) fail("cannot write dataset '" + name + "'");
}

std::vector<std::string> H5File::read_strings(const std::string& name) const {
  H5Handle ds = open_dataset(name);
  H5Handle ftype(H5Dget_type(ds.get()));
  if (H5Tget_class(ftype.get()) != H5T_STRING) fail("dataset '" + name + "' is not a string dataset");
  const std::vector<int64_t> dims = shape(name);
  if (dims.size() != 1) fail("dataset '" + name + "' is not one-dimensional");
  std::vector<std::string> out;
  const size_t n = static_cast<size_t>(dims[0]);
  if (H5Tis_variable_str(ftype.get()) > 0) {
    H5Handle mtype(H5Tcopy(H5T_C_S1));
    H5Tset_size(mtype.get(), H5T_VARIABLE);
    H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));
    std::vector<char*> ptrs(n, nullptr);
    if (n > 0 && H5Dread(ds.get(), mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
      fail("cannot read dataset '" + name + "'");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Handle space(H5Dget_space(ds.get()));
    if (n > 0) H5Dvlen_reclaim(mtype.get(), space.get(), H5P_DEFAULT, ptrs.data());
  } else {
    const size_t width = H5Tget_size(ftype.get());
    std::string buf(n * width, '\0');
    if (n > 0 && H5Dread(ds.get(), ftype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
      fail("cannot read dataset '" + name + "'");
    for (size_t i = 0; i < n; ++i) {
      std::string s = buf.substr(i * width, width);
      s.resize(std::strlen(s.c_str()));
      out.push_back(s);
    }
  }
  return out;
}

H5Handle H5File::open_dataset(const std::string& name) const {
  if (!exists(name)) fail("missing dataset '" + name + "'");
  H5Handle ds(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT));
  if (!ds.valid()) fail("'" + name + "' is not a dataset");
  return ds;
}

std::vector<int64_t> H5File::shape(const std::string& name) const {
  H5Handle ds = open_dataset(name);
  H5Handle space(H5Dget_space(ds.get()));
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail("cannot read the shape of '" + name + "'");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)
    fail("cannot read the shape of '" + name + "'");
  for (hsize_t d : dims)
    if (d > static_cast<hsize_t>(INT64_MAX)) fail(str_cat("dataset '", name, "' has an impossible dimension ", d));
  return std::vector<int64_t>(dims.begin(), dims.end());
}

at::ScalarType H5File::dtype(const std::string& name) const {
  H5Handle ds = open_dataset(name);
  H5Handle type(H5Dget_type(ds.get()));
  const H5T_class_t cls = H5Tget_class(type.get());
  const size_t size = H5Tget_size(type.get());
  if (cls == H5T_FLOAT && size == 4) return at::kFloat;
  if (cls == H5T_FLOAT && size == 8) return at::kDouble;
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type.get()) == H5T_SGN_2;
    if (size == 8 && is_signed) return at::kLong;
    if (size == 4 && is_signed) return at::kInt;
    if (size == 1 && !is_signed) return at::kByte;
  }
  fail(str_cat("dataset '", name, "' has an unsupported element type (class ", cls, ", ", size,
               " bytes)"));
}

void H5File::check_fits(const std::string& name, const std::vector<int64_t>& dims, int64_t rows,
                        size_t elem) const {
  hsize_t file_bytes = 0;
  if (H5Fget_filesize(file_.get(), &file_bytes) < 0) fail("cannot tell the file size");
  // The product with an overflow guard: a damaged shape may hold any 64-bit values.
  uint64_t bytes = elem;
  bool too_big = false;
  for (size_t i = 0; i < dims.size() && !too_big; ++i) {
    const uint64_t d = i == 0 ? static_cast<uint64_t>(rows) : static_cast<uint64_t>(dims[i]);
    if (d != 0 && bytes > file_bytes / d) too_big = true;
    bytes *= d;
  }
  if (too_big || bytes > file_bytes) {
    std::string shape_text;
    for (size_t i = 0; i < dims.size(); ++i) shape_text += str_cat(i ? ", " : "", dims[i]);
    fail(str_cat("dataset '", name, "': its shape [", shape_text, "] needs more bytes than the ",
                 file_bytes, "-byte file holds (damaged file)"));
  }
}

at::Tensor H5File::read(const std::string& name) const {
  const std::vector<int64_t> dims = shape(name);
  const at::ScalarType st = dtype(name);
  check_fits(name, dims, dims.empty() ? 1 : dims[0], c10::elementSize(st));
  H5Handle ds = open_dataset(name);
  at::Tensor t = at::empty(dims, at::TensorOptions().dtype(st));
  if (t.numel() > 0 &&
      H5Dread(ds.get(), mem_type(st), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr()) < 0)
    fail("cannot read dataset '" + name + "' (damaged: checksum or I/O error)");
  return t;
}

at::Tensor H5File::read_rows(const std::string& name, int64_t start, int64_t count) const {
  std::vector<int64_t> dims = shape(name);
  if (dims.empty()) fail("dataset '" + name + "' is a scalar; cannot read rows");
  if (start < 0 || count < 0 || start + count > dims[0])
    fail(str_cat("dataset '", name, "': rows [", start, ", ", start + count,
                 ") out of range (it has ", dims[0], ")"));
  const at::ScalarType st = dtype(name);
  check_fits(name, dims, count, c10::elementSize(st));
  H5Handle ds = open_dataset(name);
  std::vector<int64_t> out_dims = dims;
  out_dims[0] = count;
  at::Tensor t = at::empty(out_dims, at::TensorOptions().dtype(st));
  if (count == 0) return t;
  H5Handle fspace(H5Dget_space(ds.get()));
  std::vector<hsize_t> off(dims.size(), 0), cnt(out_dims.begin(), out_dims.end());
  off[0] = static_cast<hsize_t>(start);
  H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, off.data(), nullptr, cnt.data(), nullptr);
  H5Handle mspace(H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr));
  if (H5Dread(ds.get(), mem_type(st), mspace.get(), fspace.get(), H5P_DEFAULT, t.data_ptr()) < 0)
    fail("cannot read rows of dataset '" + name + "' (damaged: checksum or I/O error)");
  return t;
}

at::Tensor H5File::read_ranges(const std::string& name,
                               const std::vector<std::pair<int64_t, int64_t>>& ranges) const {
  std::vector<int64_t> dims = shape(name);
  if (dims.empty()) fail("dataset '" + name + "' is a scalar; cannot read rows");
  int64_t total = 0, prev_end = 0;
  for (const auto& [start, count] : ranges) {
    if (start < 0 || count < 0 || start + count > dims[0])
      fail(str_cat("dataset '", name, "': rows [", start, ", ", start + count,
                   ") out of range (it has ", dims[0], ")"));
    DT_CHECK(start >= prev_end, "read_ranges: ranges of '", name, "' must be sorted and disjoint");
    prev_end = start + count;
    total += count;
  }
  const at::ScalarType st = dtype(name);
  check_fits(name, dims, total, c10::elementSize(st));
  std::vector<int64_t> out_dims = dims;
  out_dims[0] = total;
  at::Tensor t = at::empty(out_dims, at::TensorOptions().dtype(st));
  if (total == 0) return t;
  H5Handle ds = open_dataset(name);
  H5Handle fspace(H5Dget_space(ds.get()));
  std::vector<hsize_t> off(dims.size(), 0), cnt(dims.begin(), dims.end());
  H5Sselect_none(fspace.get());
  for (const auto& [start, count] : ranges) {
    if (count == 0) continue;
    off[0] = static_cast<hsize_t>(start);
    cnt[0] = static_cast<hsize_t>(count);
    if (H5Sselect_hyperslab(fspace.get(), H5S_SELECT_OR, off.data(), nullptr, cnt.data(),
                            nullptr) < 0)
      fail("cannot select rows of dataset '" + name + "'");
  }
  std::vector<hsize_t> mdims(out_dims.begin(), out_dims.end());
  H5Handle mspace(H5Screate_simple(static_cast<int>(mdims.size()), mdims.data(), nullptr));
  if (H5Dread(ds.get(), mem_type(st), mspace.get(), fspace.get(), H5P_DEFAULT, t.data_ptr()) < 0)
    fail("cannot read rows of dataset '" + name + "' (damaged: checksum or I/O error)");
  return t;
}

void H5File::append(const std::string& name, const at::Tensor& rows_in) {
  at::Tensor rows = rows_in.detach().to(at::kCPU).contiguous();
  if (rows.scalar_type() == at::kBool) rows = rows.to(at::kByte);
  std::vector<int64_t> dims = shape(name);
  if (dtype(name) != rows.scalar_type())
    fail(str_cat("append to '", name, "': dtype ", rows.scalar_type(), " does not match"));
  if (rows.dim() != static_cast<int64_t>(dims.size()))
    fail("append to '" + name + "': rank does not match");
  for (size_t i = 1; i < dims.size(); ++i)
    if (rows.size(static_cast<int64_t>(i)) != dims[i])
      fail("append to '" + name + "': row shape does not match");
  if (rows.size(0) == 0) return;
  H5Handle ds = open_dataset(name);
  std::vector<hsize_t> new_dims(dims.begin(), dims.end());
  new_dims[0] += static_cast<hsize_t>(rows.size(0));
  if (H5Dset_extent(ds.get(), new_dims.data()) < 0)
    fail("cannot extend dataset '" + name + "' (not created extendable?)");
  H5Handle fspace(H5Dget_space(ds.get()));
  std::vector<hsize_t> off(dims.size(), 0), cnt(rows.sizes().begin(), rows.sizes().end());
  off[0] = static_cast<hsize_t>(dims[0]);
  H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, off.data(), nullptr, cnt.data(), nullptr);
  H5Handle mspace(H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr));
  const bool written = H5Dwrite(ds.get(), mem_type(rows.scalar_type()), mspace.get(), fspace.get(),
                                H5P_DEFAULT, rows.data_ptr()) >= 0 &&
                       (!io_ || H5Dflush(ds.get()) >= 0);
  if (!written || write_failed()) fail("cannot append to dataset '" + name + "'");
}

H5Handle H5File::open_object(const std::string& obj) const {
  if (!exists(obj)) fail("missing object '" + obj + "'");
  H5Handle o(H5Oopen(file_.get(), obj.c_str(), H5P_DEFAULT));
  if (!o.valid()) fail("cannot open '" + obj + "'");
  return o;
}

bool H5File::has_attr(const std::string& obj, const std::string& key) const {
  if (!exists(obj)) return false;
  return H5Aexists_by_name(file_.get(), obj.c_str(), key.c_str(), H5P_DEFAULT) > 0;
}

H5Handle H5File::open_attr(const std::string& obj, const std::string& key) const {
  if (!has_attr(obj, key)) fail("missing attribute '" + key + "' on '" + obj + "'");
  H5Handle a(H5Aopen_by_name(file_.get(), obj.c_str(), key.c_str(), H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid()) fail("cannot open attribute '" + key + "' on '" + obj + "'");
  return a;
}

void H5File::set_attr(const std::string& obj, const std::string& key, const std::string& value) {
  H5Handle o = open_object(obj);
  if (H5Aexists(o.get(), key.c_str()) > 0) H5Adelete(o.get(), key.c_str());
  // Variable-length UTF-8, which h5py reads back as str.
  H5Handle type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  H5Handle space(H5Screate(H5S_SCALAR));
  H5Handle a(H5Acreate2(o.get(), key.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  const char* p = value.c_str();
  if (!a.valid() || H5Awrite(a.get(), type.get(), &p) < 0)
    fail("cannot write attribute '" + key + "' on '" + obj + "'");
}

void H5File::set_attr(const std::string& obj, const std::string& key, int64_t value) {
  H5Handle o = open_object(obj);
  if (H5Aexists(o.get(), key.c_str()) > 0) H5Adelete(o.get(), key.c_str());
  H5Handle space(H5Screate(H5S_SCALAR));
  H5Handle a(H5Acreate2(o.get(), key.c_str(), H5T_NATIVE_INT64, space.get(), H5P_DEFAULT,
                        H5P_DEFAULT));
  if (!a.valid() || H5Awrite(a.get(), H5T_NATIVE_INT64, &value) < 0)
    fail("cannot write attribute '" + key + "' on '" + obj + "'");
}

void H5File::set_attr(const std::string& obj, const std::string& key, double value) {
  H5Handle o = open_object(obj);
  if (H5Aexists(o.get(), key.c_str()) > 0) H5Adelete(o.get(), key.c_str());
  H5Handle space(H5Screate(H5S_SCALAR));
  H5Handle a(H5Acreate2(o.get(), key.c_str(), H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT,
                        H5P_DEFAULT));
  if (!a.valid() || H5Awrite(a.get(), H5T_NATIVE_DOUBLE, &value) < 0)
    fail("cannot write attribute '" + key + "' on '" + obj + "'");
}

std::string H5File::attr_string(const std::string& obj, const std::string& key) const {
  H5Handle a = open_attr(obj, key);
  H5Handle type(H5Aget_type(a.get()));
  if (H5Tget_class(type.get()) != H5T_STRING)
    fail("attribute '" + key + "' on '" + obj + "' is not a string");
  if (H5Tis_variable_str(type.get()) > 0) {
    H5Handle mtype(H5Tcopy(H5T_C_S1));
    H5Tset_size(mtype.get(), H5T_VARIABLE);
    H5Tset_cset(mtype.get(), H5Tget_cset(type.get()));
    char* p = nullptr;
    if (H5Aread(a.get(), mtype.get(), &p) < 0) fail("cannot read attribute '" + key + "'");
    std::string s = p ? p : "";
    H5Handle space(H5Aget_space(a.get()));
    H5Dvlen_reclaim(mtype.get(), space.get(), H5P_DEFAULT, &p);
    return s;
  }
  const size_t n = H5Tget_size(type.get());
  std::string s(n, '\0');
  if (H5Aread(a.get(), type.get(), s.data()) < 0) fail("cannot read attribute '" + key + "'");
  s.resize(std::strlen(s.c_str()));
  return s;
}

int64_t H5File::attr_int(const std::string& obj, const std::string& key) const {
  H5Handle a = open_attr(obj, key);
  H5Handle type(H5Aget_type(a.get()));
  if (H5Tget_class(type.get()) != H5T_INTEGER)
    fail("attribute '" + key + "' on '" + obj + "' is not an integer");
  int64_t v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_INT64, &v) < 0) fail("cannot read attribute '" + key + "'");
  return v;
}

double H5File::attr_double(const std::string& obj, const std::string& key) const {
  H5Handle a = open_attr(obj, key);
  H5Handle type(H5Aget_type(a.get()));
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    fail("attribute '" + key + "' on '" + obj + "' is not a number");
  double v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0) fail("cannot read attribute '" + key + "'");
  return v;
}

bool is_hdf5_file(const std::string& path) {
  silence_hdf5();
  return H5Fis_hdf5(path.c_str()) > 0;
}

}  // namespace disttune
