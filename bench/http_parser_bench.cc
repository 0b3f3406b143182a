// Parsing cost of a typical scoring request: a ~300-byte POST with 6 headers and a JSON body.
#include "api/http_parser.h"

#include <string>

#include <benchmark/benchmark.h>

namespace fraudguard::http {
namespace {

std::string TypicalScoreRequest() {
  const std::string body = R"({"transaction_id":"tx-000123","amount":129.95,"currency":"EUR",)"
                           R"("card_id":"card-77","merchant_id":"m-42","country":"DE"})";
  return "POST /v1/score HTTP/1.1\r\n"
         "Host: 127.0.0.1:8080\r\n"
         "User-Agent: payments-gateway/2.3\r\n"
         "Accept: application/json\r\n"
         "Content-Type: application/json\r\n"
         "X-Request-Id: 7f9c2ba4-e88f-11ee-a7b1-0242ac120002\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

void BM_ParseTypicalPost(benchmark::State& state) {
  const std::string wire = TypicalScoreRequest();
  RequestParser parser;
  Request request;
  for (auto _ : state) {
    parser.Reset();
    const ParseStatus status = parser.Parse(wire, request);
    benchmark::DoNotOptimize(status);
    benchmark::DoNotOptimize(request.body.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
  state.counters["request_bytes"] = static_cast<double>(wire.size());
}
BENCHMARK(BM_ParseTypicalPost);

// The same request arriving in two reads (head, then body), as over a slow link.
void BM_ParseTypicalPostInTwoReads(benchmark::State& state) {
  const std::string wire = TypicalScoreRequest();
  const std::string_view head = std::string_view(wire).substr(0, wire.find("\r\n\r\n") + 4);
  RequestParser parser;
  Request request;
  for (auto _ : state) {
    parser.Reset();
    benchmark::DoNotOptimize(parser.Parse(head, request));
    benchmark::DoNotOptimize(parser.Parse(wire, request));
  }
}
BENCHMARK(BM_ParseTypicalPostInTwoReads);

}  // namespace
}  // namespace fraudguard::http
