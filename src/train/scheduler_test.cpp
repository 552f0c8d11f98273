// Learning-rate schedules against torch.optim.lr_scheduler.LambdaLR with the Hugging Face
// lambdas (tests/golden/train/schedules.json), and the warmup rule.
#include "train/scheduler.h"

#include <gtest/gtest.h>

#include "config/config.h"
#include "train/train_test_util.h"

namespace disttune {
namespace {

using namespace train_test;

TEST(Scheduler, MatchesLambdaLRWithTheHuggingFaceLambdas) {
  json g = load_golden("schedules.json");
  ASSERT_EQ(g.at("schedules").size(), 15u);
  for (const json& s : g.at("schedules")) {
    const int64_t total = s.at("total").get<int64_t>();
    const int64_t warmup = warmup_steps_for(total, s.at("warmup_steps").get<int64_t>(),
                                            s.at("warmup_ratio").get<double>());
    EXPECT_EQ(warmup, s.at("warmup").get<int64_t>());
    LrSchedule sched(parse_schedule(s.at("kind").get<std::string>()), s.at("base_lr").get<double>(),
                     total, warmup);
    const auto lrs = s.at("lrs").get<std::vector<double>>();
    for (int64_t step = 0; step < total; ++step)
      EXPECT_NEAR(sched.lr(step), lrs[step], 1e-15) << s.at("kind") << " total " << total << " step " << step;
  }
}

TEST(Scheduler, FromConfigWithWarmupRatioAndSteps) {
  Config c = Config::from_yaml("{}", "t.yaml", {"training.scheduler=linear", "training.learning_rate=1e-3",
                                               "training.warmup_ratio=0.25"});
  LrSchedule s = make_schedule(c, 10);
  EXPECT_EQ(s.warmup_steps(), 3);  // ceil(2.5)
  EXPECT_DOUBLE_EQ(s.lr(0), 0.0);
  EXPECT_DOUBLE_EQ(s.lr(3), 1e-3);
  EXPECT_DOUBLE_EQ(s.lr(10), 0.0);
  c.apply_override("training.warmup_steps=4");
  EXPECT_EQ(make_schedule(c, 10).warmup_steps(), 4);  // steps win over the ratio
  EXPECT_THROW(parse_schedule("polynomial"), UserError);
}

}  // namespace
}  // namespace disttune
