// TreeEnsemble: FraudGuard's own evaluator for gradient-boosted tree models trained by XGBoost.
//
// XGBoost's JSON model is parsed and validated once, then every tree is renumbered breadth-first
// into one flat array of 16-byte nodes (the two children of a split are adjacent) and the trees
// are laid out back to back. Prediction walks groups of trees in lockstep for a fixed number of
// levels, one comparison per step and no data-dependent branch: a leaf points at itself, so walks
// that reach a leaf early stay there. See bench/model_eval_bench.cc for the cost.
//
// Results match XGBoost's CPU predictor: `value < threshold` goes left, NaN (missing) goes the
// split's default direction, and the margin is accumulated in float in tree order starting from
// the base margin.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace fraudguard {

// Limits applied when loading a model; anything larger is rejected as malformed.
inline constexpr size_t kMaxModelJsonBytes = size_t{1} << 30;
inline constexpr size_t kMaxTrees = 20000;
inline constexpr size_t kMaxTreeDepth = 32;
inline constexpr size_t kMaxNodesPerTree = size_t{1} << 20;
inline constexpr size_t kMaxTotalNodes = size_t{1} << 25;
inline constexpr size_t kMaxFeatures = size_t{1} << 16;

class TreeEnsemble {
public:
  // An empty ensemble: no features, no trees, margin 0. Useful only as a placeholder.
  TreeEnsemble() = default;

  // Parses XGBoost's JSON model format (XGBoosterSaveModel to a ".json" path, or
  // XGBoosterSaveModelToBuffer with {"format":"json"}). Accepts a gbtree booster with objective
  // binary:logistic or reg:logistic, numerical splits only, one output group.
  static Result<TreeEnsemble> FromXgboostJson(std::string_view json);

  size_t num_features() const { return num_features_; }
  size_t num_trees() const { return trees_.size(); }
  // learner.feature_names; empty when the model was trained without names.
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  // The margin every prediction starts from (logit of XGBoost's base_score).
  float base_margin() const { return base_margin_; }
  // Deepest leaf of the whole ensemble (root only = 0).
  size_t max_depth() const { return max_depth_; }

  // features.size() must equal num_features(); NaN means missing. Returns NaN when the size is
  // wrong (a caller bug, checked once per call because it is cheap).
  float PredictMargin(std::span<const float> features) const;
  // The logistic of PredictMargin.
  float PredictProbability(std::span<const float> features) const;

  // Per-feature contributions to the margin by path attribution, the numbers XGBoost returns for
  // pred_contribs with approx_contribs: each node's value is the hessian-weighted mean of its
  // children, and every split on the decision path credits (child value - node value) to its
  // feature. contributions.size() must equal num_features() + 1; the last entry is the bias (base
  // margin plus every tree's root value). The contributions sum to the margin, which is returned.
  // Returns NaN and leaves `contributions` untouched when a size is wrong.
  float Explain(std::span<const float> features, std::span<float> contributions) const;

  // One node of the flat layout. Public so that the layout's size can be checked at compile time.
  struct Node {
    // Splits send a value right when value >= threshold (XGBoost: value < threshold goes left).
    // Always finite for splits; NaN for leaves, so that no value compares greater-or-equal.
    float threshold;
    // Where the split reads its value: 2 * feature + (1 if missing values go right, else 0).
    // Before walking, each feature's value is written to both of its slots, and a missing value
    // becomes -infinity in slot 0 and +infinity in slot 1, so one comparison also handles the
    // default direction. 0 for leaves.
    uint32_t value_slot;
    // Index into the ensemble's node array of the left child; the right child is left + 1. A
    // leaf points at itself.
    uint32_t left;
    // The leaf's output (learning rate already applied by XGBoost); 0 for splits.
    float leaf_value;
  };
  static_assert(sizeof(Node) == 16);

private:
  // Trees walked together by PredictMargin (see there).
  static constexpr size_t kTreesPerGroup = 8;

  struct TreeSpan {
    uint32_t first_node;  // index into nodes_ of the tree's root
    uint32_t depth;       // levels to walk from the root to reach any leaf
  };

  size_t num_features_ = 0;
  size_t max_depth_ = 0;
  float base_margin_ = 0.0F;
  std::vector<std::string> feature_names_;
  std::vector<Node> nodes_;
  std::vector<TreeSpan> trees_;
  // Per full group of kTreesPerGroup consecutive trees: the deepest of their depths.
  std::vector<uint32_t> group_depths_;
  // Walks every tree for `slots` (see ExpandValues), calling on_step(from, to) for each step,
  // and returns the margin.
  template <typename OnStep>
  float Walk(const float* slots, OnStep on_step) const;

  // Parallel to nodes_, for Explain: the hessian-weighted mean output of each node's subtree,
  // and what reaching the node credits to its parent's split feature (its mean less the
  // parent's; 0 for roots).
  std::vector<float> node_mean_values_;
  std::vector<float> node_credits_;
  // The roots' means summed in tree order: Explain's bias term before the base margin.
  float root_mean_sum_ = 0.0F;
};

}  // namespace fraudguard
