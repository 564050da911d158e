// userfaultfd feature check (audit F8): UFFD_FEATURE_POISON (Linux 6.6) was
// optional, but without it a poisoned page's fault was never woken (the
// faulting thread hung on any read error). Open now refuses a kernel that
// lacks any needed feature, with a message naming it; the check is a pure
// function of the UFFDIO_API answer, tested here on made-up answers.
#include <gtest/gtest.h>
#include <linux/userfaultfd.h>

#include <cstdint>
#include <string>

#include "fault/uffd.h"

#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif

namespace uswap {
namespace {

constexpr uint64_t kPoison = UFFD_FEATURE_POISON;
static_assert(kPoison == (uint64_t{1} << 14));
constexpr uint64_t kRequired = UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_MINOR_SHMEM |
                               UFFD_FEATURE_WP_HUGETLBFS_SHMEM | kPoison;

bool Mentions(const Status& st, const std::string& s) {
  return st.message().find(s) != std::string::npos;
}

TEST(UffdFeaturesTest, EveryRequiredFeaturePresentIsOk) {
  EXPECT_TRUE(Userfaultfd::CheckFeatures(kRequired, false).ok());
  EXPECT_TRUE(Userfaultfd::CheckFeatures(kRequired | UFFD_FEATURE_SIGBUS, true).ok());
  // Extra features do not matter.
  EXPECT_TRUE(Userfaultfd::CheckFeatures(~uint64_t{0}, true).ok());
  // SIGBUS is needed only for SIGBUS delivery.
  EXPECT_TRUE(Userfaultfd::CheckFeatures(kRequired & ~uint64_t{UFFD_FEATURE_SIGBUS}, false).ok());
}

TEST(UffdFeaturesTest, MissingPoisonIsNotSupportedNamingItAndTheKernel) {
  for (bool sigbus : {false, true}) {
    Status st = Userfaultfd::CheckFeatures((kRequired | UFFD_FEATURE_SIGBUS) & ~kPoison, sigbus);
    EXPECT_TRUE(st.IsNotSupported()) << st.ToString();
    EXPECT_TRUE(Mentions(st, "UFFD_FEATURE_POISON")) << st.ToString();
    EXPECT_TRUE(Mentions(st, "6.6")) << st.ToString();
  }
}

TEST(UffdFeaturesTest, EachMissingRequiredFeatureIsNamed) {
  const struct {
    uint64_t bit;
    const char* name;
  } kFeatures[] = {
      {UFFD_FEATURE_MISSING_SHMEM, "UFFD_FEATURE_MISSING_SHMEM"},
      {UFFD_FEATURE_MINOR_SHMEM, "UFFD_FEATURE_MINOR_SHMEM"},
      {UFFD_FEATURE_WP_HUGETLBFS_SHMEM, "UFFD_FEATURE_WP_HUGETLBFS_SHMEM"},
      {kPoison, "UFFD_FEATURE_POISON"},
  };
  for (const auto& f : kFeatures) {
    Status st = Userfaultfd::CheckFeatures(kRequired & ~f.bit, false);
    EXPECT_TRUE(st.IsNotSupported()) << f.name << ": " << st.ToString();
    EXPECT_TRUE(Mentions(st, f.name)) << st.ToString();
  }
  EXPECT_TRUE(Userfaultfd::CheckFeatures(0, false).IsNotSupported());
}

TEST(UffdFeaturesTest, SigbusDeliveryNeedsFeatureSigbus) {
  Status st = Userfaultfd::CheckFeatures(kRequired, true);
  EXPECT_TRUE(st.IsNotSupported()) << st.ToString();
  EXPECT_TRUE(Mentions(st, "UFFD_FEATURE_SIGBUS")) << st.ToString();
}

// This machine's kernel has everything: Open works in both modes.
TEST(UffdFeaturesTest, OpenSucceedsOnThisKernel) {
  for (bool sigbus : {false, true}) {
    Result<Userfaultfd> u = Userfaultfd::Open(sigbus);
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    EXPECT_GE(u->fd(), 0);
  }
}

}  // namespace
}  // namespace uswap
