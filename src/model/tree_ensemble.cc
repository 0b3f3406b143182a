#include "model/tree_ensemble.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

namespace fraudguard {
namespace {

using simdjson::ondemand::array;
using simdjson::ondemand::json_type;
using simdjson::ondemand::object;
using simdjson::ondemand::value;

constexpr float kInfinity = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Returns early from the enclosing function when a Status or Result holds an error.
#define FG_RETURN_IF_ERROR(expr)         \
  do {                                   \
    if (auto status_ = (expr); !status_) \
      return Error{status_.error()};     \
  } while (false)

Error ModelError(std::string_view path, std::string_view problem) {
  std::string message = "xgboost model: ";
  message += path;
  message += ": ";
  message += problem;
  return Error{std::move(message)};
}

std::string Indexed(std::string_view path, size_t index) {
  std::string out(path);
  out += '[';
  out += std::to_string(index);
  out += ']';
  return out;
}

std::string Member(std::string_view path, std::string_view key) {
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

// The parts of one tree's JSON that the evaluator needs, as written (original node ids).
struct RawTree {
  std::vector<int32_t> left_children;
  std::vector<int32_t> right_children;
  std::vector<int32_t> split_indices;
  std::vector<float> split_conditions;
  std::vector<float> sum_hessian;
  std::vector<int32_t> default_left;
  std::vector<int32_t> split_type;
  size_t num_categories = 0;
  int64_t declared_num_nodes = -1;
};

struct RawModel {
  std::string objective;
  std::string booster;
  std::string base_score;
  std::string num_feature;
  std::string num_class = "0";
  int64_t declared_num_trees = -1;
  std::vector<int32_t> tree_info;
  std::vector<RawTree> trees;
  std::vector<std::string> feature_names;
  bool saw_trees = false;
};

Status ReadString(value v, std::string_view path, std::string& out) {
  std::string_view text;
  if (v.get_string().get(text)) {
    return ModelError(path, "expected a string");
  }
  out.assign(text);
  return OkStatus();
}

Status ReadFloatArray(value v, std::string_view path, std::vector<float>& out) {
  array items;
  if (v.get_array().get(items)) {
    return ModelError(path, "expected an array of numbers");
  }
  for (auto item : items) {
    double number = 0;
    if (item.get_double().get(number)) {
      return ModelError(Indexed(path, out.size()), "expected a number");
    }
    if (!(std::abs(number) <= std::numeric_limits<float>::max())) {
      return ModelError(Indexed(path, out.size()), "number is not a finite float");
    }
    if (out.size() >= kMaxNodesPerTree) {
      return ModelError(path, "too many entries");
    }
    out.push_back(static_cast<float>(number));
  }
  return OkStatus();
}

// Integers; booleans are accepted as 0/1 because older XGBoost versions wrote default_left so.
Status ReadIntArray(value v, std::string_view path, size_t max_size, std::vector<int32_t>& out) {
  array items;
  if (v.get_array().get(items)) {
    return ModelError(path, "expected an array of integers");
  }
  for (auto item : items) {
    json_type type;
    if (item.type().get(type)) {
      return ModelError(Indexed(path, out.size()), "malformed value");
    }
    int64_t number = 0;
    if (type == json_type::boolean) {
      bool flag = false;
      if (item.get_bool().get(flag)) {
        return ModelError(Indexed(path, out.size()), "malformed boolean");
      }
      number = flag ? 1 : 0;
    } else if (item.get_int64().get(number)) {
      return ModelError(Indexed(path, out.size()), "expected an integer");
    }
    if (number < std::numeric_limits<int32_t>::min() ||
        number > std::numeric_limits<int32_t>::max()) {
      return ModelError(Indexed(path, out.size()), "integer out of range");
    }
    if (out.size() >= max_size) {
      return ModelError(path, "too many entries");
    }
    out.push_back(static_cast<int32_t>(number));
  }
  return OkStatus();
}

size_t CountArray(value v, std::string_view path, Status& status) {
  array items;
  size_t count = 0;
  if (v.get_array().get(items) || items.count_elements().get(count)) {
    status = ModelError(path, "expected an array");
  }
  return count;
}

Status ReadTree(value v, std::string_view path, RawTree& tree) {
  object fields;
  if (v.get_object().get(fields)) {
    return ModelError(path, "expected an object");
  }
  bool saw_left = false;
  for (auto field_result : fields) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) {
      return ModelError(path, "malformed object");
    }
    const std::string field_path = Member(path, key);
    if (key == "left_children") {
      saw_left = true;
      FG_RETURN_IF_ERROR(
          ReadIntArray(field.value(), field_path, kMaxNodesPerTree, tree.left_children));
    } else if (key == "right_children") {
      FG_RETURN_IF_ERROR(
          ReadIntArray(field.value(), field_path, kMaxNodesPerTree, tree.right_children));
    } else if (key == "split_indices") {
      FG_RETURN_IF_ERROR(
          ReadIntArray(field.value(), field_path, kMaxNodesPerTree, tree.split_indices));
    } else if (key == "default_left") {
      FG_RETURN_IF_ERROR(
          ReadIntArray(field.value(), field_path, kMaxNodesPerTree, tree.default_left));
    } else if (key == "split_type") {
      FG_RETURN_IF_ERROR(
          ReadIntArray(field.value(), field_path, kMaxNodesPerTree, tree.split_type));
    } else if (key == "split_conditions") {
      FG_RETURN_IF_ERROR(ReadFloatArray(field.value(), field_path, tree.split_conditions));
    } else if (key == "sum_hessian") {
      FG_RETURN_IF_ERROR(ReadFloatArray(field.value(), field_path, tree.sum_hessian));
    } else if (key == "categories") {
      Status status = OkStatus();
      tree.num_categories = CountArray(field.value(), field_path, status);
      FG_RETURN_IF_ERROR(status);
    } else if (key == "tree_param") {
      object param;
      if (field.value().get_object().get(param)) {
        return ModelError(field_path, "expected an object");
      }
      std::string_view num_nodes;
      if (param.find_field_unordered("num_nodes").get_string().get(num_nodes)) {
        return ModelError(field_path, "missing string field num_nodes");
      }
      int64_t parsed = 0;
      const auto [end, error] =
          std::from_chars(num_nodes.data(), num_nodes.data() + num_nodes.size(), parsed);
      if (error != std::errc() || end != num_nodes.data() + num_nodes.size()) {
        return ModelError(Member(field_path, "num_nodes"), "not an integer");
      }
      tree.declared_num_nodes = parsed;
    }
  }
  if (!saw_left) {
    return ModelError(path, "missing left_children");
  }
  return OkStatus();
}

Status ReadGbtreeModel(value v, std::string_view path, RawModel& model) {
  object fields;
  if (v.get_object().get(fields)) {
    return ModelError(path, "expected an object");
  }
  for (auto field_result : fields) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) {
      return ModelError(path, "malformed object");
    }
    const std::string field_path = Member(path, key);
    if (key == "gbtree_model_param") {
      object param;
      std::string_view num_trees;
      if (field.value().get_object().get(param) ||
          param.find_field_unordered("num_trees").get_string().get(num_trees)) {
        return ModelError(field_path, "expected an object with string field num_trees");
      }
      int64_t parsed = 0;
      const auto [end, error] =
          std::from_chars(num_trees.data(), num_trees.data() + num_trees.size(), parsed);
      if (error != std::errc() || end != num_trees.data() + num_trees.size()) {
        return ModelError(Member(field_path, "num_trees"), "not an integer");
      }
      model.declared_num_trees = parsed;
    } else if (key == "tree_info") {
      FG_RETURN_IF_ERROR(ReadIntArray(field.value(), field_path, kMaxTrees, model.tree_info));
    } else if (key == "trees") {
      model.saw_trees = true;
      array trees;
      if (field.value().get_array().get(trees)) {
        return ModelError(field_path, "expected an array of trees");
      }
      for (auto tree : trees) {
        if (model.trees.size() >= kMaxTrees) {
          return ModelError(field_path, "more than " + std::to_string(kMaxTrees) + " trees");
        }
        value tree_value;
        if (std::move(tree).get(tree_value)) {
          return ModelError(Indexed(field_path, model.trees.size()), "malformed value");
        }
        RawTree raw;
        FG_RETURN_IF_ERROR(ReadTree(tree_value, Indexed(field_path, model.trees.size()), raw));
        model.trees.push_back(std::move(raw));
      }
    }
  }
  return OkStatus();
}

