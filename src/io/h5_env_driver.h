// An HDF5 virtual file driver that writes through an Env, so that the files libhdf5 writes
// (checkpoints, token stores, embeddings) go through the same filesystem seam as every other
// output: tests inject disk-full, short-write and fsync faults into them, and a failed write
// is reported with the file and the OS error instead of HDF5's generic "write failed".
//
// Like HDF5's default sec2 driver it keeps no buffer of its own (one pwrite per HDF5 write,
// files byte-compatible with sec2, h5py and every other reader) and reads with pread.
//
// HDF5 never sees a write fail. The first failure is recorded in H5EnvIo::error, every later
// write to that file is skipped (the file is incomplete and will be discarded), and H5File
// checks `error` after each operation and at close. Reporting the failure to HDF5 instead
// leaves it inconsistent: after a failed write inside H5Dwrite, H5Dflush or a close, HDF5
// 1.10 frees the file but keeps its ID registered, and the process crashes at library
// shutdown (StorageFaultHdf5.EverySingleFailedWriteIsReported).
// Why a driver rather than an in-memory image or a test-only interposer: docs/reliability.md.
#pragma once

#include <hdf5.h>

#include <string>

namespace disttune {

class Env;

// What the driver reports about one file; owned by the caller and alive as long as the file.
struct H5EnvIo {
  Env* env = nullptr;
  std::string error;       // the first failed write, close or truncate: the file is incomplete
  std::string open_error;  // why the last open or create failed
};

// A new file-access property list (the caller closes it) that opens files through the
// driver, reporting to *io.
hid_t h5_env_fapl(H5EnvIo* io);

}  // namespace disttune
