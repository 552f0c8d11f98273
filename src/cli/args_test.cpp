#include "cli/args.h"

#include <gtest/gtest.h>

#include "common/check.h"

namespace disttune {
namespace {

const CommandSpec kSpec{"encode", "", 0, 0, "Embed texts.",
                        {{"model", "DIR", "model dir", "", true},
                         {"batch-size", "N", "batch", "64"},
                         {"k", "LIST", "cut-offs", "1,10"},
                         {"set", "K=V", "override", "", false, true},
                         {"quiet", "", "no output", ""}}};

std::string error_of(const std::vector<std::string>& argv) {
  try {
    Args::parse(kSpec, argv);
  } catch (const UserError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(Args, ParsesValuesDefaultsAndSwitches) {
  Args a = Args::parse(kSpec, {"--model", "m", "--batch-size=8", "--set", "a=1", "--set", "b=2",
                               "--quiet"});
  EXPECT_EQ(a.get("model"), "m");
  EXPECT_EQ(a.get_int("batch-size"), 8);
  EXPECT_EQ(a.get_int_list("k"), (std::vector<int64_t>{1, 10}));
  EXPECT_EQ(a.get_all("set"), (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_TRUE(a.has("quiet"));
  EXPECT_FALSE(Args::parse(kSpec, {"--model", "m"}).has("quiet"));
}

TEST(Args, ErrorsNameTheCommandAndFlag) {
  EXPECT_EQ(error_of({}), "disttune encode: missing required option --model DIR");
  EXPECT_EQ(error_of({"--model", "m", "--batch", "3"}),
            "disttune encode: unknown option --batch (see disttune encode --help)");
  EXPECT_EQ(error_of({"--model"}), "disttune encode: option --model needs a value (DIR)");
  EXPECT_EQ(error_of({"--model", "m", "--model", "n"}),
            "disttune encode: option --model given more than once");
  EXPECT_EQ(error_of({"--model", "m", "extra"}), "disttune encode: unexpected argument 'extra'");
  Args a = Args::parse(kSpec, {"--model", "m", "--batch-size", "x8", "--k", "1,,3"});
  try {
    a.get_int("batch-size");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "disttune encode: --batch-size: expected an integer, got 'x8'");
  }
  EXPECT_THROW(a.get_int_list("k"), UserError);
}

TEST(Args, HelpListsEveryFlag) {
  const std::string h = command_help(kSpec);
  for (const char* s : {"usage: disttune encode", "--model DIR", "(required)", "--batch-size N",
                        "(default: 64)", "(repeatable)", "--help"})
    EXPECT_NE(h.find(s), std::string::npos) << s << "\n" << h;
  EXPECT_TRUE(Args::parse(kSpec, {"--help"}).help());
}

}  // namespace
}  // namespace disttune
