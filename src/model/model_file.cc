#include "model/model_file.h"

#include <simdjson.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "core/json_writer.h"

namespace fraudguard {
namespace {

Error FileError(std::string_view field, std::string_view problem) {
  std::string message = "model file: field '";
  message += field;
  message += "': ";
  message += problem;
  return Error{std::move(message)};
}

bool IsDigits(std::string_view text, size_t begin, size_t count) {
  if (begin + count > text.size()) {
    return false;
  }
  for (size_t i = begin; i < begin + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
  }
  return true;
}

int TwoDigits(std::string_view text, size_t begin) {
  return (text[begin] - '0') * 10 + (text[begin + 1] - '0');
}

Status ReadThreshold(simdjson::ondemand::object& thresholds, const char* name, double& out) {
  const std::string field = std::string("thresholds.") + name;
  if (thresholds.find_field_unordered(name).get_double().get(out)) {
    return FileError(field, "missing or not a number");
  }
  if (!(out >= 0.0 && out <= 100.0)) {
    return FileError(field, "must be a risk score between 0 and 100");
  }
  return OkStatus();
}

}  // namespace

bool IsRfc3339Timestamp(std::string_view text) {
  // 2024-05-01T12:00:00
  if (text.size() < 20 || !IsDigits(text, 0, 4) || text[4] != '-' || !IsDigits(text, 5, 2) ||
      text[7] != '-' || !IsDigits(text, 8, 2) || (text[10] != 'T' && text[10] != 't') ||
      !IsDigits(text, 11, 2) || text[13] != ':' || !IsDigits(text, 14, 2) || text[16] != ':' ||
      !IsDigits(text, 17, 2)) {
    return false;
  }
  const int month = TwoDigits(text, 5);
  const int day = TwoDigits(text, 8);
  if (month < 1 || month > 12 || day < 1 || day > 31 || TwoDigits(text, 11) > 23 ||
      TwoDigits(text, 14) > 59 || TwoDigits(text, 17) > 60) {
    return false;
  }
  size_t pos = 19;
  if (text[pos] == '.') {
    ++pos;
    const size_t digits_begin = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      ++pos;
    }
    if (pos == digits_begin || pos >= text.size()) {
      return false;
    }
  }
  const std::string_view zone = text.substr(pos);
  if (zone == "Z" || zone == "z") {
    return true;
  }
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && IsDigits(zone, 1, 2) &&
         zone[3] == ':' && IsDigits(zone, 4, 2) && TwoDigits(zone, 1) <= 23 &&
         TwoDigits(zone, 4) <= 59;
}