Status ReadGradientBooster(value v, std::string_view path, RawModel& model) {
  object fields;
  if (v.get_object().get(fields)) {
    return ModelError(path, "expected an object");
  }
  for (auto field_result : fields) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) {
      return ModelError(path, "malformed object");
    }
    if (key == "name") {
      FG_RETURN_IF_ERROR(ReadString(field.value(), Member(path, key), model.booster));
    } else if (key == "model") {
      FG_RETURN_IF_ERROR(ReadGbtreeModel(field.value(), Member(path, key), model));
    }
  }
  return OkStatus();
}

Status ReadLearner(value v, std::string_view path, RawModel& model) {
  object fields;
  if (v.get_object().get(fields)) {
    return ModelError(path, "expected an object");
  }
  for (auto field_result : fields) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) {
      return ModelError(path, "malformed object");
    }
    const std::string field_path = Member(path, key);
    if (key == "feature_names") {
      array names;
      if (field.value().get_array().get(names)) {
        return ModelError(field_path, "expected an array of strings");
      }
      for (auto name : names) {
        std::string_view text;
        if (name.get_string().get(text)) {
          return ModelError(Indexed(field_path, model.feature_names.size()), "expected a string");
        }
        if (model.feature_names.size() >= kMaxFeatures) {
          return ModelError(field_path, "too many feature names");
        }
        model.feature_names.emplace_back(text);
      }
    } else if (key == "gradient_booster") {
      FG_RETURN_IF_ERROR(ReadGradientBooster(field.value(), field_path, model));
    } else if (key == "learner_model_param") {
      object param;
      if (field.value().get_object().get(param)) {
        return ModelError(field_path, "expected an object");
      }
      for (auto param_result : param) {
        simdjson::ondemand::field param_field;
        std::string_view param_key;
        if (std::move(param_result).get(param_field) ||
            param_field.unescaped_key().get(param_key)) {
          return ModelError(field_path, "malformed object");
        }
        const std::string param_path = Member(field_path, param_key);
        if (param_key == "base_score") {
          FG_RETURN_IF_ERROR(ReadString(param_field.value(), param_path, model.base_score));
        } else if (param_key == "num_feature") {
          FG_RETURN_IF_ERROR(ReadString(param_field.value(), param_path, model.num_feature));
        } else if (param_key == "num_class") {
          FG_RETURN_IF_ERROR(ReadString(param_field.value(), param_path, model.num_class));
        }
      }
    } else if (key == "objective") {
      object objective;
      std::string_view name;
      if (field.value().get_object().get(objective) ||
          objective.find_field_unordered("name").get_string().get(name)) {
        return ModelError(field_path, "expected an object with string field name");
      }
      model.objective.assign(name);
    }
  }
  return OkStatus();
}

