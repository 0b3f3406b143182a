#include <gtest/gtest.h>

#include "capacity/hpa_simulation.h"
#include "capacity/manifests.h"

namespace fraudguard::capacity {
namespace {

constexpr double kMonday = 1767571200;  // 2026-01-05T00:00:00Z

SimulationInput Constant(double load, double seconds, double capacity = 5000) {
  SimulationInput input;
  input.timestamps = {kMonday, kMonday + seconds};
  input.load = {load, load};
  input.replica_capacity = capacity;
  return input;
}

HpaPolicy NoFloor() {
  HpaPolicy policy;
  policy.min_replicas = 1;
  return policy;
}

TEST(HpaProposal, WithinTheToleranceNothingChanges) {
  EXPECT_EQ(HpaProposal(10, 1100, 1000, 0.1), 10);  // exactly +10 %
  EXPECT_EQ(HpaProposal(10, 900, 1000, 0.1), 10);   // exactly -10 %
  EXPECT_EQ(HpaProposal(10, 1000, 1000, 0.1), 10);
}

TEST(HpaProposal, JustOutsideTheToleranceItScalesWithCeil) {
  EXPECT_EQ(HpaProposal(10, 1100.5, 1000, 0.1), 12);  // ceil(11.005)
  EXPECT_EQ(HpaProposal(10, 899.5, 1000, 0.1), 9);    // ceil(8.995)
  EXPECT_EQ(HpaProposal(10, 1200, 1000, 0.1), 12);    // exactly 12, not 13
  EXPECT_EQ(HpaProposal(10, 500, 1000, 0.1), 5);
  EXPECT_EQ(HpaProposal(10, 1001, 1000, 0.0), 11);
  EXPECT_EQ(HpaProposal(3, 0.77, 0.70, 0.1), 3);  // 77 % CPU against 70 %: the documented edge
  EXPECT_EQ(HpaProposal(3, 0.63, 0.70, 0.1), 3);  // 63 %
  EXPECT_EQ(HpaProposal(3, 0.771, 0.70, 0.1), 4);
}

TEST(HpaSimulation, LoadAtTheToleranceEdgeKeepsReplicas) {
  SimulationInput input = Constant(11000, 600);
  input.initial_replicas = 10;
  auto at_edge = SimulateHpa(input, NoFloor());
  ASSERT_TRUE(at_edge) << at_edge.error();
  EXPECT_EQ(at_edge->max_replicas, 10);
  EXPECT_EQ(at_edge->scale_ups, 0);

  input.load = {11010, 11010};
  auto past_edge = SimulateHpa(input, NoFloor());
  ASSERT_TRUE(past_edge);
  EXPECT_EQ(past_edge->steps.front().replicas, 12);
  EXPECT_EQ(past_edge->scale_ups, 1);
}

TEST(HpaSimulation, ScaleUpIsRateLimitedAndNewPodsServeAfterStartup) {
  SimulationInput input = Constant(40000, 300);
  input.initial_replicas = 5;
  HpaPolicy policy = NoFloor();
  policy.startup_seconds = 30;
  auto result = SimulateHpa(input, policy);
  ASSERT_TRUE(result);
  // Double (or +4) per 15 s: 5 -> 10 -> 20 -> 40.
  EXPECT_EQ(result->steps[0].replicas, 10);
  EXPECT_EQ(result->steps[1].replicas, 20);
  EXPECT_EQ(result->steps[2].replicas, 40);
  EXPECT_EQ(result->steps[0].ready, 5);  // the first five new pods serve 30 s later
  EXPECT_EQ(result->steps[2].ready, 10);
  EXPECT_EQ(result->steps.back().ready, 40);
  // 40,000/s on 5 ready pods of 5,000/s each is 160 %: overloaded until pods start.
  EXPECT_FALSE(result->latency_objective_holds);
  EXPECT_DOUBLE_EQ(result->overloaded_seconds, 30);
  EXPECT_DOUBLE_EQ(result->first_overload, kMonday);
}

TEST(HpaSimulation, ScaleDownWaitsForTheStabilisationWindow) {
  SimulationInput input;
  input.replica_capacity = 5000;
  input.initial_replicas = 20;
  // 20,000/s for ten minutes, then a step down to 10,000/s.
  input.timestamps = {kMonday, kMonday + 600, kMonday + 600.001, kMonday + 1800};
  input.load = {20000, 20000, 10000, 10000};
  auto result = SimulateHpa(input, NoFloor());
  ASSERT_TRUE(result);
  const auto replicas_at = [&](double offset) {
    for (const SimulationStep& step : result->steps) {
      if (step.time >= kMonday + offset) {
        return step.replicas;
      }
    }
    return -1;
  };
  EXPECT_EQ(replicas_at(600), 20);
  EXPECT_EQ(replicas_at(885), 20);  // the 300 s window still holds a proposal of 20
  EXPECT_EQ(replicas_at(915), 18);  // then at most 10 % a minute: 20 -> 18
  EXPECT_EQ(replicas_at(975), 17);  // ceil(18 x 0.9) = 17
  // At 11 replicas the ratio is 10,000 / 11 / 1,000 = 0.91, inside the tolerance: it stays.
  EXPECT_EQ(result->steps.back().replicas, 11);
  EXPECT_TRUE(result->latency_objective_holds);
}

TEST(HpaSimulation, TheMaximumCapsAndOverloadIsReported) {
  SimulationInput input = Constant(30000, 600, 2000);
  HpaPolicy policy = NoFloor();
  policy.max_replicas = 10;
  auto result = SimulateHpa(input, policy);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->at_max);
  EXPECT_EQ(result->max_replicas, 10);
  EXPECT_FALSE(result->latency_objective_holds);
  EXPECT_NEAR(result->peak_utilisation, 30000.0 / (10 * 2000), 1e-9);
}

TEST(HpaSimulation, ScheduleFloorHoldsReplicasThroughBusinessHours) {
  SimulationInput input = Constant(1000, 86400);
  input.weekly_floor = WeeklyFloor(DefaultSchedules(), 5);
  auto result = SimulateHpa(input, HpaPolicy{});
  ASSERT_TRUE(result);
  const auto replicas_at = [&](double hour) {
    return result->steps[static_cast<size_t>(hour * 3600 / 15)].replicas;
  };
  EXPECT_EQ(replicas_at(7.9), 8);  // the Sunday-night weekend window runs to 08:00 Monday
  EXPECT_EQ(replicas_at(8.5), 5);  // low load: the base
  EXPECT_EQ(replicas_at(10), 20);  // business hours
  EXPECT_EQ(replicas_at(15), 40);  // peak hours
  EXPECT_LT(replicas_at(23), 20);  // shedding after 18:00, one pod or 10 % a minute
  EXPECT_TRUE(result->latency_objective_holds);
}

TEST(HpaSimulation, RefusesBadInput) {
  SimulationInput input = Constant(1000, 600);
  input.replica_capacity = 0;
  EXPECT_FALSE(SimulateHpa(input, HpaPolicy{}));
  input = Constant(1000, 600);
  input.load.pop_back();
  EXPECT_FALSE(SimulateHpa(input, HpaPolicy{}));
  input = Constant(1000, 40 * 86400.0);
  EXPECT_FALSE(SimulateHpa(input, HpaPolicy{}));
  HpaPolicy policy;
  policy.max_replicas = 2;  // below the minimum of 5
  EXPECT_FALSE(SimulateHpa(Constant(1000, 600), policy));
  input = Constant(1000, 600);
  input.weekly_floor = {1, 2, 3};
  EXPECT_FALSE(SimulateHpa(input, HpaPolicy{}));
}

}  // namespace
}  // namespace fraudguard::capacity
