#include "sftpd/core/base/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <unistd.h>

#include <mutex>

namespace sftplc {
namespace {

std::mutex g_mu;
spdlog::level::level_enum g_level = spdlog::level::info;

spdlog::sink_ptr StderrSink() {
  static spdlog::sink_ptr sink = [] {
    auto s = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(
        isatty(STDERR_FILENO) ? spdlog::color_mode::automatic : spdlog::color_mode::never);
    s->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %n: %v", spdlog::pattern_time_type::utc));
    return spdlog::sink_ptr(s);
  }();
  return sink;
}

}  // namespace

std::string LogSafe(std::string_view client_bytes, std::size_t max_bytes) {
  std::string out;
  std::string_view in = client_bytes.substr(0, max_bytes);
  out.reserve(in.size());
  for (char ch : in) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f || c == '\\') {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  if (client_bytes.size() > max_bytes) {
    out += "...";
  }
  return out;
}

Logger GetLogger(std::string_view name) {
  std::lock_guard lock(g_mu);
  std::string n(name);
  if (auto existing = spdlog::get(n)) {
    return existing;
  }
  auto logger = std::make_shared<spdlog::logger>(n, StderrSink());
  logger->set_level(g_level);
  spdlog::register_logger(logger);
  return logger;
}

bool SetLogLevel(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    return false;
  }
  std::lock_guard lock(g_mu);
  g_level = parsed;
  spdlog::set_level(parsed);
  return true;
}

}  // namespace sftplc
