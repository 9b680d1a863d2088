#include "tests/server/sftp/fuzz_harness.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sftpd/server/sftp/processor.h"
#include "sftpd/server/sftp/protocol.h"
#include "sftpd/server/sftp/request_observer.h"
#include "tests/server/sftp/sftp_wire.h"

namespace sftplc::sftp::testing {
namespace {

namespace fs = std::filesystem;
constexpr const char* kCanary = "canary: must never change";

void Substitute(std::string& s, std::string_view marker, const std::string& with) {
  if (with.size() != marker.size()) {
    return;
  }
  for (std::size_t at = s.find(marker); at != std::string::npos; at = s.find(marker, at + 1)) {
    s.replace(at, marker.size(), with);
  }
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What the processor tells its observer of each request: the status of its reply.
class StatusRecorder final : public RequestObserver {
 public:
  void OnRequest(const RequestOutcome& o) noexcept override {
    statuses.insert(statuses.end(), o.count, o.status);
  }
  void OnHandlesClosed(int) noexcept override {}
  std::vector<uint32_t> statuses;
};

// Appends, for each reply but VERSION (INIT is no request the observer hears of), the status an
// observer must be told: a STATUS reply's code, SSH_FX_OK for any other reply.
void AppendStatuses(const std::vector<Reply>& replies, std::vector<uint32_t>& statuses) {
  for (const Reply& r : replies) {
    if (r.type != kFxpVersion) {
      statuses.push_back(r.type == kFxpStatus ? r.status() : kFxOk);
    }
  }
}

// The checks on the replies of one OnData or Consume call: whole packets, at most one packet
// past `max_output`. Appends their types to `types` and their statuses to `statuses`
// (AppendStatuses). Returns what broke, or "".
std::string CheckReplies(const std::string& out, std::size_t max_output,
                         std::vector<uint8_t>& types, std::vector<uint32_t>& statuses) {
  bool whole = false;
  std::vector<Reply> replies = SplitReplies(out, &whole);
  for (const Reply& r : replies) {
    types.push_back(r.type);
  }
  AppendStatuses(replies, statuses);
  if (!whole) {
    return "replies are not whole packets";
  }
  if (out.size() > max_output + kMaxPacket + 4) {
    return "one call buffered " + std::to_string(out.size()) + " bytes of replies";
  }
  return "";
}

// Hands `stream` to Consume as the SFTP worker does (sftpd/sftp_worker_main.cc, Worker::Serve):
// reads of up to `read_size` bytes land in one buffer of kMaxPacket + 4 bytes after the bytes it
// holds, complete packets are handled in place until Consume takes none, and the rest moves to
// the front. Appends the reply types to `types`. Returns what broke, or "".
std::string ConsumeLikeTheWorker(Processor& p, const std::string& stream, std::size_t read_size,
                                 std::size_t max_output, std::vector<uint8_t>& types,
                                 std::vector<uint32_t>& statuses) {
  std::vector<uint8_t> buf(kMaxPacket + 4);
  std::size_t held = 0;
  std::string out;
  for (std::size_t at = 0; at < stream.size();) {
    if (held == buf.size()) {
      return "Consume left a full buffer with no room to read";
    }
    std::size_t n = std::min({read_size, buf.size() - held, stream.size() - at});
    std::memcpy(buf.data() + held, stream.data() + at, n);
    at += n;
    held += n;
    std::size_t start = 0;
    for (;;) {
      out.clear();
      Result<std::size_t> used = p.Consume(buf.data() + start, held - start, out);
      if (std::string why = CheckReplies(out, max_output, types, statuses); !why.empty()) {
        return why;
      }
      if (!used) {
        out.clear();
        return p.Consume(buf.data(), held, out) ? "a failed session accepted more data" : "";
      }
      if (*used > held - start) {
        return "Consume took more bytes than it was given";
      }
      if (*used == 0) {
        break;
      }
      start += *used;
    }
    std::memmove(buf.data(), buf.data() + start, held - start);
    held -= start;
  }
  return "";
}

}  // namespace

FuzzHarness::FuzzHarness(std::string storage) : storage_(std::move(storage)) {
  std::ofstream(storage_ + "/canary", std::ios::binary) << kCanary;
}

std::string FuzzHarness::Run(const uint8_t* data, std::size_t size) {
  if (size == 0) {
    return "";
  }
  const uint8_t mode = data[0];
  std::size_t chunk = size > 1 ? std::size_t{data[1]} + 1 : 1;
  std::string stream(reinterpret_cast<const char*>(data) + 1, size - 1);

  AccountId id = AccountId::New();
  std::string why;
  reply_types_.clear();
  std::vector<uint32_t> statuses;  // what the observer must be told, in order
  StatusRecorder recorder;
  {
    auto root = files::AccountRoot::Open(storage_, id);
    if (!root) {
      return "cannot open the account root: " + root.error().ToString();
    }
    Limits limits{.max_handles = 4, .max_output = 64 * 1024};
    // A logger with no sink output below "off" keeps the fuzzer quiet.
    Processor p(std::move(*root), limits, GetLogger("sftp-fuzz"), "[fuzz]", SystemClock::Instance(),
                &recorder);
    std::string out;
    bool failed = false;
    if (mode & (1 | kWithHandles)) {
      std::string prologue = InitPacket();
      if (mode & kWithHandles) {
        // Open a file and a directory, then put their handles where the input has the markers,
        // so the fuzzer reaches the handlers behind handle validation.
        prologue += Packet(3, Body().u32(1).str("f").u32(0x1b).u32(0));  // READ|WRITE|CREAT|TRUNC
        prologue += Packet(11, Body().u32(2).str("/"));
      }
      Status s = p.OnData(reinterpret_cast<const uint8_t*>(prologue.data()), prologue.size(), out);
      auto replies = SplitReplies(out);
      if (!s || replies.size() != ((mode & kWithHandles) ? 3u : 1u)) {
        return "the prologue failed";
      }
      AppendStatuses(replies, statuses);
      if (mode & kWithHandles) {
        if (replies[1].type != 102 || replies[2].type != 102) {
          return "the prologue got no handles";
        }
        Substitute(stream, kFileMarker, replies[1].StrAt(4));
        Substitute(stream, kDirMarker, replies[2].StrAt(4));
      }
    }
    auto feed = [&](const char* bytes, std::size_t n) {
      out.clear();
      Status s = p.OnData(reinterpret_cast<const uint8_t*>(bytes), n, out);
      if (failed && s) {
        why = "a failed session accepted more data";
      }
      if (!s) {
        failed = true;
      }
      if (std::string broke = CheckReplies(out, limits.max_output, reply_types_, statuses);
          !broke.empty()) {
        why = broke;
      }
    };
    switch ((mode >> 1) & 3) {
      case 1:
        for (std::size_t i = 0; i < stream.size() && why.empty(); ++i) {
          feed(stream.data() + i, 1);
        }
        break;
      case 2:
        for (std::size_t i = 0; i < stream.size() && why.empty(); i += chunk) {
          feed(stream.data() + i, std::min(chunk, stream.size() - i));
        }
        break;
      case 3:
        why = ConsumeLikeTheWorker(p, stream, chunk * 1024, limits.max_output, reply_types_,
                                   statuses);
        break;
      default:
        feed(stream.data(), stream.size());
        break;
    }
    for (int i = 0; i < 64 && why.empty() && p.HasPendingRequests(); ++i) {
      feed(nullptr, 0);
    }
    p.CloseAll();
  }
  if (why.empty() && recorder.statuses != statuses) {
    why = "the observer was told other statuses than the replies carried";
  }
  if (Slurp(storage_ + "/canary") != kCanary) {
    why = "the canary outside the root changed";
  }
  std::size_t entries = 0;
  for (const auto& e : fs::directory_iterator(storage_)) {
    (void)e;
    ++entries;
  }
  if (entries != 2) {
    why = "something was created next to the account root";
  }
  std::error_code ec;
  fs::remove_all(storage_ + "/" + id.str(), ec);
  return why;
}

}  // namespace sftplc::sftp::testing