template <typename Number>
bool ParseWhole(std::string_view text, Number& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<TreeEnsemble> TreeEnsemble::FromXgboostJson(std::string_view json) {
  if (json.size() > kMaxModelJsonBytes) {
    return ModelError("document", "larger than " + std::to_string(kMaxModelJsonBytes) + " bytes");
  }
  const simdjson::padded_string padded(json);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document document;
  if (auto error = parser.iterate(padded).get(document)) {
    return ModelError("document", simdjson::error_message(error));
  }
  object root;
  if (document.get_object().get(root)) {
    return ModelError("document", "expected a JSON object");
  }
  RawModel raw;
  bool saw_learner = false;
  for (auto field_result : root) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (auto error = std::move(field_result).get(field)) {
      return ModelError("document", simdjson::error_message(error));
    }
    if (field.unescaped_key().get(key)) {
      return ModelError("document", "malformed key");
    }
    if (key == "learner") {
      saw_learner = true;
      FG_RETURN_IF_ERROR(ReadLearner(field.value(), "learner", raw));
    }
  }
  if (!saw_learner) {
    return ModelError("document", "missing learner");
  }

  // Model-level checks.
  if (raw.objective != "binary:logistic" && raw.objective != "reg:logistic") {
    return ModelError("learner.objective.name", "unsupported objective '" + raw.objective +
                                                    "' (binary:logistic or reg:logistic expected)");
  }
  if (raw.booster != "gbtree") {
    return ModelError("learner.gradient_booster.name",
                      "unsupported booster '" + raw.booster + "' (gbtree expected)");
  }
  size_t num_features = 0;
  if (!ParseWhole(raw.num_feature, num_features) || num_features == 0 ||
      num_features > kMaxFeatures) {
    return ModelError("learner.learner_model_param.num_feature",
                      "expected an integer in [1, " + std::to_string(kMaxFeatures) + "], got '" +
                          raw.num_feature + "'");
  }
  if (raw.num_class != "0" && raw.num_class != "1") {
    return ModelError("learner.learner_model_param.num_class",
                      "multi-class models are not supported (num_class " + raw.num_class + ")");
  }
  float base_score = 0;
  if (!ParseWhole(raw.base_score, base_score) || !(base_score > 0.0F && base_score < 1.0F)) {
    return ModelError(
        "learner.learner_model_param.base_score",
        "expected a probability strictly between 0 and 1, got '" + raw.base_score + "'");
  }
  if (!raw.saw_trees) {
    return ModelError("learner.gradient_booster.model", "missing trees");
  }
  if (raw.declared_num_trees != static_cast<int64_t>(raw.trees.size())) {
    return ModelError("learner.gradient_booster.model.gbtree_model_param.num_trees",
                      "declares " + std::to_string(raw.declared_num_trees) + " trees but " +
                          std::to_string(raw.trees.size()) + " are present");
  }
  if (raw.tree_info.size() != raw.trees.size()) {
    return ModelError("learner.gradient_booster.model.tree_info",
                      "has " + std::to_string(raw.tree_info.size()) + " entries for " +
                          std::to_string(raw.trees.size()) + " trees");
  }
  for (size_t i = 0; i < raw.tree_info.size(); ++i) {
    if (raw.tree_info[i] != 0) {
      return ModelError(Indexed("learner.gradient_booster.model.tree_info", i),
                        "output group must be 0 (single-output model)");
    }
  }
  if (!raw.feature_names.empty() && raw.feature_names.size() != num_features) {
    return ModelError("learner.feature_names", "has " + std::to_string(raw.feature_names.size()) +
                                                   " names for " + std::to_string(num_features) +
                                                   " features");
  }

  TreeEnsemble ensemble;
  ensemble.num_features_ = num_features;
  // XGBoost turns the probability base_score into a margin with the objective's inverse link,
  // in float.
  ensemble.base_margin_ = -std::log(1.0F / base_score - 1.0F);
  ensemble.feature_names_ = std::move(raw.feature_names);
  ensemble.trees_.reserve(raw.trees.size());

  std::vector<int32_t> order;      // original node ids in breadth-first order
  std::vector<int32_t> new_index;  // original id -> breadth-first index, -1 if unreached
  std::vector<uint32_t> depth_of;  // by breadth-first index
  std::vector<float> hessian_of;   // by breadth-first index
  for (size_t t = 0; t < raw.trees.size(); ++t) {
    const RawTree& tree = raw.trees[t];
    const std::string path = Indexed("learner.gradient_booster.model.trees", t);
    const size_t n = tree.left_children.size();
    if (n == 0) {
      return ModelError(Member(path, "left_children"), "tree has no nodes");
    }
    const auto check_size = [&](size_t size, std::string_view name) -> Status {
      if (size != n) {
        return ModelError(Member(path, name), "has " + std::to_string(size) + " entries but " +
                                                  "left_children has " + std::to_string(n));
      }
      return OkStatus();
    };
    FG_RETURN_IF_ERROR(check_size(tree.right_children.size(), "right_children"));
    FG_RETURN_IF_ERROR(check_size(tree.split_indices.size(), "split_indices"));
    FG_RETURN_IF_ERROR(check_size(tree.split_conditions.size(), "split_conditions"));
    FG_RETURN_IF_ERROR(check_size(tree.default_left.size(), "default_left"));
    FG_RETURN_IF_ERROR(check_size(tree.sum_hessian.size(), "sum_hessian"));
    if (tree.declared_num_nodes != -1 && tree.declared_num_nodes != static_cast<int64_t>(n)) {
      return ModelError(Member(path, "tree_param.num_nodes"),
                        "declares " + std::to_string(tree.declared_num_nodes) + " nodes but " +
                            std::to_string(n) + " are present");
    }
    if (tree.num_categories != 0 || std::any_of(tree.split_type.begin(), tree.split_type.end(),
                                                [](int32_t s) { return s != 0; })) {
      return ModelError(path, "categorical splits are not supported");
    }
    if (ensemble.nodes_.size() + n > kMaxTotalNodes) {
      return ModelError(path, "ensemble exceeds " + std::to_string(kMaxTotalNodes) + " nodes");
    }

    // Breadth-first renumbering: the children of a split get consecutive indices. Every node may
    // be reached once; a second arrival means a cycle or a shared child. Unreachable nodes (XGBoost
    // keeps pruned nodes as deleted entries) are dropped.
    order.assign(1, 0);
    new_index.assign(n, -1);
    new_index[0] = 0;
    depth_of.assign(1, 0);
    uint32_t tree_depth = 0;
    for (size_t pos = 0; pos < order.size(); ++pos) {
      const int32_t id = order[pos];
      const int32_t left = tree.left_children[id];
      const int32_t right = tree.right_children[id];
      const std::string node_path = Indexed(Member(path, "nodes"), static_cast<size_t>(id));
      if (left == -1 && right == -1) {
        tree_depth = std::max(tree_depth, depth_of[pos]);
        continue;
      }
      for (const int32_t child : {left, right}) {
        if (child <= 0 || static_cast<size_t>(child) >= n) {
          return ModelError(node_path, "child index " + std::to_string(child) + " out of range");
        }
        if (new_index[child] != -1) {
          return ModelError(node_path, "child " + std::to_string(child) +
                                           " is reached twice (cycle or shared subtree)");
        }
      }
      if (left == right) {
        return ModelError(node_path, "both children are node " + std::to_string(left));
      }
      if (depth_of[pos] + 1 > kMaxTreeDepth) {
        return ModelError(node_path,
                          "tree deeper than " + std::to_string(kMaxTreeDepth) + " levels");
      }
      const int32_t feature = tree.split_indices[id];
      if (feature < 0 || static_cast<size_t>(feature) >= num_features) {
        return ModelError(node_path, "split feature " + std::to_string(feature) + " outside [0, " +
                                         std::to_string(num_features) + ")");
      }
      new_index[left] = static_cast<int32_t>(order.size());
      order.push_back(left);
      depth_of.push_back(depth_of[pos] + 1);
      new_index[right] = static_cast<int32_t>(order.size());
      order.push_back(right);
      depth_of.push_back(depth_of[pos] + 1);
    }

    TreeSpan span{static_cast<uint32_t>(ensemble.nodes_.size()), tree_depth};
    hessian_of.resize(order.size());
    for (size_t pos = 0; pos < order.size(); ++pos) {
      const int32_t id = order[pos];
      const float hessian = tree.sum_hessian[id];
      hessian_of[pos] = hessian;
      if (!(hessian >= 0.0F)) {
        return ModelError(Indexed(Member(path, "sum_hessian"), static_cast<size_t>(id)),
                          "negative or not a number");
      }
      Node node{};
      if (tree.left_children[id] == -1) {
        node.threshold = kNaN;
        node.value_slot = 0;
        node.left = static_cast<uint32_t>(span.first_node + pos);
        node.leaf_value = tree.split_conditions[id];
      } else {
        if (!(hessian > 0.0F)) {
          return ModelError(Indexed(Member(path, "sum_hessian"), static_cast<size_t>(id)),
                            "a split needs a positive hessian sum");
        }
        node.threshold = tree.split_conditions[id];
        node.value_slot = 2 * static_cast<uint32_t>(tree.split_indices[id]) +
                          (tree.default_left[id] != 0 ? 0 : 1);
        node.left = span.first_node + static_cast<uint32_t>(new_index[tree.left_children[id]]);
        node.leaf_value = 0.0F;
      }
      ensemble.nodes_.push_back(node);
    }

    // Mean values bottom-up (children always come after their parent), with XGBoost's float
    // operation order so that Explain reproduces its numbers.
    const size_t first = span.first_node;
    std::vector<float>& means = ensemble.node_mean_values_;
    means.resize(ensemble.nodes_.size());
    for (size_t pos = order.size(); pos-- > 0;) {
      const Node& node = ensemble.nodes_[first + pos];
      if (node.left == first + pos) {
        means[first + pos] = node.leaf_value;
        continue;
      }
      const size_t left = node.left - first;
      float mean = means[first + left] * hessian_of[left];
      mean += means[first + left + 1] * hessian_of[left + 1];
      mean /= hessian_of[pos];
      means[first + pos] = mean;
    }
    // What each step down the tree credits to the split's feature: the child's mean less its
    // parent's. The root is reached by no step.
    std::vector<float>& credits = ensemble.node_credits_;
    credits.resize(ensemble.nodes_.size(), 0.0F);
    for (size_t pos = 0; pos < order.size(); ++pos) {
      const Node& node = ensemble.nodes_[first + pos];
      if (node.left != first + pos) {
        credits[node.left] = means[node.left] - means[first + pos];
        credits[node.left + 1] = means[node.left + 1] - means[first + pos];
      }
    }
    ensemble.root_mean_sum_ += means[first];
    ensemble.max_depth_ = std::max<size_t>(ensemble.max_depth_, tree_depth);
    ensemble.trees_.push_back(span);
  }

  for (size_t group = 0; group < ensemble.trees_.size() / kTreesPerGroup; ++group) {
    uint32_t depth = 0;
    for (size_t lane = 0; lane < kTreesPerGroup; ++lane) {
      depth = std::max(depth, ensemble.trees_[group * kTreesPerGroup + lane].depth);
    }
    ensemble.group_depths_.push_back(depth);
  }
  return ensemble;
}

