// libFuzzer target for the IPC parser (built by scripts/fuzz with clang): every input is one
// datagram. Whatever Decode() accepts must encode back to exactly the same bytes (one parser,
// one encoding), and neither guard may accept a message that breaks its state rules.

#include <stdlib.h>

#include <cstdint>
#include <string>

#include "sftpd/server/ipc/ipc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sftplc::ipc;
  auto m = Decode(data, size);
  if (!m) {
    return 0;
  }
  std::string again = Encode(*m);
  if (again.size() != size || again.compare(0, size, reinterpret_cast<const char*>(data), size)) {
    abort();
  }
  WorkerGuard fresh;
  bool accepted = static_cast<bool>(fresh.Accept(*m, UINT64_MAX));
  if (accepted != std::holds_alternative<Ready>(*m)) {
    abort();  // only Ready may come first
  }
  TransportGuard transport(6);
  bool first = static_cast<bool>(transport.Accept(*m));
  bool may_come_first = std::holds_alternative<Password>(*m) ||
                        std::holds_alternative<PublicKey>(*m) || std::holds_alternative<Bye>(*m);
  if (first != may_come_first) {
    abort();  // a login attempt or a Bye, nothing else, before the login
  }
  return 0;
}
