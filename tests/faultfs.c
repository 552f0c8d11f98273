/* faultfs: a test-only LD_PRELOAD library that injects storage faults into a real disttune
 * process (alone, under mpirun, in sanitizer builds) beneath everything disttune and libhdf5
 * do. It wraps write, pwrite, fsync, fdatasync and rename for files whose path contains
 * FAULTFS_MATCH; tests/faults_storage_test.py drives it. Configuration (environment):
 *
 *   FAULTFS_MATCH=substring   required: nothing is injected without it
 *   FAULTFS_ENOSPC_AFTER=N    writes to matching files fail with ENOSPC once N bytes were
 *                             written to them; the write that crosses N is short
 *   FAULTFS_SHORT=N           each write to a matching file writes at most N bytes
 *   FAULTFS_FSYNC=file        fsync/fdatasync of a matching file fails with EIO
 *   FAULTFS_FSYNC=dir         fsync of a directory fails with EIO once a matching file has
 *                             been written (the directory fsync that publishes it)
 *   FAULTFS_RENAME=1          rename from or to a matching path fails with EIO
 *   FAULTFS_LOG=path          one line per injected fault ("<unix time> <pid> <fault> <path>"),
 *                             so a test can tell that the fault fired, and when
 *
 * Writes through stdio inside libc are not seen (glibc calls its internal write); disttune
 * writes every output through its Env (write/pwrite), which is seen. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void*, size_t);
static ssize_t (*real_pwrite)(int, const void*, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void*, size_t, off64_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char*, const char*);

static atomic_llong written;  /* bytes written to matching files */
static atomic_int armed;      /* a matching file has been written */

static void* next_symbol(const char* name) { return dlsym(RTLD_NEXT, name); }

static const char* match(void) {
  const char* m = getenv("FAULTFS_MATCH");
  return m && *m ? m : NULL;
}

static long long env_ll(const char* name, long long dflt) {
  const char* v = getenv(name);
  return v && *v ? atoll(v) : dflt;
}

static int fd_path(int fd, char* buf, size_t n) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t len = readlink(link, buf, n - 1);
  if (len < 0) return 0;
  buf[len] = '\0';
  return 1;
}

static int fd_matches(int fd) {
  const char* m = match();
  char path[4096];
  return m && fd_path(fd, path, sizeof path) && strstr(path, m) != NULL;
}

static int fd_is_dir(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

static void note(const char* what, int fd, const char* path) {
  const char* log = getenv("FAULTFS_LOG");
  if (!log || !*log) return;
  char p[4096] = "";
  if (path)
    snprintf(p, sizeof p, "%s", path);
  else
    fd_path(fd, p, sizeof p);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char line[4200];
  const int n = snprintf(line, sizeof line, "%.3f %d %s %s\n", (double)ts.tv_sec + ts.tv_nsec * 1e-9,
                         (int)getpid(), what, p);
  if (!real_write) real_write = next_symbol("write");
  const int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (lfd < 0) return;
  if (n > 0) real_write(lfd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
  close(lfd);
}

/* How many of `n` bytes a write to `fd` may write: n, fewer (short write), or -1 (ENOSPC). */
static ssize_t allowance(int fd, size_t n) {
  if (!fd_matches(fd)) return (ssize_t)n;
  atomic_store(&armed, 1);
  const long long cap = env_ll("FAULTFS_SHORT", 0);
  if (cap > 0 && (long long)n > cap) {
    n = (size_t)cap;
    note("short-write", fd, NULL);
  }
  const long long after = env_ll("FAULTFS_ENOSPC_AFTER", -1);
  if (after >= 0) {
    const long long room = after - atomic_load(&written);
    if (room <= 0) {
      note("ENOSPC", fd, NULL);
      errno = ENOSPC;
      return -1;
    }
    if ((long long)n > room) {
      n = (size_t)room;
      note("short-write-then-ENOSPC", fd, NULL);
    }
  }
  return (ssize_t)n;
}

static void count(int fd, ssize_t w) {
  if (w > 0 && fd_matches(fd)) atomic_fetch_add(&written, (long long)w);
}

ssize_t write(int fd, const void* buf, size_t n) {
  if (!real_write) real_write = next_symbol("write");
  const ssize_t allowed = allowance(fd, n);
  if (allowed < 0) return -1;
  const ssize_t w = real_write(fd, buf, (size_t)allowed);
  count(fd, w);
  return w;
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  if (!real_pwrite) real_pwrite = next_symbol("pwrite");
  const ssize_t allowed = allowance(fd, n);
  if (allowed < 0) return -1;
  const ssize_t w = real_pwrite(fd, buf, (size_t)allowed, off);
  count(fd, w);
  return w;
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t off) {
  if (!real_pwrite64) real_pwrite64 = next_symbol("pwrite64");
  const ssize_t allowed = allowance(fd, n);
  if (allowed < 0) return -1;
  const ssize_t w = real_pwrite64(fd, buf, (size_t)allowed, off);
  count(fd, w);
  return w;
}

static int fsync_fails(int fd) {
  const char* mode = getenv("FAULTFS_FSYNC");
  if (!mode || !match()) return 0;
  if (strcmp(mode, "file") == 0) return fd_matches(fd);
  if (strcmp(mode, "dir") == 0) return atomic_load(&armed) && fd_is_dir(fd);
  return 0;
}

int fsync(int fd) {
  if (!real_fsync) real_fsync = next_symbol("fsync");
  if (fsync_fails(fd)) {
    note("EIO-fsync", fd, NULL);
    errno = EIO;
    return -1;
  }
  return real_fsync(fd);
}

int fdatasync(int fd) {
  if (!real_fdatasync) real_fdatasync = next_symbol("fdatasync");
  if (fsync_fails(fd)) {
    note("EIO-fdatasync", fd, NULL);
    errno = EIO;
    return -1;
  }
  return real_fdatasync(fd);
}

int rename(const char* from, const char* to) {
  if (!real_rename) real_rename = next_symbol("rename");
  const char* m = match();
  if (m && env_ll("FAULTFS_RENAME", 0) && (strstr(from, m) || strstr(to, m))) {
    note("EIO-rename", -1, from);
    errno = EIO;
    return -1;
  }
  return real_rename(from, to);
}
