// Registry, guarded execution, scratch files and crash-input saving shared by every target
// and both drivers.
#include <c10/util/Exception.h>
#include <cxxabi.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>
#include <set>

#include "common/check.h"
#include "fuzz.h"

namespace disttune::fuzz {
namespace {

std::vector<Target>& registry() {
  static std::vector<Target> r;
  return r;
}

std::string g_outcome = "ok";
std::string g_notes;
bool g_accepted = false;

// The input being run, for the crash handlers. Plain globals: a signal handler reads them.
const char* volatile g_target = "";
const uint8_t* volatile g_data = nullptr;
volatile size_t g_size = 0;
volatile bool g_saved = false;
char g_prefix[512] = "./";

std::string type_name(const std::type_info& t) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(t.name(), nullptr, nullptr, &status),
                                           std::free);
  return status == 0 && d ? d.get() : t.name();
}

// Async-signal-safe output helpers.
void put(int fd, const char* s) {
  ssize_t r = ::write(fd, s, std::strlen(s));
  (void)r;
}

void hex64(uint64_t v, char* out) {
  static const char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[v & 15];
    v >>= 4;
  }
  out[16] = '\0';
}

// Whether s[i] is inside a run of 8 or more hex digits (a digest in a message).
bool hex_run(const std::string& s, size_t i) {
  size_t b = i, e = i;
  while (b > 0 && std::isxdigit(static_cast<unsigned char>(s[b - 1]))) --b;
  while (e < s.size() && std::isxdigit(static_cast<unsigned char>(s[e]))) ++e;
  return e - b >= 8;
}

// Inputs that fail the same way differ in the numbers, names and values their messages
// quote: those are masked, so that an outcome stands for a check, not for the input.
std::string mask(const std::string& msg) {
  std::string s = msg;
  const std::string& dir = scratch_dir();
  for (size_t p; (p = s.find(dir)) != std::string::npos;) s.replace(p, dir.size(), "<scratch>");
  for (const char* tail : {"got ", "has: "})
    if (const size_t p = s.find(tail); p != std::string::npos) s.resize(p + std::strlen(tail));
  std::string out;
  char quote = 0;
  for (const char& c : s) {
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      out += "<q>";
    } else if (std::isxdigit(static_cast<unsigned char>(c)) && (c <= '9' || hex_run(s, &c - s.data()))) {
      if (out.empty() || out.back() != '#') out.push_back('#');
    } else {
      out.push_back(c);
    }
    if (out.size() >= 120) break;
  }
  return out;
}

}  // namespace

Registrar::Registrar(Target t) { registry().push_back(std::move(t)); }

const std::vector<Target>& targets() { return registry(); }

const Target* find_target(const std::string& name) {
  for (const auto& t : registry())
    if (name == t.name) return &t;
  return nullptr;
}

const std::string& last_outcome() { return g_outcome; }
bool last_accepted() { return g_accepted; }
void note_outcome(const std::string& message_or_ok) { g_notes += mask(message_or_ok) + " | "; }

void bug(const char* target, const std::string& what) {
  std::fprintf(stderr, "\n==disttune_fuzz== BUG in target %s: %s\n", target, what.c_str());
  std::fflush(stderr);
  save_current_input("bug");
  std::abort();
}

int run_guarded(const char* target, const uint8_t* data, size_t size,
                void (*body)(std::string_view)) {
  g_notes.clear();
  g_accepted = false;
  try {
    body(std::string_view(reinterpret_cast<const char*>(data), size));
    g_outcome = g_notes + "ok";
    g_accepted = true;
  } catch (const UserError& e) {
    g_outcome = g_notes + mask(e.what());
  } catch (const InternalError& e) {
    bug(target, str_cat("InternalError (a broken invariant, not a clean input error): ", e.what()));
  } catch (const std::bad_alloc& e) {
    bug(target, str_cat(type_name(typeid(e)),
                        ": an allocation too large for the input, sized by an unchecked value"));
  } catch (const c10::Error& e) {
    bug(target, str_cat("c10::Error escaped (not a clean input error): ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    bug(target, str_cat(type_name(typeid(e)), " escaped (not a clean input error): ", e.what()));
  } catch (...) {
    bug(target, "an exception of unknown type escaped");
  }
  return 0;
}

const std::string& scratch_dir() {
  // Never destroyed: the exit handler below runs after static destructors would have.
  static const std::string* dir = [] {
    std::error_code ec;
    std::string base = std::filesystem::is_directory("/dev/shm", ec)
                           ? std::string("/dev/shm")
                           : std::filesystem::temp_directory_path().string();
    auto* d = new std::string(base + "/disttune-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code e;
      std::filesystem::remove_all(scratch_dir(), e);
    });
    return d;
  }();
  return *dir;
}

std::string write_scratch(const std::string& name, std::string_view bytes) {
  static std::set<std::string> made;
  const std::string path = scratch_dir() + "/" + name;
  const size_t slash = name.rfind('/');
  if (slash != std::string::npos && made.insert(name.substr(0, slash)).second)
    std::filesystem::create_directories(scratch_dir() + "/" + name.substr(0, slash));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  DT_CHECK(fd >= 0, "cannot create ", path, ": ", std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    DT_CHECK(w > 0, "cannot write ", path, ": ", std::strerror(errno));
    done += static_cast<size_t>(w);
  }
  ::close(fd);
  return path;
}

void remove_scratch(const std::string& name) {
  const std::string path = scratch_dir() + "/" + name;
  ::unlink(path.c_str());
}

std::vector<std::string_view> split_parts(std::string_view input, size_t n) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < n) {
    const size_t p = input.find(kPartSeparator);
    if (p == std::string_view::npos) break;
    parts.push_back(input.substr(0, p));
    input.remove_prefix(p + kPartSeparator.size());
  }
  parts.push_back(input);
  return parts;
}

std::string join_parts(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += kPartSeparator;
    out += parts[i];
  }
  return out;
}

void set_current_input(const char* target, const uint8_t* data, size_t size) {
  g_target = target;
  g_data = data;
  g_size = size;
}

void set_artifact_prefix(const std::string& prefix) {
  std::snprintf(g_prefix, sizeof g_prefix, "%s", prefix.c_str());
}

void save_current_input(const char* why) {
  if (g_saved || g_data == nullptr) return;
  g_saved = true;
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a of the input names the file
  for (size_t i = 0; i < g_size; ++i) h = (h ^ g_data[i]) * 0x100000001b3ull;
  char hex[17];
  hex64(h, hex);
  char path[768];
  // Built by hand: snprintf is not async-signal-safe.
  path[0] = '\0';
  std::strncat(path, g_prefix, sizeof path - 1);
  std::strncat(path, "crash-", sizeof path - std::strlen(path) - 1);
  std::strncat(path, g_target, sizeof path - std::strlen(path) - 1);
  std::strncat(path, "-", sizeof path - std::strlen(path) - 1);
  std::strncat(path, hex, sizeof path - std::strlen(path) - 1);
  const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    size_t done = 0;
    while (done < g_size) {
      const ssize_t w = ::write(fd, g_data + done, g_size - done);
      if (w <= 0) break;
      done += static_cast<size_t>(w);
    }
    ::close(fd);
  }
  put(2, "==disttune_fuzz== ");
  put(2, why);
  put(2, ": input saved to ");
  put(2, fd >= 0 ? path : "(could not write the crash file)");
  put(2, "\n==disttune_fuzz== reproduce with: disttune_fuzz ");
  put(2, g_target);
  put(2, " --input ");
  put(2, path);
  put(2, "\n");
}

}  // namespace disttune::fuzz