namespace {

// Writes the two value slots of every feature (see Node::value_slot): the value itself in both,
// or for a missing value -infinity (sorts left of every finite threshold) in the first and
// +infinity (sorts right) in the second.
void ExpandValues(std::span<const float> features, float* slots) {
  for (size_t f = 0; f < features.size(); ++f) {
    const float value = features[f];
    const bool missing = std::isnan(value);
    slots[2 * f] = missing ? -kInfinity : value;
    slots[2 * f + 1] = missing ? kInfinity : value;
  }
}

// Per-thread scratch for ExpandValues: grows to the largest feature count once, then is reused.
float* SlotBuffer(size_t num_features) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < 2 * num_features) {
    buffer.resize(2 * num_features);
  }
  return buffer.data();
}

// One step down a tree from the node at absolute index `index`; a leaf returns itself (its NaN
// threshold makes the comparison false and it is its own left child). XGBoost's rule "value <
// threshold goes left" is "value >= threshold goes right" for the non-NaN slot values.
inline uint32_t Step(const TreeEnsemble::Node* nodes, const float* slots, uint32_t index) {
  const TreeEnsemble::Node& node = nodes[index];
  return node.left + static_cast<uint32_t>(slots[node.value_slot] >= node.threshold);
}

}  // namespace

template <typename OnStep>
float TreeEnsemble::Walk(const float* slots, OnStep on_step) const {
  const Node* nodes = nodes_.data();
  float margin = base_margin_;
  // Trees are walked kTreesPerGroup at a time in lockstep: each walk is a chain of dependent
  // loads, and interleaving independent chains lets the CPU overlap their latencies. Leaves
  // point at themselves, so walking a group to its deepest leaf is harmless for shallower trees.
  const size_t grouped_trees = group_depths_.size() * kTreesPerGroup;
  for (size_t group = 0; group < group_depths_.size(); ++group) {
    const TreeSpan* spans = &trees_[group * kTreesPerGroup];
    uint32_t index[kTreesPerGroup];
#pragma GCC unroll 8
    for (size_t lane = 0; lane < kTreesPerGroup; ++lane) {
      index[lane] = spans[lane].first_node;
    }
    for (uint32_t level = 0; level < group_depths_[group]; ++level) {
#pragma GCC unroll 8
      for (size_t lane = 0; lane < kTreesPerGroup; ++lane) {
        const uint32_t next = Step(nodes, slots, index[lane]);
        on_step(index[lane], next);
        index[lane] = next;
      }
    }
    // Summed in tree order, as XGBoost does.
#pragma GCC unroll 8
    for (size_t lane = 0; lane < kTreesPerGroup; ++lane) {
      margin += nodes[index[lane]].leaf_value;
    }
  }
  for (size_t tree = grouped_trees; tree < trees_.size(); ++tree) {
    uint32_t index = trees_[tree].first_node;
    for (uint32_t level = 0; level < trees_[tree].depth; ++level) {
      const uint32_t next = Step(nodes, slots, index);
      on_step(index, next);
      index = next;
    }
    margin += nodes[index].leaf_value;
  }
  return margin;
}

