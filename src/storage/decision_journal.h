// The decision log's crash journal: the bytes of each accepted decision, appended to a plain
// file by the HTTP worker just before its responses are sent, in the same place where the
// feature log is committed. The SQLite writer drains its queue on its own schedule; a decision
// that was answered but not yet in SQLite when the process was killed is still in the journal
// (the kernel keeps what write() was given), and is replayed into SQLite at the next start.
//
// Record: u32 payload size | u64 checksum of the payload | payload, native byte order, where the
// payload is i64 timestamp_ms | i64 decided_ms | i64 server_time_us | f64 amount |
// f64 risk_score | then u32 length + bytes for transaction_id, currency, card_id, customer_id,
// merchant_id, risk_level, action, model_version and response_json. A torn last record (the
// process died mid-write) fails its size or checksum and ends the replay of that file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "storage/decision_log.h"

namespace fraudguard {

// Appends one record to `out`.
void EncodeJournalRecord(const DecisionRecord& record, std::string& out);

// Decodes the records of one journal file into `out` (appending). Returns the number of bytes of
// `data` that held whole, valid records; less than data.size() means a torn or corrupt tail.
size_t DecodeJournal(std::string_view data, std::vector<DecisionRecord>& out);

}  // namespace fraudguard
