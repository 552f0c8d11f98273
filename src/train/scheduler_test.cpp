// Learning-rate schedules against torch.optim.lr_scheduler.LambdaLR with the Hugging Face
// lambdas (tests/golden/train/schedules.json), and the warmup rule.
#include "train/scheduler.h"

#include <cmath>

#include <gtest/gtest.h>

#include "config/config.h"
#include "train/plateau.h"
#include "train/train_test_util.h"

namespace disttune {
namespace {

using namespace train_test;

// A golden case's kwargs as training.scheduler_kwargs overrides.
void add_kwargs(const json& kwargs, std::vector<std::string>* sets) {
  for (const auto& [key, value] : kwargs.items())
    sets->push_back("training.scheduler_kwargs." + key + "=" +
                    (value.is_string() ? value.get<std::string>() : value.dump()));
}

// Each golden schedule through the config, as a run builds it: training.scheduler,
// training.scheduler_kwargs and the warmup keys.
Config schedule_config(const json& s) {
  std::vector<std::string> sets{"training.scheduler=" + s.at("kind").get<std::string>(),
                                str_cat("training.learning_rate=", s.at("base_lr").get<double>())};
  if (s.at("warmup_steps").get<int64_t>() > 0)
    sets.push_back(str_cat("training.warmup_steps=", s.at("warmup_steps").get<int64_t>()));
  sets.push_back(str_cat("training.warmup_ratio=", s.at("warmup_ratio").get<double>()));
  add_kwargs(s.at("kwargs"), &sets);
  return Config::from_yaml("{}", "t.yaml", sets);
}

TEST(Scheduler, MatchesLambdaLRWithTheHuggingFaceLambdas) {
  json g = load_golden("schedules.json");
  ASSERT_EQ(g.at("schedules").size(), 28u);
  for (const json& s : g.at("schedules")) {
    const int64_t total = s.at("total").get<int64_t>();
    const LrSchedule sched = make_schedule(schedule_config(s), total);
    EXPECT_EQ(sched.warmup_steps(), s.at("warmup").get<int64_t>()) << s.at("kind");
    const auto lrs = s.at("lrs").get<std::vector<double>>();
    for (int64_t step = 0; step < total; ++step)
      EXPECT_NEAR(sched.lr(step), lrs[step], 1e-15)
          << s.at("kind") << " " << s.at("kwargs") << " total " << total << " step " << step;
  }
}

// reduce_lr_on_plateau against torch.optim.lr_scheduler.ReduceLROnPlateau stepped with the
// same metrics, kwargs through the config; the state survives its checkpoint attributes.
TEST(Scheduler, PlateauMatchesReduceLROnPlateau) {
  json g = load_golden("schedules.json");
  ASSERT_EQ(g.at("plateaus").size(), 9u);
  int reductions = 0;
  for (const json& c : g.at("plateaus")) {
    std::vector<std::string> sets{"training.scheduler=reduce_lr_on_plateau", "training.learning_rate=1e-3"};
    add_kwargs(c.at("kwargs"), &sets);
    const LrSchedule sched = make_schedule(Config::from_yaml("{}", "t.yaml", sets), 50);
    EXPECT_EQ(sched.warmup_steps(), 0);
    EXPECT_DOUBLE_EQ(sched.lr(7), 1e-3);
    Plateau p(sched.options(), 1e-3);
    const auto metrics = c.at("metrics").get<std::vector<double>>();
    const auto lrs = c.at("lrs").get<std::vector<double>>();
    for (size_t i = 0; i < metrics.size(); ++i) {
      const double before = p.lr();
      reductions += p.step(metrics[i]) ? 1 : 0;
      EXPECT_EQ(p.lr() < before, lrs[i] < (i ? lrs[i - 1] : 1e-3)) << c.at("kwargs") << " eval " << i;
      EXPECT_NEAR(p.lr(), lrs[i], 1e-12 * lrs[i] + 1e-30) << c.at("kwargs") << " eval " << i;
      // A checkpoint's attributes restore the state exactly, mid-sequence.
      Plateau q(sched.options(), 1e-3);
      q.restore(Plateau::from_attributes(p.attributes()));
      EXPECT_EQ(q.lr(), p.lr());
      EXPECT_EQ(q.state().best, p.state().best);
      EXPECT_EQ(q.state().bad_evals, p.state().bad_evals);
      EXPECT_EQ(q.state().cooldown_left, p.state().cooldown_left);
    }
  }
  EXPECT_GT(reductions, 20);
  // mode max is the default here (torch's is min): a rising score is no plateau.
  Plateau rising(make_schedule(Config::from_yaml("{}", "t.yaml", {"training.scheduler=reduce_lr_on_plateau",
                                                                   "training.scheduler_kwargs.patience=0"}),
                               10)
                     .options(),
                 1e-3);
  for (double m : {0.1, 0.2, 0.3}) EXPECT_FALSE(rising.step(m));
  EXPECT_THROW(Plateau::from_attributes({{"plateau_lr", "1e-3"}}), UserError);
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
  EXPECT_THROW(parse_schedule("cosine_with_hard_restarts"), UserError);
}

TEST(Scheduler, RefusesArgumentsTheScheduleDoesNotTake) {
  auto refused = [](std::vector<std::string> sets, const std::string& part) {
    try {
      make_schedule(Config::from_yaml("{}", "t.yaml", sets), 10);
      ADD_FAILURE() << "accepted: " << join(sets, " ");
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  refused({"training.scheduler=linear", "training.scheduler_kwargs.num_cycles=2"},
          "training.scheduler_kwargs: 'num_cycles' is not an argument of the linear schedule (it takes none)");
  refused({"training.scheduler=polynomial", "training.scheduler_kwargs.num_cycles=2"},
          "(it takes lr_end, power)");
  refused({"training.scheduler=cosine", "training.scheduler_kwargs.num_cycles=two"},
          "num_cycles: expected a number >= 0, got 'two'");
  refused({"training.scheduler=polynomial", "training.learning_rate=1e-7"},
          "lr_end (1e-07) must be below training.learning_rate (1e-07)");
  refused({"training.scheduler=cosine_with_min_lr"}, "cosine_with_min_lr takes one of min_lr and min_lr_rate");
  refused({"training.scheduler=cosine_with_min_lr", "training.scheduler_kwargs.min_lr=1e-6",
           "training.scheduler_kwargs.min_lr_rate=0.1"},
          "cosine_with_min_lr takes one of min_lr and min_lr_rate");
  refused({"training.scheduler=warmup_stable_decay"}, "warmup_stable_decay needs num_decay_steps");
  refused({"training.scheduler=reduce_lr_on_plateau", "training.warmup_ratio=0.1"},
          "training.warmup_ratio: training.scheduler: reduce_lr_on_plateau has no warmup");
  refused({"training.scheduler=reduce_lr_on_plateau", "training.scheduler_kwargs.factor=1"}, "factor: must be below 1");
  refused({"training.scheduler=reduce_lr_on_plateau", "training.scheduler_kwargs.mode=maximum"},
          "mode: expected max or min, got 'maximum'");
  refused({"training.scheduler=reduce_lr_on_plateau", "training.scheduler_kwargs.patience=1.5"},
          "patience: expected a whole number of evaluations, got '1.5'");
  refused({"training.scheduler=reduce_lr_on_plateau", "training.scheduler_kwargs.num_cycles=1"},
          "(it takes cooldown, eps, factor, min_lr, mode, patience, threshold, threshold_mode)");
  refused({"training.scheduler=warmup_stable_decay", "training.scheduler_kwargs.num_decay_steps=2.5"},
          "num_decay_steps: expected a whole number of steps, got '2.5'");
  refused({"training.scheduler=warmup_stable_decay", "training.scheduler_kwargs.num_decay_steps=2",
           "training.scheduler_kwargs.decay_type=exp"},
          "decay_type: expected linear, cosine or 1-sqrt, got 'exp'");
  // Hugging Face's constant ignores a warmup; one asked for is refused.
  refused({"training.scheduler=constant", "training.warmup_ratio=0.1"},
          "training.warmup_ratio: training.scheduler: constant has no warmup");
  refused({"training.scheduler=constant", "training.warmup_steps=3"},
          "training.warmup_steps: training.scheduler: constant has no warmup");
  // Left at its default (0.1), warmup_ratio does not apply to constant.
  const LrSchedule c = make_schedule(Config::from_yaml("{}", "t.yaml", {"training.scheduler=constant"}), 10);
  EXPECT_EQ(c.warmup_steps(), 0);
  EXPECT_DOUBLE_EQ(c.factor(0), 1.0);
}

}  // namespace
}  // namespace disttune
