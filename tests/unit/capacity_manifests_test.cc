#include <string>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "capacity/manifest_check.h"
#include "capacity/manifests.h"

namespace fraudguard::capacity {
namespace {

constexpr int kDay = 24 * 60;

std::vector<YAML::Node> Documents(const std::string& yaml) {
  std::vector<YAML::Node> out;
  for (const YAML::Node& node : YAML::LoadAll(yaml)) {
    if (!node.IsNull()) {
      out.push_back(node);
    }
  }
  return out;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  return text;
}

TEST(Schedules, DefaultsAreTheSpecificationsThree) {
  const auto schedules = DefaultSchedules();
  ASSERT_EQ(schedules.size(), 3u);
  EXPECT_EQ(StartCron(schedules[0]), "0 9 * * 1-5");
  EXPECT_EQ(EndCron(schedules[0]), "0 18 * * 1-5");
  EXPECT_EQ(schedules[0].replicas, 20);
  EXPECT_EQ(StartCron(schedules[1]), "0 14 * * 1-5");
  EXPECT_EQ(EndCron(schedules[1]), "0 18 * * 1-5");
  EXPECT_EQ(schedules[1].replicas, 40);
  // "6-7" becomes Saturday and Sunday as 0,6 (robfig/cron has no 7); ten hours from 22:00
  // ends the next morning.
  EXPECT_EQ(StartCron(schedules[2]), "0 22 * * 0,6");
  EXPECT_EQ(EndCron(schedules[2]), "0 8 * * 0,1");
  EXPECT_EQ(schedules[2].replicas, 8);
}

TEST(Schedules, WeeklyFloorTakesTheHighestActiveSchedule) {
  const std::vector<int> floor = WeeklyFloor(DefaultSchedules(), 5);
  const auto at = [&](int day, int hour, int minute) {
    return floor[static_cast<size_t>(day * kDay + hour * 60 + minute)];
  };
  EXPECT_EQ(at(1, 8, 59), 5);   // Monday before business hours
  EXPECT_EQ(at(1, 9, 0), 20);   // business hours
  EXPECT_EQ(at(1, 14, 0), 40);  // peak inside business hours
  EXPECT_EQ(at(1, 17, 59), 40);
  EXPECT_EQ(at(1, 18, 0), 5);
  EXPECT_EQ(at(6, 23, 0), 8);  // Saturday night
  EXPECT_EQ(at(0, 7, 59), 8);  // Sunday morning, still the Saturday window
  EXPECT_EQ(at(0, 8, 0), 5);
  EXPECT_EQ(at(1, 7, 0), 8);  // Monday morning, the Sunday window
}

TEST(Schedules, BadSchedulesAreRefusedWithTheReason) {
  const auto error = [](const char* text) {
    auto schedule = ParseSchedule(text);
    EXPECT_FALSE(schedule) << text;
    return schedule ? std::string() : schedule.error();
  };
  EXPECT_NE(error("a|0 9 * * 1-5|9h").find("expected name|cron|duration|replicas"),
            std::string::npos);
  EXPECT_NE(error("a|0 9 * 1-5|9h|3").find("needs 5 fields, got 4"), std::string::npos);
  EXPECT_NE(error("a|61 9 * * 1-5|9h|3").find("minute"), std::string::npos);
  EXPECT_NE(error("a|0 24 * * 1-5|9h|3").find("hour"), std::string::npos);
  EXPECT_NE(error("a|0 9 1 * 1-5|9h|3").find("only weekly"), std::string::npos);
  EXPECT_NE(error("a|0 9 * * 5-1|9h|3").find("low to high"), std::string::npos);
  EXPECT_NE(error("a|0 9 * * 8|9h|3").find("0-7"), std::string::npos);
  EXPECT_NE(error("a|0 9 * * 1|24h|3").find("same cron time"), std::string::npos);
  EXPECT_NE(error("a|0 9 * * 1|9x|3").find("unit"), std::string::npos);
  EXPECT_NE(error("a|0 9 * * 1|9h|0").find("replicas"), std::string::npos);
  EXPECT_NE(error("|0 9 * * 1|9h|3").find("name"), std::string::npos);
}

TEST(Manifests, KedaScaledObjectCarriesMetricsSchedulesAndBehaviour) {
  auto yaml = RenderManifests(ManifestOptions{});
  ASSERT_TRUE(yaml) << yaml.error();
  ASSERT_TRUE(CheckManifests(*yaml)) << CheckManifests(*yaml).error();
  const auto documents = Documents(*yaml);
  ASSERT_EQ(documents.size(), 1u);
  const YAML::Node spec = documents[0]["spec"];
  EXPECT_EQ(documents[0]["kind"].as<std::string>(), "ScaledObject");
  EXPECT_EQ(spec["minReplicaCount"].as<int>(), 5);
  EXPECT_EQ(spec["maxReplicaCount"].as<int>(), 100);
  const YAML::Node behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"];
  EXPECT_DOUBLE_EQ(behavior["scaleUp"]["tolerance"].as<double>(), 0.2);
  EXPECT_DOUBLE_EQ(behavior["scaleDown"]["tolerance"].as<double>(), 0.2);
  EXPECT_EQ(behavior["scaleDown"]["stabilizationWindowSeconds"].as<int>(), 300);
  const YAML::Node triggers = spec["triggers"];
  ASSERT_EQ(triggers.size(), 6u);
  EXPECT_EQ(triggers[0]["type"].as<std::string>(), "cpu");
  EXPECT_EQ(triggers[0]["metadata"]["value"].as<std::string>(), "70");
  EXPECT_EQ(triggers[1]["metadata"]["value"].as<std::string>(), "80");
  EXPECT_EQ(triggers[2]["type"].as<std::string>(), "prometheus");
  EXPECT_EQ(triggers[2]["metadata"]["threshold"].as<std::string>(), "1000");
  EXPECT_EQ(triggers[5]["type"].as<std::string>(), "cron");
  EXPECT_EQ(triggers[5]["metadata"]["start"].as<std::string>(), "0 22 * * 0,6");
  EXPECT_EQ(triggers[5]["metadata"]["desiredReplicas"].as<std::string>(), "8");
}

TEST(Manifests, HpaAndCronJobsWithoutKeda) {
  ManifestOptions options;
  options.keda = false;
  auto yaml = RenderManifests(options);
  ASSERT_TRUE(yaml) << yaml.error();
  ASSERT_TRUE(CheckManifests(*yaml)) << CheckManifests(*yaml).error();
  const auto documents = Documents(*yaml);
  const YAML::Node& hpa = documents[0];
  EXPECT_EQ(hpa["apiVersion"].as<std::string>(), "autoscaling/v2");
  EXPECT_EQ(hpa["kind"].as<std::string>(), "HorizontalPodAutoscaler");
  const YAML::Node metrics = hpa["spec"]["metrics"];
  ASSERT_EQ(metrics.size(), 3u);
  EXPECT_EQ(metrics[0]["resource"]["name"].as<std::string>(), "cpu");
  EXPECT_EQ(metrics[0]["resource"]["target"]["averageUtilization"].as<int>(), 70);
  EXPECT_EQ(metrics[1]["resource"]["name"].as<std::string>(), "memory");
  EXPECT_EQ(metrics[1]["resource"]["target"]["averageUtilization"].as<int>(), 80);
  EXPECT_EQ(metrics[2]["type"].as<std::string>(), "Pods");
  EXPECT_EQ(metrics[2]["pods"]["target"]["averageValue"].as<std::string>(), "1000");
  EXPECT_EQ(hpa["spec"]["minReplicas"].as<int>(), 5);
  EXPECT_EQ(hpa["spec"]["maxReplicas"].as<int>(), 100);

  // The CronJobs set the floor at every change: 08:00 (end of the weekend low) to 5,
  // 09:00 to 20, 14:00 to 40, 18:00 to 5 and 22:00 on weekends to 8.
  std::map<std::string, std::string> schedule_to_patch;
  for (const YAML::Node& document : documents) {
    if (document["kind"].as<std::string>() == "CronJob") {
      const YAML::Node container =
          document["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
      schedule_to_patch[document["spec"]["schedule"].as<std::string>()] =
          container["command"][8].as<std::string>();
    }
  }
  const std::map<std::string, std::string> expected = {
      {"0 8 * * 0,1", R"({"spec":{"minReplicas":5}})"},
      {"0 9 * * 1-5", R"({"spec":{"minReplicas":20}})"},
      {"0 14 * * 1-5", R"({"spec":{"minReplicas":40}})"},
      {"0 18 * * 1-5", R"({"spec":{"minReplicas":5}})"},
      {"0 22 * * 0,6", R"({"spec":{"minReplicas":8}})"}};
  EXPECT_EQ(schedule_to_patch, expected);
}

TEST(Manifests, OptionsAreBounded) {
  ManifestOptions options;
  options.max_replicas = 4;  // below the base of 5
  EXPECT_FALSE(RenderManifests(options));
  options = {};
  options.max_replicas = 30;  // peak hours asks for 40
  auto too_small = RenderManifests(options);
  ASSERT_FALSE(too_small);
  EXPECT_NE(too_small.error().find("peak_hours"), std::string::npos);
  options = {};
  options.name = "Fraud Guard";
  EXPECT_FALSE(RenderManifests(options));
  options = {};
  options.rps_query = "sum(rate(x[1m]))\nmalicious: true";
  EXPECT_FALSE(RenderManifests(options));
  options = {};
  options.cluster_tolerance = true;
  auto without = RenderManifests(options);
  ASSERT_TRUE(without);
  EXPECT_EQ(without->find("tolerance:"), std::string::npos);
}

class SchemaCheck : public ::testing::Test {
protected:
  void SetUp() override {
    ManifestOptions options;
    options.keda = false;
    hpa_ = *RenderManifests(options);
    keda_ = *RenderManifests(ManifestOptions{});
  }
  std::string hpa_;
  std::string keda_;
};

TEST_F(SchemaCheck, CatchesUnknownFieldsWithTheirPath) {
  const Status status = CheckManifests(
      Replace(hpa_, "stabilizationWindowSeconds: 300", "stabilisationWindowSeconds: 300"));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error(),
            "document 1 (HorizontalPodAutoscaler): "
            "spec.behavior.scaleDown.stabilisationWindowSeconds: unknown field");
}

TEST_F(SchemaCheck, CatchesMissingAndOutOfRangeFields) {
  EXPECT_NE(CheckManifests(Replace(hpa_, "  maxReplicas: 100\n", ""))
                .error()
                .find("spec.maxReplicas: required field is missing"),
            std::string::npos);
  EXPECT_NE(CheckManifests(Replace(hpa_, "maxReplicas: 100", "maxReplicas: 3"))
                .error()
                .find("greater than spec.maxReplicas"),
            std::string::npos);
  EXPECT_NE(CheckManifests(Replace(hpa_, "averageUtilization: 70", "averageUtilization: \"70\""))
                .error()
                .find("expected an integer"),
            std::string::npos);
  EXPECT_NE(CheckManifests(Replace(hpa_, "type: Utilization", "type: Percent"))
                .error()
                .find("not one of the allowed values"),
            std::string::npos);
  EXPECT_NE(CheckManifests(Replace(hpa_, "periodSeconds: 60", "periodSeconds: 3600"))
                .error()
                .find("outside 1-1800"),
            std::string::npos);
  EXPECT_NE(
      CheckManifests(Replace(hpa_, "apiVersion: autoscaling/v2", "apiVersion: autoscaling/v1"))
          .error()
          .find("should be autoscaling/v2"),
      std::string::npos);
  EXPECT_NE(CheckManifests(Replace(hpa_, "averageValue: \"1000\"", "averageValue: lots"))
                .error()
                .find("not a quantity"),
            std::string::npos);
}

TEST_F(SchemaCheck, CatchesKedaMistakes) {
  EXPECT_NE(CheckManifests(Replace(keda_, "value: \"70\"", "value: 70"))
                .error()
                .find("expected a string"),
            std::string::npos);
  EXPECT_NE(CheckManifests(Replace(keda_, "start: \"0 9 * * 1-5\"", "start: \"0 9 * *\""))
                .error()
                .find("not a 5-field cron expression"),
            std::string::npos);
  EXPECT_NE(CheckManifests(Replace(keda_, "end: \"0 18 * * 1-5\"", "end: \"0 9 * * 1-5\""))
                .error()
                .find("must differ from start"),
            std::string::npos);
  EXPECT_NE(CheckManifests(Replace(keda_, "        threshold: \"1000\"\n", ""))
                .error()
                .find("threshold: required field is missing"),
            std::string::npos);
}

TEST_F(SchemaCheck, CatchesBrokenYamlAndUnknownKinds) {
  EXPECT_NE(CheckManifests("a: [1, 2").error().find("not valid YAML"), std::string::npos);
  EXPECT_NE(CheckManifests("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n")
                .error()
                .find("'Pod' is not a kind the generator writes"),
            std::string::npos);
  EXPECT_FALSE(CheckManifests(""));
}

}  // namespace
}  // namespace fraudguard::capacity
