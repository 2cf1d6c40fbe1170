#include "server/stop_matcher.hpp"

#include <gtest/gtest.h>

namespace smol::server {
namespace {

// Feeds pieces one by one and returns everything released, as a client would see it.
std::string stream(StopMatcher& m, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += m.push(p);
  return out + m.flush();
}

TEST(StopMatcher, NoStopsPassesEverythingThrough) {
  StopMatcher m({});
  EXPECT_EQ(m.push("abc"), "abc");
  EXPECT_EQ(m.flush(), "");
  EXPECT_FALSE(m.matched());
}

TEST(StopMatcher, CutsBeforeAStopSplitAcrossPieces) {
  StopMatcher m({"\nUser:"});
  EXPECT_EQ(m.push("Hello"), "Hello");
  EXPECT_EQ(m.push(" there\nUs"), " there");  // "\nUs" could start the stop string: held
  EXPECT_EQ(m.push("er: hi"), "");
  EXPECT_TRUE(m.matched());
  EXPECT_EQ(m.push("more"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, ReleasesHeldTextThatTurnsOutNotToBeAStop) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.push("the EN"), "the ");
  EXPECT_EQ(m.push("D"), "");
  EXPECT_TRUE(m.matched());

  StopMatcher n({"END"});
  EXPECT_EQ(stream(n, {"the EN", "ding"}), "the ENding");
  EXPECT_FALSE(n.matched());
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
  StopMatcher m({"world", "lo w"});
  EXPECT_EQ(stream(m, {"hel", "lo world"}), "hel");
  EXPECT_TRUE(m.matched());
}

TEST(StopMatcher, HeldPrefixIsFlushedAtTheEnd) {
  StopMatcher m({"###"});
  EXPECT_EQ(stream(m, {"a#", "#"}), "a##");
  EXPECT_FALSE(m.matched());
}

TEST(StopMatcher, MultibyteStopStrings) {
  StopMatcher m({"日本"});
  EXPECT_EQ(stream(m, {"こんにちは日", "本語"}), "こんにちは");
  EXPECT_TRUE(m.matched());
}

}  // namespace
}  // namespace smol::server
