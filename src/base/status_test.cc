#include "uswap/status.h"

#include <gtest/gtest.h>

namespace uswap {
namespace {

TEST(StatusTest, OkIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, FromErrnoMapsCodes) {
  EXPECT_TRUE(Status::FromErrno("open x", ENOENT).IsNotFound());
  EXPECT_TRUE(Status::FromErrno("write x", ENOSPC).IsNoSpace());
  EXPECT_TRUE(Status::FromErrno("flock x", EWOULDBLOCK).IsBusy());
  Status s = Status::FromErrno("read x", EIO);
  EXPECT_TRUE(s.IsIOError());
  EXPECT_NE(s.message().find("read x"), std::string::npos);
}

TEST(StatusTest, ResultCarriesValueOrError) {
  Result<int> a = 5;
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, 5);
  Result<int> b = Status::Corruption("bad magic");
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(b.status().IsCorruption());
  EXPECT_EQ(b.status().WithContext("f").message(), "f: bad magic");
}

Result<int> Twice(Result<int> r) {
  USWAP_ASSIGN_OR_RETURN(int v, std::move(r));
  return v * 2;
}

TEST(StatusTest, AssignOrReturnPropagates) {
  EXPECT_EQ(*Twice(4), 8);
  EXPECT_TRUE(Twice(Status::NoSpace("full")).status().IsNoSpace());
}

}  // namespace
}  // namespace uswap