float TreeEnsemble::PredictMargin(std::span<const float> features) const {
  if (features.size() != num_features_) {
    return kNaN;
  }
  float* slots = SlotBuffer(num_features_);
  ExpandValues(features, slots);
  return Walk(slots, [](uint32_t /*from*/, uint32_t /*to*/) {});
}

float TreeEnsemble::PredictProbability(std::span<const float> features) const {
  const float margin = PredictMargin(features);
  // XGBoost's logistic transform, clamped so that exp cannot overflow.
  return 1.0F / (1.0F + std::exp(std::min(-margin, 88.7F)));
}

float TreeEnsemble::Explain(std::span<const float> features, std::span<float> contributions) const {
  if (features.size() != num_features_ || contributions.size() != num_features_ + 1) {
    return kNaN;
  }
  std::fill(contributions.begin(), contributions.end(), 0.0F);
  float* slots = SlotBuffer(num_features_);
  ExpandValues(features, slots);
  const Node* nodes = nodes_.data();
  const float* credits = node_credits_.data();
  float* credited = contributions.data();
  // Each step credits the split's feature with the change of the subtree mean. A walk parked at
  // its leaf steps to itself and credits nothing (a leaf's slot is feature 0, which gets +0).
  const float margin = Walk(slots, [&](uint32_t from, uint32_t to) {
    credited[nodes[from].value_slot / 2] += to != from ? credits[to] : 0.0F;
  });
  contributions[num_features_] = root_mean_sum_ + base_margin_;
  return margin;
}

}  // namespace fraudguard