Result<ModelFile> ParseModelFile(std::string_view text) {
  if (text.size() > kMaxModelJsonBytes) {
    return FileError("(document)", "larger than " + std::to_string(kMaxModelJsonBytes) + " bytes");
  }
  const simdjson::padded_string padded(text);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document document;
  simdjson::ondemand::object root;
  if (auto error = parser.iterate(padded).get(document)) {
    return FileError("(document)", simdjson::error_message(error));
  }
  if (document.get_object().get(root)) {
    return FileError("(document)", "expected a JSON object");
  }

  ModelFile file;
  std::string format;
  int64_t format_version = -1;
  std::string xgboost_json;
  bool has_thresholds = false;
  std::set<std::string, std::less<>> seen;
  for (auto field_result : root) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (auto error = std::move(field_result).get(field)) {
      return FileError("(document)", simdjson::error_message(error));
    }
    if (field.unescaped_key().get(key)) {
      return FileError("(document)", "malformed key");
    }
    if (!seen.emplace(key).second) {
      return FileError(key, "appears twice");
    }
    simdjson::ondemand::value value = field.value();
    if (key == "format") {
      std::string_view name;
      if (value.get_string().get(name)) {
        return FileError(key, "expected a string");
      }
      format.assign(name);
    } else if (key == "format_version") {
      if (value.get_int64().get(format_version)) {
        return FileError(key, "expected an integer");
      }
    } else if (key == "version") {
      std::string_view version;
      if (value.get_string().get(version)) {
        return FileError(key, "expected a string");
      }
      file.version.assign(version);
    } else if (key == "created_at") {
      std::string_view created_at;
      if (value.get_string().get(created_at)) {
        return FileError(key, "expected a string");
      }
      file.created_at.assign(created_at);
    } else if (key == "features") {
      simdjson::ondemand::array names;
      if (value.get_array().get(names)) {
        return FileError(key, "expected an array of strings");
      }
      std::set<std::string, std::less<>> unique;
      for (auto name_result : names) {
        const std::string element = "features[" + std::to_string(file.feature_names.size()) + "]";
        std::string_view name;
        if (name_result.get_string().get(name)) {
          return FileError(element, "expected a string");
        }
        if (name.empty() || name.size() > kMaxFeatureNameLength) {
          return FileError(element, "feature names must have 1 to " +
                                        std::to_string(kMaxFeatureNameLength) + " characters");
        }
        if (!unique.emplace(name).second) {
          return FileError(element, "duplicate feature name '" + std::string(name) + "'");
        }
        if (file.feature_names.size() >= kMaxFeatures) {
          return FileError(key, "more than " + std::to_string(kMaxFeatures) + " features");
        }
        file.feature_names.emplace_back(name);
      }
    } else if (key == "thresholds") {
      simdjson::ondemand::object thresholds;
      if (value.get_object().get(thresholds)) {
        return FileError(key, "expected an object with medium and high");
      }
      if (auto status = ReadThreshold(thresholds, "medium", file.medium_threshold); !status) {
        return Error{status.error()};
      }
      if (auto status = ReadThreshold(thresholds, "high", file.high_threshold); !status) {
        return Error{status.error()};
      }
      has_thresholds = true;
    } else if (key == "metadata") {
      simdjson::ondemand::object metadata;
      std::string_view raw;
      if (value.get_object().get(metadata) || metadata.raw_json().get(raw)) {
        return FileError(key, "expected a JSON object");
      }
      file.metadata_json.assign(raw);
    } else if (key == "xgboost") {
      simdjson::ondemand::object model;
      std::string_view raw;
      if (value.get_object().get(model) || model.raw_json().get(raw)) {
        return FileError(key, "expected the XGBoost JSON model object");
      }
      xgboost_json.assign(raw);
    } else {
      return FileError(key, "unknown field");
    }
  }
  if (format != "fraudguard-model") {
    return FileError("format", "expected \"fraudguard-model\"");
  }
  if (format_version != kModelFileFormatVersion) {
    return FileError("format_version", "unsupported (this build reads version " +
                                           std::to_string(kModelFileFormatVersion) + ")");
  }
  if (file.version.empty() || file.version.size() > kMaxModelVersionLength) {
    return FileError("version",
                     "must have 1 to " + std::to_string(kMaxModelVersionLength) + " characters");
  }
  for (const char c : file.version) {
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) {
      return FileError("version", "must be printable ASCII without spaces");
    }
  }
  if (!IsRfc3339Timestamp(file.created_at)) {
    return FileError("created_at", "missing or not an RFC 3339 timestamp");
  }
  if (seen.count("features") == 0) {
    return FileError("features", "missing");
  }
  if (!has_thresholds) {
    return FileError("thresholds", "missing");
  }
  if (file.medium_threshold > file.high_threshold) {
    return FileError("thresholds", "medium must not exceed high");
  }
  // The metadata was only skipped over above; make sure it is valid JSON before keeping it.
  if (seen.count("metadata") != 0) {
    simdjson::dom::parser metadata_parser;
    simdjson::dom::element unused;
    if (auto error = metadata_parser.parse(file.metadata_json).get(unused)) {
      return FileError("metadata", simdjson::error_message(error));
    }
  }
  if (xgboost_json.empty()) {
    return FileError("xgboost", "missing");
  }
  auto ensemble = TreeEnsemble::FromXgboostJson(xgboost_json);
  if (!ensemble) {
    return FileError("xgboost", ensemble.error());
  }
  if (ensemble->num_features() != file.feature_names.size()) {
    return FileError("features", "lists " + std::to_string(file.feature_names.size()) +
                                     " features but the model uses " +
                                     std::to_string(ensemble->num_features()));
  }
  const std::vector<std::string>& model_names = ensemble->feature_names();
  for (size_t i = 0; i < model_names.size(); ++i) {
    if (model_names[i] != file.feature_names[i]) {
      return FileError("features[" + std::to_string(i) + "]",
                       "is '" + file.feature_names[i] + "' but the model was trained with '" +
                           model_names[i] + "'");
    }
  }
  file.ensemble = std::move(ensemble).value();
  return file;
}

Result<ModelFile> LoadModelFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{"model file " + path + ": cannot open"};
  }
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0 || static_cast<uint64_t>(size) > kMaxModelJsonBytes) {
    return Error{"model file " + path + ": unreadable or larger than " +
                 std::to_string(kMaxModelJsonBytes) + " bytes"};
  }
  in.seekg(0, std::ios::beg);
  std::string text(static_cast<size_t>(size), '\0');
  if (!in.read(text.data(), size)) {
    return Error{"model file " + path + ": read failed"};
  }
  auto file = ParseModelFile(text);
  if (!file) {
    return Error{path + ": " + file.error()};
  }
  return file;
}

std::string SerializeModelFile(const ModelFile& file, std::string_view xgboost_json) {
  std::string out;
  out.reserve(xgboost_json.size() + file.metadata_json.size() + 512);
  JsonWriter writer(out);
  writer.BeginObject()
      .Field("format", "fraudguard-model")
      .Field("format_version", kModelFileFormatVersion)
      .Field("version", file.version)
      .Field("created_at", file.created_at)
      .Key("features")
      .BeginArray();
  for (const std::string& name : file.feature_names) {
    writer.String(name);
  }
  writer.EndArray()
      .Key("thresholds")
      .BeginObject()
      .Field("medium", file.medium_threshold)
      .Field("high", file.high_threshold)
      .EndObject()
      .Key("metadata")
      .Raw(file.metadata_json.empty() ? std::string_view("{}") : file.metadata_json)
      .Key("xgboost")
      .Raw(xgboost_json)
      .EndObject();
  out.push_back('\n');
  return out;
}

}  // namespace fraudguard
