// Status/Result, checks, Env atomic writes and the progress line.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "common/cpu_isa.h"
#include "common/env.h"
#include "common/failpoint.h"
#include "common/progress.h"
#include "common/status.h"
#include "test_util.h"

namespace disttune {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return Status::Error(str_cat("expected a positive number, got ", v));
  return v;
}

TEST(Status, CarriesOneMessageAndContext) {
  EXPECT_TRUE(Status::OK().ok());
  Status s = Status::Error("line 3: bad").with_context("data.jsonl");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "data.jsonl: line 3: bad");
  EXPECT_THROW(s.throw_if_error(), UserError);
  EXPECT_EQ(*parse_positive(4), 4);
  Result<int> bad = parse_positive(-1);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "expected a positive number, got -1");
  EXPECT_THROW(bad.value(), UserError);
}

TEST(Check, InternalErrorsNameTheSourceLine) {
  try {
    DT_CHECK(1 + 1 == 3, "arithmetic ", 42);
    FAIL();
  } catch (const InternalError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("src/common/common_test.cpp:", 0), 0u) << m;
    EXPECT_NE(m.find("check failed: 1 + 1 == 3 (arithmetic 42)"), std::string::npos) << m;
  }
}

// Fails the first write after `fail_after` successful ones, as a full disk would.
class FullDiskEnv : public Env {
 public:
  Status write_all(int fd, const char* data, size_t n, const std::string& path) override {
    return Status::Error(path + ": write failed: No space left on device");
  }
};

TEST(Env, AtomicWriteReplacesWholeOrNotAtAll) {
  test::TempDir dir;
  const std::string f = dir.file("metrics.json");
  Env* env = Env::Default();
  ASSERT_TRUE(env->write_file_atomic(f, "first").ok());
  EXPECT_EQ(test::read_text(f), "first");
  ASSERT_TRUE(env->write_file_atomic(f, "second").ok());
  EXPECT_EQ(test::read_text(f), "second");

  FullDiskEnv full;
  Status st = full.write_file_atomic(f, "third");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("No space left on device"), std::string::npos);
  EXPECT_EQ(test::read_text(f), "second");  // the old file is intact
  EXPECT_FALSE(env->file_exists(Env::temp_name(f)));  // and no temporary is left behind
}

TEST(Env, ReadMissingFileNamesIt) {
  std::string out;
  Status st = Env::Default()->read_file("/nonexistent/x.txt", &out);
  EXPECT_EQ(st.message(), "/nonexistent/x.txt: cannot open: No such file or directory");
}

TEST(Progress, RendersRateAndEta) {
  EXPECT_EQ(Progress::format_duration(5), "00:05");
  EXPECT_EQ(Progress::format_duration(3725), "1:02:05");
  EXPECT_EQ(Progress::format_duration(-1), "?");
  Progress p("encode", 200, "docs");
  p.set_mode_for_test(false, 1e9);
  p.update(50);
  p.set_postfix("loss=0.5");
  const std::string line = p.render(100);
  EXPECT_EQ(line.rfind("encode  25% |", 0), 0u) << line;
  EXPECT_NE(line.find("| 50/200 ["), std::string::npos) << line;
  EXPECT_NE(line.find("docs/s]"), std::string::npos) << line;
  EXPECT_NE(line.find("loss=0.5"), std::string::npos) << line;
  Progress unknown("scan", 0);
  unknown.update(7);
  EXPECT_EQ(unknown.render(100).rfind("scan 7 [", 0), 0u);
}

// Arms DISTTUNE_FAILPOINTS for one test and disarms it after.
struct ArmedFailpoints {
  ArmedFailpoints(const char* spec, int rank) {
    setenv("DISTTUNE_FAILPOINTS", spec, 1);
    failpoint_init(rank);
  }
  ~ArmedFailpoints() {
    unsetenv("DISTTUNE_FAILPOINTS");
    failpoint_init(0);
  }
};

TEST(Failpoint, FiresOnTheChosenHitAndRankOnly) {
  {
    ArmedFailpoints armed("a.b#3=nan,c@1=nan,d=throw", 1);
    EXPECT_FALSE(failpoint("a.b"));
    EXPECT_FALSE(failpoint("a.b"));
    EXPECT_TRUE(failpoint("a.b"));   // the third time
    EXPECT_FALSE(failpoint("a.b"));  // and only then
    EXPECT_TRUE(failpoint("c"));     // armed for rank 1, this rank
    EXPECT_FALSE(failpoint("x"));
    EXPECT_EQ(test::error_of([] { failpoint("d"); }), "failpoint d (DISTTUNE_FAILPOINTS)");
  }
  {
    ArmedFailpoints armed("c@1=nan", 0);
    EXPECT_FALSE(failpoint("c"));  // another rank's
  }
  EXPECT_FALSE(failpoint("a.b"));  // disarmed
}

TEST(Failpoint, BadSpecificationNamesTheEntry) {
  setenv("DISTTUNE_FAILPOINTS", "ok=nan,x#0=kill", 1);
  EXPECT_EQ(test::error_of([] { failpoint_init(0); }),
            "DISTTUNE_FAILPOINTS: entry 'x#0=kill': HIT must be a positive integer "
            "(expected NAME[@RANK][#HIT]=kill|stop|throw|nan)");
  setenv("DISTTUNE_FAILPOINTS", "x=explode", 1);
  EXPECT_NE(test::error_of([] { failpoint_init(0); }).find("'x=explode': unknown action"),
            std::string::npos);
  unsetenv("DISTTUNE_FAILPOINTS");
  failpoint_init(0);
}

// The bf16 check (training.precision bf16 on the CPU warns without it; benchmarks/run skips
// its bf16 entries) agrees with the kernel's view of the CPU.
TEST(CpuIsa, Bf16MatchesProcCpuinfo) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  bool found = false;
  while (!found && std::getline(in, line)) found = line.rfind("flags", 0) == 0;
  if (!found) GTEST_SKIP() << "no flags line in /proc/cpuinfo";
  std::istringstream words(line);
  bool listed = false;
  for (std::string w; words >> w;) listed = listed || w == "avx512_bf16" || w == "amx_bf16";
  EXPECT_EQ(cpu_has_bf16(), listed) << line;
}

}  // namespace
}  // namespace disttune
