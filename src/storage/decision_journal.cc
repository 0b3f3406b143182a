#include "storage/decision_journal.h"

#include <cstdint>
#include <cstring>

#include "features/feature_log.h"

namespace fraudguard {
namespace {

// Far above any real record (a response body is bounded by the service), so that a corrupt size
// field cannot make the decoder read past what a record can be.
constexpr uint32_t kMaxPayloadBytes = 1U << 20;
constexpr size_t kHeaderBytes = sizeof(uint32_t) + sizeof(uint64_t);

template <typename T>
void Put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

void PutText(std::string& out, std::string_view text) {
  Put(out, static_cast<uint32_t>(text.size()));
  out.append(text);
}

class Reader {
public:
  explicit Reader(std::string_view data) : data_(data) {}

  template <typename T>
  bool Get(T& value) {
    if (data_.size() - pos_ < sizeof(T)) {
      return false;
    }
    std::memcpy(&value, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  bool GetText(std::string& text) {
    uint32_t size = 0;
    if (!Get(size) || data_.size() - pos_ < size) {
      return false;
    }
    text.assign(data_.data() + pos_, size);
    pos_ += size;
    return true;
  }

  bool at_end() const { return pos_ == data_.size(); }

private:
  std::string_view data_;
  size_t pos_ = 0;
};

bool DecodePayload(std::string_view payload, DecisionRecord& record) {
  Reader reader(payload);
  return reader.Get(record.timestamp_ms) && reader.Get(record.decided_ms) &&
         reader.Get(record.server_time_us) && reader.Get(record.amount) &&
         reader.Get(record.risk_score) && reader.GetText(record.transaction_id) &&
         reader.GetText(record.currency) && reader.GetText(record.card_id) &&
         reader.GetText(record.customer_id) && reader.GetText(record.merchant_id) &&
         reader.GetText(record.risk_level) && reader.GetText(record.action) &&
         reader.GetText(record.model_version) && reader.GetText(record.response_json) &&
         reader.at_end();
}

}  // namespace

void EncodeJournalRecord(const DecisionRecord& record, std::string& out) {
  const size_t start = out.size();
  out.resize(start + kHeaderBytes);  // filled in once the payload's size is known
  Put(out, record.timestamp_ms);
  Put(out, record.decided_ms);
  Put(out, record.server_time_us);
  Put(out, record.amount);
  Put(out, record.risk_score);
  for (const std::string* text : {&record.transaction_id, &record.currency, &record.card_id,
                                  &record.customer_id, &record.merchant_id, &record.risk_level,
                                  &record.action, &record.model_version, &record.response_json}) {
    PutText(out, *text);
  }
  const auto payload_size = static_cast<uint32_t>(out.size() - start - kHeaderBytes);
  const uint64_t checksum =
      Checksum64(std::string_view(out.data() + start + kHeaderBytes, payload_size));
  std::memcpy(out.data() + start, &payload_size, sizeof(payload_size));
  std::memcpy(out.data() + start + sizeof(payload_size), &checksum, sizeof(checksum));
}

size_t DecodeJournal(std::string_view data, std::vector<DecisionRecord>& out) {
  size_t pos = 0;
  while (data.size() - pos >= kHeaderBytes) {
    uint32_t payload_size = 0;
    uint64_t checksum = 0;
    std::memcpy(&payload_size, data.data() + pos, sizeof(payload_size));
    std::memcpy(&checksum, data.data() + pos + sizeof(payload_size), sizeof(checksum));
    if (payload_size > kMaxPayloadBytes || data.size() - pos - kHeaderBytes < payload_size) {
      break;
    }
    const std::string_view payload = data.substr(pos + kHeaderBytes, payload_size);
    DecisionRecord record;
    if (Checksum64(payload) != checksum || !DecodePayload(payload, record)) {
      break;
    }
    out.push_back(std::move(record));
    pos += kHeaderBytes + payload_size;
  }
  return pos;
}

}  // namespace fraudguard
