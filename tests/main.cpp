// Test main: the same binary runs alone (world size 1) and under mpirun -np N. Every rank
// runs every test in the same order, so tests may use collectives. Only rank 0 prints the
// usual gtest output; other ranks print their failures, prefixed with the rank.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "common/log.h"
#include "dist/dist.h"

namespace {

class RankFailurePrinter : public testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const testing::TestPartResult& r) override {
    if (r.failed())
      std::fprintf(stderr, "[rank %d] %s:%d: %s\n", rank_, r.file_name() ? r.file_name() : "?",
                   r.line_number(), r.summary());
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace disttune;
  testing::InitGoogleTest(&argc, argv);
  Dist& d = dist_init(&argc, &argv);
  log_init(d.rank, (std::filesystem::temp_directory_path() / "disttune-test-logs").string());
  dist_set_timeout(120);
  if (d.rank != 0) {
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(d.rank));
  }
  int rc = RUN_ALL_TESTS();
  // One verdict for the job: a failure on any rank fails every rank.
  rc = static_cast<int>(d.comm->all_reduce_int(rc, ReduceOp::Max));
  dist_free();
  return rc;
}
