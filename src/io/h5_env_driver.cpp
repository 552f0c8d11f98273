#include "io/h5_env_driver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>

// HDF5 1.14 moved the driver class definition out of the public headers.
#if __has_include(<H5FDdevelop.h>)
#include <H5FDdevelop.h>
#endif

#include "common/check.h"
#include "common/env.h"

namespace disttune {
namespace {

// The driver info a property list carries (HDF5 copies it by value).
struct EnvH5DriverInfo {
  H5EnvIo* io;
};

// One open file. `pub` comes first: HDF5 sees the object as an H5FD_t.
struct EnvH5File {
  H5FD_t pub;
  int fd;
  haddr_t eoa, eof;
  dev_t dev;
  ino_t ino;
  H5EnvIo* io;
  std::string* path;
};

EnvH5File* env_h5_file(H5FD_t* f) { return reinterpret_cast<EnvH5File*>(f); }
const EnvH5File* env_h5_file(const H5FD_t* f) { return reinterpret_cast<const EnvH5File*>(f); }

void env_h5_record(EnvH5File* f, const std::string& msg) {
  if (f->io->error.empty()) f->io->error = msg;
}

H5FD_t* env_h5_open(const char* name, unsigned flags, hid_t fapl, haddr_t /*maxaddr*/) {
  const auto* info = static_cast<const EnvH5DriverInfo*>(H5Pget_driver_info(fapl));
  if (!info || !info->io) return nullptr;
  H5EnvIo* io = info->io;
  int o = (flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY;
  if (flags & H5F_ACC_TRUNC) o |= O_TRUNC;
  if (flags & H5F_ACC_CREAT) o |= O_CREAT;
  if (flags & H5F_ACC_EXCL) o |= O_EXCL;
  // HDF5 first opens without CREAT/TRUNC to see whether the file is open already, so a
  // failure here is only remembered; H5File reports it if the create fails as a whole.
  const int fd = ::open(name, o | O_CLOEXEC, 0666);
  if (fd < 0) {
    io->open_error = str_cat(name, ": cannot ", (o & O_CREAT) ? "create" : "open", ": ", std::strerror(errno));
    return nullptr;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    io->open_error = str_cat(name, ": cannot stat: ", std::strerror(errno));
    ::close(fd);
    return nullptr;
  }
  auto* f = new EnvH5File{};
  f->fd = fd;
  f->eoa = 0;
  f->eof = static_cast<haddr_t>(st.st_size);
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  f->io = io;
  f->path = new std::string(name);
  return &f->pub;
}

herr_t env_h5_close(H5FD_t* file) {
  EnvH5File* f = env_h5_file(file);
  if (::close(f->fd) != 0) env_h5_record(f, str_cat(*f->path, ": close failed: ", std::strerror(errno)));
  delete f->path;
  delete f;
  return 0;  // reported through H5EnvIo::error (see h5_env_driver.h)
}

int env_h5_cmp(const H5FD_t* a, const H5FD_t* b) {
  const EnvH5File *x = env_h5_file(a), *y = env_h5_file(b);
  if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
  if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
  return 0;
}

herr_t env_h5_query(const H5FD_t*, unsigned long* flags) {
  // What sec2 declares for its layout decisions, so files come out the same.
  if (flags)
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA;
  return 0;
}

haddr_t env_h5_get_eoa(const H5FD_t* file, H5FD_mem_t) { return env_h5_file(file)->eoa; }

herr_t env_h5_set_eoa(H5FD_t* file, H5FD_mem_t, haddr_t addr) {
  env_h5_file(file)->eoa = addr;
  return 0;
}

haddr_t env_h5_get_eof(const H5FD_t* file, H5FD_mem_t) { return env_h5_file(file)->eof; }

herr_t env_h5_read(H5FD_t* file, H5FD_mem_t, hid_t, haddr_t addr, size_t size, void* buf) {
  EnvH5File* f = env_h5_file(file);
  char* p = static_cast<char*>(buf);
  while (size > 0) {
    const ssize_t n = ::pread(f->fd, p, size, static_cast<off_t>(addr));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) {  // past the end of the file: zeros, as sec2 does
      std::memset(p, 0, size);
      break;
    }
    p += n;
    addr += static_cast<haddr_t>(n);
    size -= static_cast<size_t>(n);
  }
  return 0;
}

herr_t env_h5_write(H5FD_t* file, H5FD_mem_t, hid_t, haddr_t addr, size_t size, const void* buf) {
  EnvH5File* f = env_h5_file(file);
  if (!f->io->error.empty()) return 0;  // skipped: the file is already incomplete
  const Status st = f->io->env->write_at(f->fd, addr, static_cast<const char*>(buf), size, *f->path);
  if (!st.ok()) {
    env_h5_record(f, st.message());
    return 0;  // recorded; HDF5 is not told (see h5_env_driver.h)
  }
  f->eof = std::max<haddr_t>(f->eof, addr + size);
  return 0;
}

herr_t env_h5_truncate(H5FD_t* file, hid_t, hbool_t) {
  EnvH5File* f = env_h5_file(file);
  if (f->eoa == f->eof || !f->io->error.empty()) return 0;
  if (::ftruncate(f->fd, static_cast<off_t>(f->eoa)) != 0) {
    env_h5_record(f, str_cat(*f->path, ": cannot set the file size: ", std::strerror(errno)));
    return 0;
  }
  f->eof = f->eoa;
  return 0;
}

hid_t env_h5_driver_id() {
  static const hid_t id = [] {
    H5FD_class_t c{};
#ifdef H5FD_CLASS_VERSION
    c.version = H5FD_CLASS_VERSION;
    c.value = static_cast<H5FD_class_value_t>(471);  // in HDF5's range for unregistered drivers
#endif
    c.name = "disttune_env";
    c.maxaddr = static_cast<haddr_t>(std::numeric_limits<off_t>::max());
    c.fc_degree = H5F_CLOSE_WEAK;
    c.fapl_size = sizeof(EnvH5DriverInfo);
    c.open = env_h5_open;
    c.close = env_h5_close;
    c.cmp = env_h5_cmp;
    c.query = env_h5_query;
    c.get_eoa = env_h5_get_eoa;
    c.set_eoa = env_h5_set_eoa;
    c.get_eof = env_h5_get_eof;
    c.read = env_h5_read;
    c.write = env_h5_write;
    c.truncate = env_h5_truncate;
    const H5FD_mem_t map[] = H5FD_FLMAP_DICHOTOMY;
    std::copy(std::begin(map), std::end(map), std::begin(c.fl_map));
    const hid_t registered = H5FDregister(&c);
    DT_CHECK(registered >= 0, "cannot register the HDF5 Env driver");
    return registered;
  }();
  return id;
}

}  // namespace

hid_t h5_env_fapl(H5EnvIo* io) {
  DT_CHECK(io && io->env, "h5_env_fapl: no Env");
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  DT_CHECK(fapl >= 0, "cannot create an HDF5 file-access property list");
  const EnvH5DriverInfo info{io};
  if (H5Pset_driver(fapl, env_h5_driver_id(), &info) < 0) {
    H5Pclose(fapl);
    DT_FAIL("cannot select the HDF5 Env driver");
  }
  return fapl;
}

}  // namespace disttune
