// The cost of sftpd's metrics on the SFTP hot path: PrometheusMetrics::OnRequest for a WRITE
// (request counter, bytes counter), from one thread and from two at once (sessions run on
// their own threads and share the counters). docs/monitoring.md "Cost" quotes it.

#include <benchmark/benchmark.h>

#include "sftpd/core/base/clock.h"
#include "sftpd/server/prometheus_metrics.h"
#include "sftpd/server/sftp/protocol.h"

namespace {

sftplc::server::PrometheusMetrics& Metrics() {
  static sftplc::server::PrometheusMetrics m(sftplc::SystemClock::Instance(), sftplc::Seconds(60));
  return m;
}

void BM_OnRequestWrite(benchmark::State& state) {
  sftplc::sftp::RequestOutcome o;
  o.type = sftplc::sftp::kFxpWrite;
  o.status = sftplc::sftp::kFxOk;
  o.bytes_in = 32768;
  for (auto _ : state) {
    Metrics().OnRequest(o);
  }
}
BENCHMARK(BM_OnRequestWrite)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
